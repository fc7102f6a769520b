# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime as dt
import hashlib
import secrets

from odoo import _, api, fields, models

# How long a user has to give their consent at the bank and come back.
CONSENT_REQUEST_VALIDITY = dt.timedelta(minutes=30)


def _digest(state):
    return hashlib.sha256(state.encode()).hexdigest()


class AccountOnlineConsentRequest(models.Model):
    """One trip of a user to their bank's consent page.

    The ``state`` the bank sends back is random, good for one return, for
    the user who left, for a limited time. Only its digest is stored: whoever
    reads the database cannot come back in someone's name. Nobody reads these
    records but the synchronization (sudo).
    """

    _name = "account.online.consent.request"
    _description = "Bank Consent Request"
    _order = "id desc"

    link_id = fields.Many2one("account.online.link", required=True, ondelete="cascade", index=True)
    user_id = fields.Many2one("res.users", required=True, ondelete="cascade")
    state_digest = fields.Char(required=True)
    expires_at = fields.Datetime(required=True)
    used_at = fields.Datetime()
    # The aggregator's ids of the request (ConnectStep.data), handed back when the user returns.
    connect_data = fields.Json()
    # Renewing the login of the current consent (Update Credentials) rather than making a new one.
    renews_consent = fields.Boolean()

    _state_digest_uniq = models.UniqueIndex("(state_digest)")

    @api.model
    def _new_state(self):
        return secrets.token_urlsafe(32)

    @api.model
    def _open(self, link, state, connect_data, renews_consent):
        return self.sudo().create({
            "link_id": link.id,
            "user_id": self.env.uid,
            "state_digest": _digest(state),
            "expires_at": fields.Datetime.now() + CONSENT_REQUEST_VALIDITY,
            "connect_data": connect_data or {},
            "renews_consent": renews_consent,
        })

    @api.model
    def _find_for_return(self, state):
        """The request ``state`` belongs to, when the current user may come
        back with it now; else (None, why not). Changes nothing."""
        if not isinstance(state, str) or not state:
            return None, _("This address carries no connection request. Start the connection again from Odoo.")
        request = self.sudo().search([("state_digest", "=", _digest(state))], limit=1)
        if not request:
            return None, _("This connection request is unknown. Start the connection again from Odoo.")
        if request.used_at:
            return None, _("This connection request was already used. Start the connection again from Odoo.")
        if request.expires_at < fields.Datetime.now():
            return None, _(
                "This connection request expired: the bank must be answered within %(minutes)s minutes. "
                "Start the connection again from Odoo.",
                minutes=int(CONSENT_REQUEST_VALIDITY.total_seconds() // 60),
            )
        if request.user_id != self.env.user:
            return None, _(
                "This connection was started by another user: only %(user)s can complete it.",
                user=request.user_id.name,
            )
        return request, None

    @api.autovacuum
    def _gc_consent_requests(self):
        self.sudo().search([("expires_at", "<", fields.Datetime.now() - dt.timedelta(days=1))]).unlink()
