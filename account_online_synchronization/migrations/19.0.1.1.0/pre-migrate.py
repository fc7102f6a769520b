# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""19.0.1.1.0 makes a connection list each bank account once (a unique
index): two accounts fetched at the same moment could be listed twice
before. Each twin is merged into the one that feeds a journal (else the
oldest) before the index is made, so that the index can be made and no
statement line loses its account."""
import logging

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    cr.execute("""
        SELECT id, kept FROM (
            SELECT account.id, first_value(account.id) OVER (
                       PARTITION BY account.account_online_link_id, account.online_identifier
                       ORDER BY EXISTS (SELECT 1 FROM account_journal journal
                                         WHERE journal.account_online_account_id = account.id) DESC,
                                account.id) AS kept
              FROM account_online_account account
        ) ranked
         WHERE id != kept
    """)
    twins = cr.fetchall()
    for twin, kept in twins:
        cr.execute("UPDATE account_bank_statement_line SET online_account_id = %s WHERE online_account_id = %s",
                   [kept, twin])
        # The journal of a twin goes to the account kept, unless it feeds one already.
        cr.execute("""
            UPDATE account_journal SET account_online_account_id = CASE
                       WHEN EXISTS (SELECT 1 FROM account_journal other WHERE other.account_online_account_id = %s)
                       THEN NULL ELSE %s END
             WHERE account_online_account_id = %s
        """, [kept, kept, twin])
        cr.execute("DELETE FROM account_online_account WHERE id = %s", [twin])
    if twins:
        _logger.info("Bank accounts listed twice by a connection merged: %s", twins)
