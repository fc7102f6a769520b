# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Benchmark: the busy Demo Bank account as an OCA online statement provider",
    "version": "19.0.1.0.0",
    "author": "account_online_synchronization contributors",
    "license": "LGPL-3",
    "summary": "Only for bench/: never installed with the addon.",
    "depends": ["account_statement_import_online", "account_online_synchronization"],
    "installable": True,
}
