# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class AccountOnlineInstitution(models.Model):
    _name = "account.online.institution"
    _description = "Bank Offered by an Aggregator"
    _order = "name, id"

    # Searched by name among tens of thousands of banks: a trigram index.
    name = fields.Char(required=True, index="trigram")
    provider_id = fields.Many2one("account.online.provider", required=True, ondelete="cascade", index=True)
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

    _identifier_uniq = models.UniqueIndex(
        "(provider_id, identifier)",
        "An aggregator lists each bank once.",
    )
