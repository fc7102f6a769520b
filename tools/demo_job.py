# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
# The main job, run inside `odoo-bin shell` (where `env` is defined):
# connect the Demo Bank once, synchronize, and print what is in the books.
import datetime
import sys

# As the administrator of the database, not as the superuser of the shell.
env = env(user=env.ref("base.user_admin"))  # noqa: F821 - provided by odoo-bin shell
Link = env["account.online.link"]
link = Link.search([("institution_id.identifier", "=", "DEMO_BANK")], limit=1)
if not link:
    institution = env["account.online.institution"].search(
        [("identifier", "=", "DEMO_BANK")], limit=1
    )
    if not env.company.partner_id.tz:
        env.company.partner_id.tz = "Europe/Brussels"
    link = Link.create({"institution_id": institution.id})
    link.action_connect()
    print(f"Connected {link.name}: {len(link.account_online_account_ids)} bank accounts.")
else:
    link.action_fetch_transactions()
env.cr.commit()

print(f"\nConnection: {link.name}  state: {link.state}  client reference: {link.client_reference}")
client = link.provider_id._get_client()
pending_lines = 0
for account in link.account_online_account_ids:
    journal = account.journal_ids
    lines = env["account.bank.statement.line"].search([("journal_id", "=", journal.id)])
    # Ask the bank which of its transactions are still pending.
    pending = {
        t.identifier for t in client.get_transactions(
            link._get_consent(), account.online_identifier, account.last_sync - datetime.timedelta(days=90),
            account.last_sync,
        ) if not t.is_posted
    }
    pending_lines += len(set(lines.mapped("online_transaction_identifier")) & pending)
    journal_balance = sum(lines.mapped("amount"))
    print(f"\nJournal {journal.name} ({journal.code}, {account.currency_id.name}): "
          f"{len(lines)} lines, synchronized until {account.last_sync}")
    print(f"  journal balance {journal_balance:.2f}, bank balance {account.balance:.2f}: "
          + ("equal" if not account.balance_difference else f"DIFFERENT by {account.balance_difference:.2f}"))
    statements = env["account.bank.statement"].search([("journal_id", "=", journal.id)], order="first_line_index")
    for statement in statements:
        print(f"  {statement.name:<28} {len(statement.line_ids):>4} lines  "
              f"{statement.balance_start:>12.2f} -> {statement.balance_end_real:>12.2f}"
              f"  {'complete' if statement.is_complete else 'INCOMPLETE'}")
print(f"\nPending transactions at the bank imported as lines: {pending_lines} (expected: 0)")
sys.stdout.flush()
