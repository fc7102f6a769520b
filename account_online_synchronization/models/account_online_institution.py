# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, api, fields, models


class AccountOnlineInstitution(models.Model):
    _name = "account.online.institution"
    _description = "Bank Offered by an Aggregator"
    _order = "name, id"
    # Users look a bank up by its name or by its BIC.
    _rec_names_search = ["name", "bic"]

    # Searched by name among tens of thousands of banks: a trigram index.
    name = fields.Char(required=True, index="trigram")
    provider_id = fields.Many2one(
        "account.online.provider", string="Aggregator", required=True, ondelete="cascade", index=True,
    )
    identifier = fields.Char(
        string="Provider's Identifier",
        required=True,
        help="How the aggregator names this bank.",
    )
    active = fields.Boolean(default=True)
    country_ids = fields.Many2many("res.country", string="Countries")
    bic = fields.Char(string="BIC", index=True)
    logo_url = fields.Char(string="Logo URL")
    is_beta = fields.Boolean(string="Beta", help="The aggregator's connection to this bank is still in beta.")
    history_days = fields.Integer(
        string="History Depth (days)",
        default=90,
        help="How far back the bank gives transactions on the first synchronization.",
    )
    auto_sync_allowed = fields.Boolean(
        string="Automatic Synchronization Allowed",
        default=True,
        help="Some banks only allow synchronizations started by a user.",
    )
    daily_refresh_limit = fields.Integer(
        string="Refreshes per Day",
        help="How many times a day the bank may be asked for new transactions (0: no limit).",
    )
    daily_refresh_limit_label = fields.Char(
        string="Refreshes a Day", compute="_compute_daily_refresh_limit_label",
    )

    @api.depends("daily_refresh_limit")
    def _compute_daily_refresh_limit_label(self):
        for institution in self:
            institution.daily_refresh_limit_label = (
                str(institution.daily_refresh_limit) if institution.daily_refresh_limit else _("No limit")
            )

    @api.depends("name", "provider_id", "is_beta")
    @api.depends_context("online_sync_bank_picker")
    def _compute_display_name(self):
        if not self.env.context.get("online_sync_bank_picker"):
            return super()._compute_display_name()
        # In the picker, banks of several aggregators side by side: say whose each is.
        for institution in self:
            beta = _(", Beta") if institution.is_beta else ""
            institution.display_name = f"{institution.name} ({institution.provider_id.name}{beta})"

    _identifier_uniq = models.UniqueIndex(
        "(provider_id, identifier)",
        "An aggregator lists each bank once.",
    )
