# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Install and uninstall hooks, and the takeover of Odoo's legacy bank
synchronization (``account_online_sync``, before December 2020).

The legacy module's bank logins live in the table ``account_online_provider``,
which is also the table of this addon's ``account.online.provider`` (the
aggregators), with another meaning. Before the addon's tables are made, the
legacy tables are set aside under other names; once the addon is installed,
each legacy login becomes a connection, not connected (its consent belonged
to the old service), and each legacy bank account an online account of it,
linked to its journal and synchronized until the date the old module
reached: connected again, it goes on from there, without a gap or a
duplicate. The journals and their lines are not touched.
"""
import logging

from markupsafe import Markup

from odoo import SUPERUSER_ID, Command
from odoo.tools import SQL, sql

_logger = logging.getLogger(__name__)

# The legacy module and the connectors built on it.
LEGACY_MODULES = ("account_online_sync", "account_plaid", "account_yodlee", "account_ponto")
# Legacy table -> where it is set aside.
LEGACY_TABLES = {
    "account_online_provider": "account_online_sync_legacy_login",
    "account_online_journal": "account_online_sync_legacy_account",
}
# The legacy login's aggregator -> this addon's connector of it, when there is one.
LEGACY_PROVIDER_CODES = {"plaid": "plaid"}


def _pre_init_set_aside_legacy_tables(env):
    """Rename the legacy tables (and what is named after them) before the
    addon makes its own ``account_online_provider``."""
    cr = env.cr
    if not _is_legacy_login_table(cr):
        return
    for table, new_name in LEGACY_TABLES.items():
        if not sql.table_exists(cr, table):
            continue
        cr.execute(SQL("ALTER TABLE %s RENAME TO %s", SQL.identifier(table), SQL.identifier(new_name)))
        # The sequence, the primary key and the indexes keep the old name,
        # which the addon's new table would take.
        cr.execute(SQL("""
            SELECT c.relname, c.relkind FROM pg_class c
             WHERE c.relname LIKE %s AND c.relkind IN ('S', 'i')
               AND c.relnamespace = 'public'::regnamespace
        """, table + "\\_%"))
        for name, kind in cr.fetchall():
            new = new_name + name[len(table):]
            statement = "ALTER SEQUENCE %s RENAME TO %s" if kind == "S" else "ALTER INDEX %s RENAME TO %s"
            cr.execute(SQL(statement, SQL.identifier(name), SQL.identifier(new)))
    _logger.info("Legacy bank synchronization found: its tables are set aside as %s",
                 ", ".join(LEGACY_TABLES.values()))


def _is_legacy_login_table(cr):
    """``account_online_provider`` is the legacy module's logins (it has
    their ``provider_type``), not this addon's aggregators."""
    return sql.table_exists(cr, "account_online_provider") and sql.column_exists(
        cr, "account_online_provider", "provider_type",
    ) and not sql.column_exists(cr, "account_online_provider", "code")


def _post_init(env):
    _take_over_legacy_synchronization(env)
    # Fill the bank directory of the providers that need no credentials.
    env["account.online.provider"].search([])._sync_institutions_if_possible()


def _uninstall_take_back_basic_accounting(env):
    """Take back what the addon gave Accounting Administrators, unless Odoo's
    own accounting app, which gives the same, stays installed."""
    if env["ir.module.module"].search_count([("name", "=", "account_accountant"), ("state", "=", "installed")]):
        return
    env.ref("account.group_account_manager").implied_ids = [
        Command.unlink(env.ref("account.group_account_basic").id),
    ]


# ----------------------------------------------------------------------
# The legacy synchronization
# ----------------------------------------------------------------------

def _take_over_legacy_synchronization(env):
    """Turn the legacy logins and bank accounts set aside at install into
    connections and online accounts, then retire the legacy modules."""
    cr = env.cr
    logins_table, accounts_table = LEGACY_TABLES.values()
    if not sql.table_exists(cr, logins_table):
        return
    env = env(su=True)
    _copy_legacy_transaction_identifiers(cr)
    if sql.column_exists(cr, "account_journal", "bank_statement_creation"):
        # The legacy periodicity of statements has the same values as this addon's.
        cr.execute("""
            UPDATE account_journal SET bank_statement_creation_groupby = bank_statement_creation
             WHERE bank_statement_creation IN ('none', 'day', 'week', 'bimonthly', 'month')
        """)
    cr.execute(SQL("""
        SELECT login.id, login.name, login.provider_type, login.last_refresh, login.company_id,
               -- The responsible: who made the login, while an active internal user.
               (SELECT users.id FROM res_users users
                 WHERE users.id = login.create_uid AND users.id != %s AND users.active AND NOT users.share) AS user_id
          FROM %s login ORDER BY login.id
    """, SUPERUSER_ID, SQL.identifier(logins_table)))
    logins = cr.dictfetchall()
    has_accounts = sql.table_exists(cr, accounts_table)
    journal_column = sql.column_exists(cr, "account_journal", "account_online_journal_id")
    links = env["account.online.link"]
    for login in logins:
        accounts = []
        if has_accounts:
            cr.execute(SQL("""
                SELECT account.id, account.name, account.account_number, account.online_identifier,
                       account.balance, account.last_sync, %s AS journal_id
                  FROM %s account
                 WHERE account.account_online_provider_id = %s
                 ORDER BY account.id
            """, SQL("(SELECT min(journal.id) FROM account_journal journal"
                     " WHERE journal.account_online_journal_id = account.id)") if journal_column else SQL("NULL"),
                SQL.identifier(accounts_table), login["id"]))
            accounts = cr.dictfetchall()
        links |= _legacy_login_to_link(env, login, accounts)
    _move_legacy_chatter(env, {login["id"]: link.id for login, link in zip(logins, links)})
    _retire_legacy_modules(env)
    _logger.info("Legacy bank synchronization: %s login(s) turned into connections to connect again", len(links))


def _legacy_login_to_link(env, login, accounts):
    company = env["res.company"].browse(login["company_id"]).exists() or env.company
    Link = env["account.online.link"].with_company(company)
    code = LEGACY_PROVIDER_CODES.get(login["provider_type"])
    provider = env["account.online.provider"].search([("code", "=", code)], limit=1) if code else None
    bank = login["name"] or login["provider_type"] or env._("Bank")
    link = Link.create({
        "name": env._("%(bank)s (previous synchronization)", bank=bank),
        "company_id": company.id,
        "provider_id": provider.id if provider else False,
        "auto_sync": False,
        "state": "disconnected",
        "user_id": login["user_id"],
        "timezone": company.partner_id.tz or "UTC",
    })
    journals = env["account.journal"]
    synchronized = []
    for account in accounts:
        journal = env["account.journal"].browse(account["journal_id"]).exists()
        if journal and journal.company_id != company:
            journal = journal.browse()  # never a journal of another company
        currency = journal.currency_id or company.currency_id
        online_account = env["account.online.account"].create({
            "name": account["name"],
            "account_online_link_id": link.id,
            "online_identifier": account["online_identifier"] or f"legacy-{account['id']}",
            "account_number": account["account_number"] or False,
            "currency_id": currency.id,
            "balance": account["balance"] or 0.0,
            "last_sync": account["last_sync"] if journal else False,
        })
        if journal:
            journal.write({"account_online_account_id": online_account.id, "bank_statements_source": "online_sync"})
            journals |= journal
            synchronized.append(Markup("<li>%s</li>") % env._(
                "%(account)s into %(journal)s, until %(date)s",
                account=account["name"], journal=journal.name, date=account["last_sync"] or env._("no date"),
            ))
    link.message_post(body=Markup("<p>%s</p><p>%s</p>%s") % (
        env._("Taken over from the previous bank synchronization module (%(provider)s, last refreshed %(date)s). "
          "It cannot synchronize again as it is: its consent belonged to the old service.",
          provider=login["provider_type"] or env._("unknown service"), date=login["last_refresh"] or env._("never")),
        env._("To go on, choose the bank in Bank and click Reconnect (or connect the bank from the journal's card): "
          "the accounts are found again by their number, and the first synchronization continues from the date "
          "each reached, without a gap or a duplicate."),
        Markup("<ul>%s</ul>") % Markup().join(synchronized) if synchronized else "",
    ))
    for journal in journals:
        journal.message_post(body=env._(
            "The previous bank synchronization of this journal (%(bank)s) cannot synchronize again: "
            "connect the bank again from this journal's card or from the connection %(link)s. Its lines are kept, "
            "and the first synchronization continues from %(date)s.",
            bank=bank, link=link.name, date=journal.account_online_account_id.last_sync or env._("the last line"),
        ))
    return link


def _copy_legacy_transaction_identifiers(cr):
    """The legacy module's transaction ids, where this addon has none: an
    aggregator that kept its ids (Plaid) is then recognised by them. A
    journal gets each id once (the database refuses a second)."""
    if not sql.column_exists(cr, "account_bank_statement_line", "online_identifier"):
        return
    cr.execute("""
        UPDATE account_bank_statement_line line
           SET online_transaction_identifier = first.online_identifier
          FROM (SELECT DISTINCT ON (journal_id, online_identifier) id, online_identifier
                  FROM account_bank_statement_line
                 WHERE online_identifier IS NOT NULL AND online_identifier != ''
                 ORDER BY journal_id, online_identifier, id) first
         WHERE line.id = first.id AND line.online_transaction_identifier IS NULL
           AND NOT EXISTS (SELECT 1 FROM account_bank_statement_line other
                            WHERE other.journal_id = line.journal_id
                              AND other.online_transaction_identifier = first.online_identifier)
    """)


def _move_legacy_chatter(env, link_of_login):
    """What was written on the legacy logins (messages, followers,
    activities, attachments) is on ``account.online.provider`` records, the
    addon's aggregators now: it moves to the connections."""
    cr = env.cr
    legacy, new = "account.online.provider", "account.online.link"
    for login_id, link_id in link_of_login.items():
        cr.execute(SQL("""
            UPDATE mail_message SET model = %(new)s, res_id = %(link)s WHERE model = %(legacy)s AND res_id = %(login)s;
            -- A follower of the connection already is not a follower twice.
            DELETE FROM mail_followers old WHERE old.res_model = %(legacy)s AND old.res_id = %(login)s
               AND EXISTS (SELECT 1 FROM mail_followers f WHERE f.res_model = %(new)s AND f.res_id = %(link)s
                              AND f.partner_id = old.partner_id);
            UPDATE mail_followers SET res_model = %(new)s, res_id = %(link)s WHERE res_model = %(legacy)s AND res_id = %(login)s;
            UPDATE mail_activity SET res_model = %(new)s, res_id = %(link)s,
                   res_model_id = (SELECT id FROM ir_model WHERE model = %(new)s)
             WHERE res_model = %(legacy)s AND res_id = %(login)s;
            UPDATE ir_attachment SET res_model = %(new)s, res_id = %(link)s WHERE res_model = %(legacy)s AND res_id = %(login)s
        """, new=new, legacy=legacy, link=link_id, login=login_id))
    env.invalidate_all()


def _retire_legacy_modules(env):
    """Remove what the legacy modules declared (views, menus, actions,
    scheduled actions, access rights, fields of models that are gone) as
    uninstalling them would, and mark them uninstalled: Odoo no longer looks
    for them. Their records set aside stay in the legacy tables."""
    modules = env["ir.module.module"].search([("name", "in", LEGACY_MODULES), ("state", "!=", "uninstalled")])
    if not modules:
        return
    names = modules.mapped("name")
    data = env["ir.model.data"].search([("module", "in", names)])
    # Records of models that no longer exist cannot be deleted through them.
    data.filtered(lambda d: d.model not in env).unlink()
    env["ir.model.data"]._module_data_uninstall(names)
    modules.write({"state": "uninstalled", "latest_version": False})
    env.registry.clear_cache()
