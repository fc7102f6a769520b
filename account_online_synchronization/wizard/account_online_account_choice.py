# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..models.account_online_link import FROM_DIALOG


class AccountOnlineAccountChoice(models.TransientModel):
    """After the consent (and on Fetch Accounts): the user ticks the bank
    accounts to synchronize and, for each, the journal it feeds."""

    _name = "account.online.account.choice"
    _description = "Choose the Accounts to Synchronize"

    link_id = fields.Many2one("account.online.link", string="Connection", required=True, readonly=True)
    line_ids = fields.One2many("account.online.account.choice.line", "choice_id", string="Bank Accounts")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        context = self.env.context
        link = self.env["account.online.link"].browse(context.get("online_sync_link_id")).exists()
        if not link:
            return values
        accounts = link.account_online_account_ids.filtered(
            lambda account: account.id in (context.get("online_sync_account_ids") or [])
            and not account.journal_ids
        )
        taken = self.env["account.journal"]
        lines = []
        for account in accounts:
            journal = account._suggest_journal(preferred=link.requested_journal_id, taken=taken)
            if journal:
                taken |= journal
            lines.append(fields.Command.create({
                "online_account_id": account.id,
                "selected": True,
                "journal_id": journal and journal.id,
                "suggested_journal_id": journal and journal.id,
            }))
        values.update(link_id=link.id, line_ids=lines)
        return values

    def action_synchronize(self):
        """Link the ticked accounts to their journals (a new journal where
        none is chosen), then run their first synchronization."""
        self.ensure_one()
        link = self.link_id
        link._check_can_configure()
        chosen = self.line_ids.filtered("selected")
        if not chosen:
            raise UserError(_("Tick the bank accounts to synchronize."))
        if len(chosen.journal_id) < len(chosen.filtered("journal_id")):
            raise UserError(_("Each bank account needs its own journal: choose a journal once only."))
        for line in chosen:
            if line.online_account_id.journal_ids:
                raise UserError(_("%(account)s is synchronized already.", account=line.online_account_id.name))
            if line.journal_id:
                line.online_account_id._check_journal_choice(line.journal_id)
        for line in chosen:
            line.online_account_id._link_journal(line.journal_id or None)
        link.sudo().write({"account_choice_pending": False, "requested_journal_id": False})
        link = link.with_context(**{FROM_DIALOG: True})
        return link._notify_synchronized(link._fetch_transactions())
