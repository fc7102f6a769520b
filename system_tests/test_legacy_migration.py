# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Installing the addon over a database that ran Odoo's legacy bank
synchronization (``account_online_sync``): its tables, rows and module
records are built here from the legacy schema, in a database with Accounting,
then the addon is installed by a real ``odoo-bin -i``."""
import json
import textwrap

from conftest import ADDON, RESULT_MARK, query

# The day the addon is installed and the bank connected again (a frozen clock).
NOW = "2026-11-25 11:00:00"
# The legacy module imported from LEGACY_FROM until LEGACY_UNTIL.
LEGACY_FROM = "2026-09-26"
LEGACY_UNTIL = "2026-11-22"
CURRENT_IBAN = "BE68539007547034"
DEPOSIT_IBAN = "BE71096123456769"

PRELUDE = textwrap.dedent(f"""
    import datetime as dt
    import json
    from freezegun import freeze_time
    RESULT_MARK = {RESULT_MARK!r}
    def result(value):
        print(RESULT_MARK + json.dumps(value, default=str))
""")

# The legacy module's tables and columns (Odoo 12.0-13.0), its module record,
# some of its records (a view, a scheduled action, fields), and its data.
BUILD_LEGACY = PRELUDE + textwrap.dedent(f"""
    CURRENT_IBAN, DEPOSIT_IBAN = {CURRENT_IBAN!r}, {DEPOSIT_IBAN!r}
    LEGACY_UNTIL, NOW = {LEGACY_UNTIL!r}, {NOW!r}
    from odoo.addons.account_online_synchronization.providers import POSTED, ProviderConfig
    from odoo.addons.account_online_synchronization.providers.demo import DemoBankProvider
    import pytz

    cr = env.cr
    cr.execute('''
        CREATE TABLE account_online_provider (
            id serial PRIMARY KEY, name varchar, provider_type varchar, provider_account_identifier varchar,
            provider_identifier varchar, status varchar, status_code varchar, message varchar,
            action_required boolean, last_refresh timestamp,
            company_id integer NOT NULL REFERENCES res_company(id) ON DELETE SET NULL,
            message_main_attachment_id integer,
            create_uid integer, create_date timestamp, write_uid integer, write_date timestamp);
        CREATE TABLE account_online_journal (
            id serial PRIMARY KEY, name varchar NOT NULL,
            account_online_provider_id integer REFERENCES account_online_provider(id) ON DELETE CASCADE,
            account_number varchar, last_sync date, online_identifier varchar, balance double precision,
            create_uid integer, create_date timestamp, write_uid integer, write_date timestamp);
        ALTER TABLE account_journal
            ADD COLUMN account_online_journal_id integer REFERENCES account_online_journal(id) ON DELETE SET NULL,
            ADD COLUMN bank_statement_creation varchar;
        ALTER TABLE account_bank_statement_line ADD COLUMN online_identifier varchar,
            ADD COLUMN online_partner_vendor_name varchar, ADD COLUMN online_partner_bank_account varchar;
        ALTER TABLE res_partner ADD COLUMN online_partner_vendor_name varchar,
            ADD COLUMN online_partner_bank_account varchar;
    ''')
    env['ir.module.module'].create({{
        'name': 'account_online_sync', 'state': 'installed', 'latest_version': '13.0.2.0',
        'shortdesc': 'Online Bank Statement Synchronization',
    }})

    def xmlid(name, model, res_id):
        env['ir.model.data'].create({{'module': 'account_online_sync', 'name': name, 'model': model, 'res_id': res_id}})

    def legacy_model(model, name):
        cr.execute('''INSERT INTO ir_model (model, name, state, transient, "order")
                  VALUES (%s, %s, 'base', false, 'id') RETURNING id''',
                   [model, json.dumps({{'en_US': name}})])
        model_id = cr.fetchone()[0]
        xmlid('model_' + model.replace('.', '_'), 'ir.model', model_id)
        return model_id

    def legacy_field(model, model_id, name, ttype, relation=None):
        cr.execute('''INSERT INTO ir_model_fields (model, model_id, name, field_description, ttype, relation, state, store)
                      VALUES (%s, %s, %s, %s, %s, %s, 'base', true) RETURNING id''',
                   [model, model_id, name, json.dumps({{'en_US': name}}), ttype, relation])
        xmlid('field_%s__%s' % (model.replace('.', '_'), name), 'ir.model.fields', cr.fetchone()[0])

    provider_model = legacy_model('account.online.provider', 'Provider for online account synchronization')
    journal_model = legacy_model('account.online.journal', 'Interface for Online Account Journal')
    legacy_field('account.online.provider', provider_model, 'provider_type', 'selection')
    legacy_field('account.online.journal', journal_model, 'last_sync', 'date')
    journal_model_id = env['ir.model']._get_id('account.journal')
    line_model_id = env['ir.model']._get_id('account.bank.statement.line')
    legacy_field('account.journal', journal_model_id, 'account_online_journal_id', 'many2one', 'account.online.journal')
    legacy_field('account.bank.statement.line', line_model_id, 'online_identifier', 'char')
    # A view that shows a legacy field: Odoo could not open the journals with it left behind.
    cr.execute('''INSERT INTO ir_ui_view (name, model, type, arch_db, inherit_id, mode, active, priority)
                  VALUES ('account.journal.form.online.sync', 'account.journal', 'form', %s, %s, 'extension', true, 16)
                  RETURNING id''',
               [json.dumps({{'en_US': '<xpath expr="//field[@name=\\'type\\']" position="after">'
                             '<field name="account_online_journal_id"/></xpath>'}}),
                env.ref('account.view_account_journal_form').id])
    xmlid('view_account_journal_form_online_sync', 'ir.ui.view', cr.fetchone()[0])
    cron = env['ir.cron'].create({{
        'name': 'Online Synchronization: fetch new transactions', 'model_id': journal_model_id,
        'state': 'code', 'code': 'model.cron_fetch_online_transactions()',
        'interval_number': 12, 'interval_type': 'hours',
    }})
    xmlid('online_sync_cron', 'ir.cron', cron.id)

    main = env.ref('base.main_company')
    other = env['res.company'].create({{'name': 'Other Company', 'currency_id': main.currency_id.id}})
    env['account.chart.template'].try_loading('generic_coa', other, install_demo=False)

    eur = env.ref('base.EUR')
    eur.active = True

    def bank_journal(company, name, code, iban=None):
        vals = {{'name': name, 'code': code, 'type': 'bank', 'company_id': company.id, 'currency_id': eur.id}}
        if iban:
            vals['bank_acc_number'] = iban
        return env['account.journal'].with_company(company).create(vals)

    current = bank_journal(main, 'Bank Legacy', 'BLEG', CURRENT_IBAN)
    other_journal = bank_journal(other, 'Other Bank', 'BOTH')

    cr.execute('''INSERT INTO account_online_provider (name, provider_type, provider_account_identifier, status,
                  last_refresh, company_id, create_uid) VALUES
                  ('Demo Bank', 'yodlee', 'y-1', 'SUCCESS', '2026-11-05 10:00', %s, %s),
                  ('Other Bank', 'plaid', 'p-1', 'SUCCESS', '2026-11-10 10:00', %s, 1) RETURNING id''',
               [main.id, env.ref('base.user_admin').id, other.id])
    demo_login, plaid_login = [row[0] for row in cr.fetchall()]
    cr.execute('''INSERT INTO account_online_journal (name, account_online_provider_id, account_number, last_sync,
                  online_identifier, balance) VALUES
                  ('Current Account', %s, %s, %s, 'y-acc-1', 0),
                  ('Deposit Account', %s, %s, '2026-11-05', 'y-acc-2', 25000),
                  ('Checking', %s, 'xxxx0000', '2026-11-10', 'p-acc-1', 1000) RETURNING id''',
               [demo_login, CURRENT_IBAN, LEGACY_UNTIL, demo_login, DEPOSIT_IBAN, plaid_login])
    current_acc, _deposit_acc, checking_acc = [row[0] for row in cr.fetchall()]
    cr.execute('UPDATE account_journal SET account_online_journal_id = %s, bank_statement_creation = %s WHERE id = %s',
               [current_acc, 'week', current.id])
    cr.execute('UPDATE account_journal SET account_online_journal_id = %s WHERE id = %s', [checking_acc, other_journal.id])
    cr.execute('''INSERT INTO mail_message (model, res_id, body, message_type, date, create_date, write_date)
                  VALUES ('account.online.provider', %s, '<p>Legacy note on the Demo Bank login</p>', 'comment',
                          now(), now(), now())''', [demo_login])

    # What the legacy module imported into Bank Legacy: the Demo Bank's posted
    # transactions from LEGACY_FROM to LEGACY_UNTIL (dated in Brussels, as
    # the connection will be), under the legacy service's own ids, and an
    # opening line that makes the journal's balance the bank's.
    with freeze_time(NOW):
        bank = DemoBankProvider(ProviderConfig())
        consent = bank.start_connect('DEMO_BANK', '', 'legacy').consent
        account_id = 'DEMO_BANK-current'
        brussels = pytz.timezone('Europe/Brussels')
        def local(t):
            return t.booked_at.astimezone(brussels).date() if t.booked_at else t.booking_date
        since, until = dt.date.fromisoformat({LEGACY_FROM!r}), dt.date.fromisoformat({LEGACY_UNTIL!r})
        posted = [t for t in bank.get_transactions(consent, account_id, since - dt.timedelta(days=5),
                                                   dt.date.fromisoformat({NOW[:10]!r}) + dt.timedelta(days=1))
                  if t.status == POSTED and local(t) >= since]
        balance = bank.get_balance(consent, account_id).amount
    opening = balance - sum(t.amount for t in posted)
    legacy = [t for t in posted if local(t) <= until]
    Line = env['account.bank.statement.line']
    lines = Line.create([{{'journal_id': current.id, 'date': since, 'payment_ref': 'Opening statement: first synchronization',
                           'amount': float(opening)}}] + [
        {{'journal_id': current.id, 'date': local(t), 'payment_ref': t.label, 'amount': float(t.amount)}} for t in legacy])
    for index, line in enumerate(lines[1:]):
        cr.execute('UPDATE account_bank_statement_line SET online_identifier = %s WHERE id = %s',
                   ['yodlee-%s' % index, line.id])
    plaid_lines = Line.create([{{'journal_id': other_journal.id, 'date': '2026-11-0%s' % day, 'payment_ref': 'Plaid %s' % day,
                                 'amount': 100.0 * day}} for day in (1, 2)])
    for day, line in zip((1, 2), plaid_lines):
        cr.execute('UPDATE account_bank_statement_line SET online_identifier = %s WHERE id = %s', ['plaid-tx-%s' % day, line.id])
    cr.execute('UPDATE account_online_journal SET balance = %s WHERE id = %s', [float(balance - sum(
        t.amount for t in posted if local(t) > until)), current_acc])
    env.cr.commit()
    result({{
        'current': current.id, 'other_journal': other_journal.id, 'other_company': other.id,
        'bank': [[str(local(t)), str(t.amount)] for t in posted], 'balance': str(balance),
        'lines': len(lines), 'legacy_total': str(opening + sum(t.amount for t in legacy)),
    }})
""")

CHECK_TAKEOVER = PRELUDE + textwrap.dedent("""
    data = json.loads({data!r})
    env = env(user=env.ref('base.user_admin'))
    current = env['account.journal'].browse(data['current'])
    other_journal = env['account.journal'].sudo().browse(data['other_journal'])
    links = env['account.online.link'].sudo().search([], order='id')
    def describe_link(link):
        return {{
            'name': link.name, 'state': link.state, 'auto_sync': link.auto_sync, 'company': link.company_id.id,
            'provider': link.provider_id.code or None,
            'accounts': [[a.name, a.account_number, a.journal_ids.name or None, str(a.last_sync or ''), a.balance]
                         for a in link.account_online_account_ids.sorted('id')],
            'messages': [m.body for m in link.message_ids],
            'responsible': link.user_id.login or None,
        }}
    cr = env.cr
    cr.execute("SELECT state FROM ir_module_module WHERE name = 'account_online_sync'")
    module_state = cr.fetchone()[0]
    cr.execute("SELECT count(*) FROM ir_model_data WHERE module = 'account_online_sync'")
    legacy_records = cr.fetchone()[0]
    legacy_crons = env['ir.cron'].sudo().with_context(active_test=False).search_count(
        [('code', '=like', 'model.cron_fetch%')])
    cr.execute("SELECT to_regclass('account_online_sync_legacy_login') IS NOT NULL,"
               " to_regclass('account_online_sync_legacy_account') IS NOT NULL")
    set_aside = list(cr.fetchone())
    # The journal form opens (no view left that shows a legacy field).
    env['account.journal'].get_views([(False, 'form'), (False, 'kanban')])
    lines = env['account.bank.statement.line'].search([('journal_id', '=', current.id)])
    # Reconnect Bank on the journal's card: the bank is chosen as for a new connection, for this journal.
    reconnect = current.action_reconnect_online_link()
    result({{
        'reconnect': [reconnect.get('res_model'), reconnect.get('context', {{}}).get('online_sync_journal_id')],
        'links': [describe_link(link) for link in links],
        'journal_messages': [m.body for m in current.message_ids],
        'other_journal_messages': [m.body for m in other_journal.message_ids],
        'module_state': module_state, 'legacy_records': legacy_records, 'legacy_crons': legacy_crons,
        'set_aside': set_aside,
        'providers': sorted(env['account.online.provider'].sudo().with_context(active_test=False).search([]).mapped('code')),
        'lines': len(lines), 'total': str(round(sum(lines.mapped('amount')), 2)),
        'periodicity': current.bank_statement_creation_groupby,
        'plaid_identifiers': sorted(other_journal.env['account.bank.statement.line'].sudo().search(
            [('journal_id', '=', other_journal.id)]).mapped('online_transaction_identifier')),
    }})
""")

RECONNECT = PRELUDE + textwrap.dedent("""
    results = []
    def result(value):
        results.append(value)
        print(RESULT_MARK + json.dumps(results, default=str))
    data = json.loads({data!r})
    env = env(user=env.ref('base.user_admin'))
    current = env['account.journal'].browse(data['current'])
    link = current.account_online_link_id
    with freeze_time({now!r}):
        # As the administrator does on the connection: choose the bank, then Reconnect.
        link.write({{'institution_id': env['account.online.institution'].search([('identifier', '=', 'DEMO_BANK')]).id,
                     'timezone': 'Europe/Brussels'}})
        link.action_reconnect()
        env.cr.commit()
        account = current.account_online_account_id
        lines = env['account.bank.statement.line'].search([('journal_id', '=', current.id)], order='date, id')
        statements = env['account.bank.statement'].search([('journal_id', '=', current.id)])
        result({{
            'state': link.state, 'account': account.name, 'account_link': account.account_online_link_id.id == link.id,
            'last_sync': str(account.last_sync), 'balance': str(round(account.balance, 2)),
            'balance_difference': account.balance_difference,
            'lines': [[str(l.date), str(round(l.amount, 2)), l.online_transaction_identifier or None] for l in lines],
            'total': str(round(sum(lines.mapped('amount')), 2)),
            'new_statements_valid': all(s.is_valid and s.is_complete for s in statements),
            'messages': [m.body for m in link.message_ids],
        }})
    # The next day's synchronization fetches the last days again: the lines
    # the first one recognised by date and amount are known by now.
    with freeze_time({next_day!r}):
        current.manual_sync()
        env.cr.commit()
        lines = env['account.bank.statement.line'].search([('journal_id', '=', current.id)], order='date, id')
        result({{'total': str(round(sum(lines.mapped('amount')), 2)), 'balance': str(round(account.balance, 2)),
                 'lines': [[str(l.date), str(round(l.amount, 2))] for l in lines], 'last_sync': str(account.last_sync),
                 'balance_difference': account.balance_difference}})
""")


def test_legacy_logins_become_connections_that_continue_without_gap_or_duplicate(odoo):
    database = odoo.new_database("account")
    built = odoo.shell(database, BUILD_LEGACY)
    data = json.dumps(built)

    odoo.run(database, "-i", ADDON, "--stop-after-init")

    after = odoo.shell(database, CHECK_TAKEOVER.format(data=data))
    demo, plaid = after["links"]
    assert demo["name"] == "Demo Bank (previous synchronization)"
    assert (demo["responsible"], plaid["responsible"]) == ("admin", None)  # the superuser is nobody's responsible
    assert after["reconnect"] == ["account.online.connect.wizard", built["current"]]
    assert (demo["state"], demo["auto_sync"], demo["provider"]) == ("disconnected", False, None)
    assert demo["accounts"] == [
        ["Current Account", CURRENT_IBAN, "Bank Legacy", LEGACY_UNTIL, float(built["legacy_total"])],
        ["Deposit Account", DEPOSIT_IBAN, None, "", 25000.0],
    ]
    assert any("cannot synchronize again" in body and "Reconnect" in body for body in demo["messages"])
    # The legacy login's chatter moved to its connection; none is left on the aggregators.
    assert any("Legacy note on the Demo Bank login" in body for body in demo["messages"])
    assert query(database, "SELECT count(*) FROM mail_message WHERE model = 'account.online.provider'") == [(0,)]
    assert plaid["company"] == built["other_company"]
    assert (plaid["name"], plaid["provider"], plaid["state"]) == ("Other Bank (previous synchronization)", "plaid",
                                                                  "disconnected")
    assert plaid["accounts"] == [["Checking", "xxxx0000", "Other Bank", "2026-11-10", 1000.0]]
    assert any("cannot synchronize again" in body for body in after["journal_messages"])
    assert any("cannot synchronize again" in body for body in after["other_journal_messages"])
    # The journal's history is untouched; the aggregators are the addon's own.
    assert (after["lines"], after["total"]) == (built["lines"], built["legacy_total"])
    assert after["providers"] == ["demo", "enablebanking", "gocardless", "plaid", "simplefin"]
    assert after["periodicity"] == "week"
    # Plaid keeps its transaction ids: the legacy ones are this addon's now.
    assert after["plaid_identifiers"] == ["plaid-tx-1", "plaid-tx-2"]
    # The legacy module is retired: uninstalled, its records and scheduled action gone, its tables set aside.
    assert (after["module_state"], after["legacy_records"], after["legacy_crons"]) == ("uninstalled", 0, 0)
    assert after["set_aside"] == [True, True]

    synced, next_day = odoo.shell(database, RECONNECT.format(data=data, now=NOW, next_day="2026-11-26 11:00:00"))
    assert synced["state"] == "connected"
    assert synced["account"] == "Current Account" and synced["account_link"]
    assert synced["last_sync"] == NOW[:10]
    # Each of the bank's transactions once (the legacy lines kept, the new ones
    # added, none of the overlap twice), and the journal's balance the bank's.
    bank = sorted(tuple(t) for t in built["bank"])
    journal = sorted((date, amount) for date, amount, _identifier in synced["lines"][1:])
    assert [(d, float(a)) for d, a in journal] == [(d, float(a)) for d, a in bank]
    new = [line for line in synced["lines"] if line[0] > LEGACY_UNTIL]
    assert new and all(identifier and identifier.startswith("BOOK-") for _d, _a, identifier in new)
    assert float(synced["total"]) == float(synced["balance"]) == float(built["balance"])
    assert not synced["balance_difference"]
    assert synced["new_statements_valid"]
    assert next_day["last_sync"] == "2026-11-26"
    assert float(next_day["total"]) == float(next_day["balance"])
    assert not next_day["balance_difference"]
    # The days fetched again (and all the others up to the first sync's) are
    # there once, as the bank has them (the day of the first sync was not over).
    again = sorted((date, float(amount)) for date, amount in next_day["lines"][1:] if date < NOW[:10])
    assert again == sorted((d, float(a)) for d, a in bank if d < NOW[:10])
