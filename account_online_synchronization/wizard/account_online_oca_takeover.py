# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

# OCA's online import (account_statement_import_online): never a dependency,
# so its model and fields are looked up, never declared here.
OCA_PROVIDER_MODEL = "online.bank.statement.provider"
OCA_MODULE = "account_statement_import_online"


class AccountOnlineOcaTakeover(models.TransientModel):
    """A journal fed by OCA's online import is fed by a bank connection of
    this addon instead, from where OCA stopped: the lines OCA imported keep
    the bank's identifiers, the OCA import is archived (kept, so that it can
    be unarchived), and the bank is connected with that journal to feed."""

    _name = "account.online.oca.takeover"
    _description = "Take Over an OCA Online Import"

    oca_installed = fields.Boolean(compute="_compute_oca_installed")
    oca_provider = fields.Selection(
        selection="_selection_oca_provider",
        string="OCA Online Import",
        help="The active online import of OCA's Online Bank Statements module to replace.",
    )
    journal_id = fields.Many2one("account.journal", compute="_compute_oca_details")
    oca_service = fields.Char(string="Service", compute="_compute_oca_details")
    oca_last_successful_run = fields.Datetime(string="Last Successful Pull", compute="_compute_oca_details")
    oca_line_count = fields.Integer(
        string="Transactions Imported by OCA",
        compute="_compute_oca_details",
        help="Lines of the journal OCA imported with the bank's identifier: the synchronization recognizes them.",
    )
    institution_id = fields.Many2one(
        "account.online.institution",
        string="Bank",
        context={"online_sync_bank_picker": True},
        help="The bank to connect: the account with the journal's number, or in its currency, feeds the journal.",
    )
    institution_provider_id = fields.Many2one(related="institution_id.provider_id", string="Through")
    # The company's registration, asked at its first connection (as in Add a Bank Account).
    phone_required = fields.Boolean(compute="_compute_phone_required")
    phone = fields.Char(
        string="Phone Number",
        help="Asked once for the company, at its first bank connection. An administrator confirms it to "
        "reactivate a connection that was blocked.",
    )
    # Kept by the wizard: a connection that failed (told and committed) is
    # tried again on the same connection, the takeover itself being done.
    link_id = fields.Many2one("account.online.link", string="Connection", readonly=True)

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if "oca_provider" in fields_list and not values.get("oca_provider"):
            context = self.env.context
            choices = [value for value, _label in self._selection_oca_provider()]
            if context.get("active_model") == OCA_PROVIDER_MODEL and str(context.get("active_id")) in choices:
                values["oca_provider"] = str(context["active_id"])
            elif len(choices) == 1:
                values["oca_provider"] = choices[0]
        return values

    # ------------------------------------------------------------------
    # What OCA has
    # ------------------------------------------------------------------

    @api.model
    def _oca_provider_model(self):
        """OCA's provider model, or None when OCA's module is not installed."""
        return self.env.get(OCA_PROVIDER_MODEL)

    @api.model
    def _oca_missing_message(self):
        return _(
            "OCA's Online Bank Statements module (%(module)s) is not installed in this database: there is no "
            "OCA online import to take over. Connect your bank with Add a Bank Account instead.",
            module=OCA_MODULE,
        )

    @api.model
    def _selection_oca_provider(self):
        """The company's active OCA online imports, by journal and service."""
        Provider = self._oca_provider_model()
        if Provider is None or not Provider.has_access("read"):
            return []
        providers = Provider.search([("company_id", "=", self.env.company.id)], order="name, id")
        return [
            (str(provider.id), _("%(journal)s (%(service)s)", journal=provider.journal_id.display_name,
                                 service=self._oca_service_label(provider)))
            for provider in providers
        ]

    @api.model
    def _oca_service_label(self, provider):
        # The service's own module may be gone: its value stays in the database.
        labels = dict(provider._fields["service"]._description_selection(self.env))
        return labels.get(provider.service, provider.service or "")

    def _oca_provider(self):
        """The chosen OCA online import, archived ones included (it is archived
        once taken over); None when there is none."""
        self.ensure_one()
        Provider = self._oca_provider_model()
        if Provider is None or not self.oca_provider:
            return None
        return Provider.with_context(active_test=False).browse(int(self.oca_provider)).exists() or None

    def _compute_oca_installed(self):
        self.oca_installed = self._oca_provider_model() is not None

    @api.depends("oca_provider")
    def _compute_oca_details(self):
        for wizard in self:
            provider = wizard._oca_provider()
            if not provider:
                wizard.update({"journal_id": False, "oca_service": False, "oca_last_successful_run": False,
                               "oca_line_count": 0})
                continue
            wizard.update({
                "journal_id": provider.journal_id.id,
                "oca_service": wizard._oca_service_label(provider),
                "oca_last_successful_run": provider.last_successful_run,
                "oca_line_count": wizard._count_oca_lines(provider.journal_id),
            })

    @api.depends_context("company")
    def _compute_phone_required(self):
        self.phone_required = not self.env.company.sudo().account_online_phone

    @api.model
    def _oca_import_prefixes(self, journal):
        """How OCA's unique_import_id of a line of ``journal`` starts:
        ``<account number>-<journal id>-``, or ``<journal id>-`` when the
        journal had no bank account number. The bank's identifier follows."""
        prefixes = [f"{journal.id}-"]
        number = journal.bank_account_id.sanitized_acc_number
        if number:
            prefixes.insert(0, f"{number}-{journal.id}-")
        return prefixes

    @api.model
    def _oca_identifier_sql(self, journal):
        """SQL: the bank's identifier in the line's unique_import_id, NULL when
        it is not of OCA's form for ``journal``."""
        return SQL("CASE %s END", SQL(" ").join(
            SQL("WHEN left(line.unique_import_id, %(length)s) = %(prefix)s"
                " AND length(line.unique_import_id) > %(length)s"
                " THEN substr(line.unique_import_id, %(length)s + 1)",
                prefix=prefix, length=len(prefix))
            for prefix in self._oca_import_prefixes(journal)
        ))

    @api.model
    def _count_oca_lines(self, journal):
        """How many lines of ``journal`` OCA imported with the bank's identifier."""
        StatementLine = self.env["account.bank.statement.line"]
        if "unique_import_id" not in StatementLine._fields:
            return 0
        StatementLine.flush_model(["journal_id", "unique_import_id"])
        # OCA's column: read in SQL, as this addon's models do not declare it.
        self.env.cr.execute(SQL(
            "SELECT COUNT(*) FROM account_bank_statement_line line"
            " WHERE line.journal_id = %s AND line.unique_import_id IS NOT NULL AND (%s) IS NOT NULL",
            journal.id, self._oca_identifier_sql(journal),
        ))
        return self.env.cr.fetchone()[0]

    # ------------------------------------------------------------------
    # Take over
    # ------------------------------------------------------------------

    def action_take_over(self):
        self.ensure_one()
        Link = self.env["account.online.link"]
        Link._check_can_configure()
        if self.link_id:
            # The takeover is done; the bank was not reached: try again.
            return self._connect(self.link_id)
        if self._oca_provider_model() is None:
            raise UserError(self._oca_missing_message())
        provider = self._oca_provider()
        if not provider:
            if not self._selection_oca_provider():
                raise UserError(_("No journal of %(company)s is fed by an active OCA online import: there is "
                                  "nothing to take over.", company=self.env.company.name))
            raise UserError(_("Choose the OCA online import to take over."))
        journal = provider.journal_id
        if not provider.active:
            raise UserError(_("The OCA online import of %(journal)s is archived already: there is nothing to "
                              "take over.", journal=journal.display_name))
        if journal.account_online_account_id:
            raise UserError(_(
                "%(journal)s is synchronized with %(link)s already: archive its OCA online import instead.",
                journal=journal.display_name, link=journal.account_online_link_id.display_name,
            ))
        if not self.institution_id:
            raise UserError(_("Choose the bank to connect."))
        # Refused before anything is changed, as Add a Bank Account does.
        Link._check_database_allows_sync()
        if self.phone_required:
            company = self.env.company
            company.sudo().account_online_phone = company._online_sync_normalize_phone(self.phone)
        carried = self._carry_over_identifiers(journal)
        self.link_id = Link.create({
            "institution_id": self.institution_id.id,
            "company_id": self.env.company.id,
            "requested_journal_id": journal.id,
        })
        self._archive_oca_provider(provider, self.link_id, carried)
        return self._connect(self.link_id)

    @api.model
    def _carry_over_identifiers(self, journal):
        """(a) The lines OCA imported into ``journal`` carry the bank's
        identifier as this addon knows it (the part of unique_import_id after
        the journal's id), so that the first synchronization recognizes them
        by identifier. Lines that have one already are left alone, and so is
        a second line with the same identifier (the journal holds each once).
        Returns how many lines got one."""
        StatementLine = self.env["account.bank.statement.line"]
        if "unique_import_id" not in StatementLine._fields:
            return 0
        StatementLine.flush_model(["journal_id", "unique_import_id", "online_transaction_identifier"])
        # Only the lines' own columns: their moves are not touched.
        self.env.cr.execute(SQL("""
            WITH oca AS (
                SELECT DISTINCT ON (identifier) id, identifier
                  FROM (SELECT line.id, %(identifier)s AS identifier
                          FROM account_bank_statement_line line
                         WHERE line.journal_id = %(journal)s
                           AND line.unique_import_id IS NOT NULL
                           AND line.online_transaction_identifier IS NULL) candidate
                 WHERE identifier IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM account_bank_statement_line other
                                    WHERE other.journal_id = %(journal)s
                                      AND other.online_transaction_identifier = candidate.identifier)
              ORDER BY identifier, id
            )
            UPDATE account_bank_statement_line line
               SET online_transaction_identifier = oca.identifier, write_uid = %(uid)s,
                   write_date = (now() AT TIME ZONE 'UTC')
              FROM oca
             WHERE line.id = oca.id
        """, identifier=self._oca_identifier_sql(journal), journal=journal.id, uid=self.env.uid))
        count = self.env.cr.rowcount
        StatementLine.invalidate_model(["online_transaction_identifier", "write_uid", "write_date"])
        return count

    @api.model
    def _archive_oca_provider(self, provider, link, carried):
        """(b) OCA's import pulls no more: archived, not deleted (unarchive it
        to go back), and its chatter, the journal's and the connection's say
        what happened."""
        journal = provider.journal_id
        provider.active = False
        provider.sudo().message_post(
            body=_("Taken over by the bank connection %(link)s (%(bank)s): this online import is archived and "
                   "pulls no more. Unarchive it to go back to it.",
                   link=link.display_name, bank=link.institution_id.name),
            subject=_("Taken over by Online Bank Synchronization"),
        )
        link._post(
            Markup("<p>%s</p><ul><li>%s</li><li>%s</li></ul>") % (
                _("%(journal)s is fed by the bank connection %(link)s from now on, instead of OCA's online "
                  "import %(provider)s, which is archived.",
                  journal=journal.display_name, link=link.display_name, provider=provider.display_name),
                _("%(count)s transaction(s) OCA imported keep the bank's identifier: the synchronization "
                  "recognizes them and imports nothing twice.", count=carried),
                _("The first synchronization goes on from the journal's last line (the last days again): "
                  "no gap."),
            ),
            journals=journal,
            subject=_("Taken over from OCA's online import"),
        )

    @api.model
    def _connect(self, link):
        """(c) The bank's consent, as Add a Bank Account asks it: the user then
        chooses the accounts, the journal's offered first, and lands on the
        connection."""
        link = link.with_context(online_sync_choose_accounts=True, online_sync_open_connection=True)
        return link.action_connect()
