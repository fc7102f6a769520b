# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Upgrading from each previous release: the release is installed from the
repository's history (``odoo-bin -i`` with its code), the Demo Bank is
connected and synchronized with that code, then ``odoo-bin -u`` with this
tree's code runs the migration scripts (migrations/<version>/). What each
script does is checked after, and the next synchronization goes on without
a duplicate or a gap."""
import json
import textwrap

import pytest

from conftest import ADDON, RELEASES, RESULT_MARK, query

CONNECTED_AT = "2026-11-20 11:00:00"
SYNCED_AGAIN_AT = "2026-11-25 11:00:00"

PRELUDE = textwrap.dedent(f"""
    import dataclasses
    import datetime as dt
    import json
    from decimal import Decimal
    from freezegun import freeze_time
    from odoo.addons.account_online_synchronization.providers import POSTED, Transaction
    from odoo.addons.account_online_synchronization.providers.demo import DemoBankProvider

    def result(value):
        print({RESULT_MARK!r} + json.dumps(value, default=str))

    # The Demo Bank's history changed between releases: each process gets the
    # same fixed history, one transaction a day, whatever its release.
    def fixed_history(account_id, currency, until):
        day, history = dt.date(2026, 7, 1), []
        while day <= until:
            amount = Decimal(day.toordinal() % 173 - 90) + Decimal(day.day) / 100
            history.append(Transaction(identifier=f"FIX-{{account_id}}-{{day:%Y%m%d}}", status=POSTED, amount=amount,
                                       currency=currency, booking_date=day, label=f"Fixed {{day}}"))
            day += dt.timedelta(days=1)
        return history

    real_get_balance = DemoBankProvider.get_balance

    def get_balance(self, consent, account_id):
        real = real_get_balance(self, consent, account_id)
        today = dt.datetime.now(dt.timezone.utc).date()
        history = fixed_history(account_id, real.currency, today)
        return dataclasses.replace(real, amount=Decimal(10000) + sum(t.amount for t in history))

    def get_transactions(self, consent, account_id, date_from, date_to):
        currency = real_get_balance(self, consent, account_id).currency
        return [t for t in fixed_history(account_id, currency, min(date_to, dt.datetime.now(dt.timezone.utc).date()))
                if date_from <= t.booking_date <= date_to]

    DemoBankProvider.get_balance = get_balance
    DemoBankProvider.get_transactions = get_transactions
""")

# With the old release's code: the administrator connects the Demo Bank (the
# synchronization itself as the superuser: the first release did not let the
# administrator sync).
CONNECT = PRELUDE + textwrap.dedent(f"""
    admin = env.ref('base.user_admin')
    with freeze_time({CONNECTED_AT!r}):
        institution = env['account.online.institution'].search([('identifier', '=', 'DEMO_BANK')])
        link = env['account.online.link'].with_user(admin).create({{'institution_id': institution.id}})
        link.sudo().action_connect()
        env.cr.commit()
        current = link.account_online_account_ids.filtered(lambda a: a.name == 'Current Account')
        result({{'link': link.id, 'current': current.id, 'journal': current.journal_ids.id,
                 'accounts': sorted(link.account_online_account_ids.mapped('name')),
                 'journal_total': sum(env['account.bank.statement.line'].search(
                     [('journal_id', '=', current.journal_ids.id)]).mapped('amount')),
                 'bank_balance': current.balance,
                 'consent': link.provider_data['consent']['identifier']}})
""")

AFTER_UPGRADE = textwrap.dedent("""
    data = json.loads({data!r})
    link = env['account.online.link'].browse(data['link'])
    current = env['account.online.account'].browse(data['current'])
    journal = env['account.journal'].browse(data['journal'])
    env.cr.execute("SELECT latest_version FROM ir_module_module WHERE name = 'account_online_synchronization'")
    version = env.cr.fetchone()[0]
    told = [m.body for m in link.message_ids]
    upgraded = {{
        'version': version, 'accounts': sorted(link.account_online_account_ids.mapped('name')),
        'current_lines': env['account.bank.statement.line'].search_count([('online_account_id', '=', current.id)]),
        'balance_difference': current.balance_difference, 'told': told,
        'consent_identifier': link.consent_identifier, 'responsible': link.user_id.login or None,
        'followers': link.message_partner_ids.mapped('name'),
        'database_uuid': link.database_uuid == env['ir.config_parameter'].get_param('database.uuid'),
        'scheduled_sync_started': link.scheduled_sync_started, 'state': link.state,
        'unavailable_since': current.unavailable_since,
    }}
    # The next synchronization, as the administrator clicks it.
    with freeze_time({now!r}):
        journal.with_user(env.ref('base.user_admin')).manual_sync()
        env.cr.commit()
        lines = env['account.bank.statement.line'].search([('journal_id', '=', journal.id)])
        identifiers = [l.online_transaction_identifier for l in lines if l.online_transaction_identifier]
        upgraded.update({{
            'journal_total': round(sum(lines.mapped('amount')), 2), 'bank_balance': round(current.balance, 2),
            'difference_after_sync': current.balance_difference,
            'duplicates': len(identifiers) - len(set(identifiers)), 'last_sync': str(current.last_sync),
            'told_after_sync': [m.body for m in link.message_ids],
        }})
    result(upgraded)
""")


@pytest.mark.parametrize("release", list(RELEASES))
def test_upgrade_from_release(odoo, release):
    database = odoo.new_database("account")
    old = odoo.release(release)
    odoo.run(database, "-i", ADDON, "--stop-after-init", config=old)
    data = odoo.shell(database, CONNECT, config=old)
    if release == "19.0.1.0.0":
        # Two fetches at the same moment listed the Current Account twice
        # (no unique index yet), and a line went missing without a word.
        (twin,) = query(database, """
            INSERT INTO account_online_account (name, account_online_link_id, company_id, online_identifier,
                                                account_number, currency_id, balance, last_sync)
            SELECT name, account_online_link_id, company_id, online_identifier, account_number, currency_id,
                   balance, last_sync FROM account_online_account WHERE id = %s RETURNING id
        """, [data["current"]])
        query(database, """UPDATE account_bank_statement_line SET online_account_id = %s
                            WHERE id = (SELECT max(id) FROM account_bank_statement_line WHERE online_account_id = %s)""",
              [twin[0], data["current"]])
    # The oldest line deleted by hand after the last synchronization (too old
    # to be fetched again): the journal no longer says what the bank says.
    ((line_id, removed),) = query(database, """
        SELECT line.id, line.amount FROM account_bank_statement_line line JOIN account_move move ON move.id = line.move_id
         WHERE line.online_transaction_identifier IS NOT NULL AND line.journal_id = %s
         ORDER BY move.date, line.id LIMIT 1
    """, [data["journal"]])
    # What the journal lacks, whatever else the release got wrong (before
    # 19.0.1.3.0, a first synchronization made no opening line).
    difference = round(data["journal_total"] - float(removed) - data["bank_balance"], 2)
    odoo.shell(database, f"env['account.bank.statement.line'].browse({line_id}).unlink(); env.cr.commit()",
               config=old)

    odoo.run(database, "-u", ADDON, "--stop-after-init")

    after = odoo.shell(database, PRELUDE + AFTER_UPGRADE.format(data=json.dumps(data), now=SYNCED_AGAIN_AT))
    assert after["version"] == "19.0.1.4.0"
    # 19.0.1.1.0: each account once, its lines kept.
    assert after["accounts"] == data["accounts"]
    if release == "19.0.1.0.0":
        # The journal differed from the bank before the upgrade: told at once, not after the next sync.
        assert after["balance_difference"] == pytest.approx(difference)
        assert any("Transactions are missing or counted twice" in body for body in after["told"])
    # 19.0.1.2.0: the connection is found by its consent.
    assert after["consent_identifier"] == data["consent"]
    # 19.0.1.3.0: a responsible who follows the connection, and the consent's database.
    assert after["responsible"] == "admin"
    assert "Administrator" in after["followers"]
    assert after["database_uuid"] is True
    # 19.0.1.4.0: nothing started by the scheduled action, every account available.
    assert after["scheduled_sync_started"] is False
    assert after["unavailable_since"] is False
    assert after["state"] == "connected"
    # The next synchronization: nothing twice, nothing lost (the journal
    # differs from the bank by what it lacked before), and the difference told.
    assert after["duplicates"] == 0
    assert after["last_sync"] == SYNCED_AGAIN_AT[:10]
    assert after["journal_total"] - after["bank_balance"] == pytest.approx(difference)
    assert after["difference_after_sync"] == pytest.approx(difference)
    assert any("Transactions are missing or counted twice" in body for body in after["told_after_sync"])
