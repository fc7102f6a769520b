# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..models.account_online_link import FROM_DIALOG


class AccountOnlineConnectWizard(models.TransientModel):
    _name = "account.online.connect.wizard"
    _description = "Add a Bank Account"

    country_id = fields.Many2one(
        "res.country",
        default=lambda self: self.env.company.country_id or self.env.company.account_fiscal_country_id,
        help="Only the banks of this country are offered: clear it to search them all.",
    )
    provider_id = fields.Many2one(
        "account.online.provider",
        string="Aggregator",
        domain="[('institution_ids', '!=', False)]",
        help="Leave it empty to search the banks of every aggregator.",
    )
    # One search over every configured aggregator's banks, by name or BIC.
    institution_id = fields.Many2one(
        "account.online.institution",
        string="Bank",
        required=True,
        domain="[('provider_id', '=?', provider_id), ('country_ids', '=?', country_id)]",
        context={"online_sync_bank_picker": True},
    )
    institution_provider_id = fields.Many2one(related="institution_id.provider_id", string="Through")
    is_beta = fields.Boolean(related="institution_id.is_beta")
    history_days = fields.Integer(related="institution_id.history_days")
    # Reconnecting a connection of an aggregator that connects with a token.
    link_id = fields.Many2one("account.online.link", string="Connection")
    setup_token_label = fields.Char(related="institution_id.provider_id.setup_token_label")
    setup_token = fields.Char(help="The token the aggregator gave you to connect Odoo: paste it as it is.")
    # The company's registration, asked at its first connection.
    phone_required = fields.Boolean(compute="_compute_phone_required")
    phone = fields.Char(
        string="Phone Number",
        help="Asked once for the company, at its first bank connection. An administrator confirms it to "
        "reactivate a connection that was blocked.",
    )
    # Started from a bank journal's card: the journal to feed.
    journal_id = fields.Many2one(
        "account.journal", string="Into Journal", readonly=True,
        default=lambda self: self.env.context.get("online_sync_journal_id"),
    )

    @api.depends_context("company")
    def _compute_phone_required(self):
        self.phone_required = not self.env.company.sudo().account_online_phone

    @api.onchange("provider_id", "country_id")
    def _onchange_filters(self):
        institution = self.institution_id
        if institution and (
            (self.provider_id and institution.provider_id != self.provider_id)
            or (self.country_id and self.country_id not in institution.country_ids)
        ):
            self.institution_id = False

    def action_connect(self):
        self.ensure_one()
        # Refused before anything is created.
        self.env["account.online.link"]._check_database_allows_sync()
        if self.phone_required:
            company = self.env.company
            company.sudo().account_online_phone = company._online_sync_normalize_phone(self.phone)
        if self.setup_token_label and not (self.setup_token or "").strip():
            raise UserError(_("Paste the %(token)s first.", token=self.setup_token_label))
        if not self.link_id:
            # Kept by the wizard: a failed attempt (told and committed) is retried
            # on the same connection, not on a new one each time.
            self.link_id = self.env["account.online.link"].create({
                "institution_id": self.institution_id.id,
                "company_id": self.env.company.id,
                "requested_journal_id": self.journal_id.id,
            })
        # The user chooses the accounts; from Configuration they then land on
        # the new connection, from a journal's card they stay on the dashboard.
        link = self.link_id.with_context(
            online_sync_choose_accounts=True, online_sync_open_connection=not self.journal_id, **{FROM_DIALOG: True},
        )
        if self.setup_token_label:
            return link._connect_with_token(self.setup_token)
        return link.action_connect()

    def action_enter_account_number(self):
        """Odoo's own Bank Setup: the account number typed by hand, no feed."""
        self.ensure_one()
        return self.journal_id._action_configure_bank_by_hand()
