# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Benchmark: the busy Demo Bank in an Odoo server",
    "version": "19.0.1.0.0",
    "author": "account_online_synchronization contributors",
    "license": "LGPL-3",
    "summary": "Only for bench/: loaded with --load by bench/cron_workers.py, never installed.",
    "depends": ["account_online_synchronization"],
    "installable": True,
}
