# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging

from odoo import http
from odoo.exceptions import AccessError, UserError
from odoo.http import request

from .. import providers
from ..models.account_online_link import CALLBACK_ROUTE, BankSyncError
from ..models.account_online_provider import WEBHOOK_ROUTE

_logger = logging.getLogger(__name__)


class OnlineSynchronizationController(http.Controller):

    @http.route(CALLBACK_ROUTE, type="http", auth="user", methods=["GET"], readonly=False)
    def consent_callback(self, **params):
        """Where the bank sends the user back after the consent (same tab).
        The ``state`` says which request this is; anything but the user's own
        request, unused and in time, gets a page that says why, and changes
        nothing."""
        consent_request, refusal = request.env["account.online.consent.request"]._find_for_return(
            params.get("state"),
        )
        if not consent_request:
            return self._consent_page(refusal, status=400)
        # Back on the connection, the user chooses the accounts to synchronize.
        link = consent_request.sudo().link_id.with_user(request.env.user).with_company(
            consent_request.sudo().link_id.company_id,
        ).with_context(online_sync_choose_accounts=True)
        try:
            link._complete_consent_request(consent_request, params)
        except BankSyncError as error:
            return self._consent_page(str(error), link=link)  # with its reference
        except (UserError, AccessError) as error:
            return self._consent_page(error.args[0], link=link)
        return request.redirect(f"/odoo/action-account_online_synchronization.action_account_online_link/{link.id}")

    def _consent_page(self, message, link=None, status=200):
        back_url = (f"/odoo/action-account_online_synchronization.action_account_online_link/{link.id}"
                    if link else "/odoo/action-account_online_synchronization.action_account_online_link")
        return request.render("account_online_synchronization.consent_return_page", {
            "message": message,
            "back_url": back_url,
        }, status=status)

    @http.route(f"{WEBHOOK_ROUTE}/<int:provider_id>", type="http", auth="public", methods=["POST"],
                csrf=False, save_session=False, readonly=False)
    def aggregator_notification(self, provider_id):
        """Notifications pushed by an aggregator (Plaid's webhooks). Only
        what the aggregator signed, recently, is acted upon."""
        provider = request.env["account.online.provider"].sudo().browse(provider_id).exists()
        if not provider or not provider.active or not provider.has_webhooks:
            return request.make_response("Not found", status=404)
        headers = {key.lower(): value for key, value in request.httprequest.headers.items()}
        try:
            provider._receive_notification(headers, request.httprequest.get_data())
        except providers.ProviderUnreachable as error:
            # The key to check it with could not be fetched: the aggregator sends it again later.
            _logger.warning("Notification for aggregator %s not checked: %s", provider.id, error.message)
            return request.make_response("Try again later", status=503)
        except providers.ProviderError as error:
            _logger.warning("Notification refused for aggregator %s: %s", provider.id, error.message)
            return request.make_response("Refused", status=400)
        return request.make_response("OK", status=200)
