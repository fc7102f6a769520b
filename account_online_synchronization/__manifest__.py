# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Online Bank Synchronization",
    "summary": "Import bank transactions automatically from your bank, "
    "grouped in statements, without duplicates or gaps",
    "version": "19.0.1.4.0",
    "category": "Accounting/Accounting",
    "license": "LGPL-3",
    "author": "account_online_synchronization contributors",
    "website": "https://github.com/account-online-synchronization/account_online_synchronization",
    "depends": ["account"],
    # Enable Banking signs its requests (RS256 JWT); Plaid signs its webhooks (ES256).
    "external_dependencies": {"python": ["PyJWT", "cryptography", "phonenumbers"]},
    "data": [
        "security/ir.model.access.csv",
        "security/account_online_synchronization_security.xml",
        "data/account_online_provider_data.xml",
        "data/ir_cron_data.xml",
        "views/account_online_link_views.xml",
        "views/account_online_account_views.xml",
        "views/account_online_provider_views.xml",
        "views/account_online_institution_views.xml",
        "wizard/account_online_connect_wizard_views.xml",
        "wizard/account_online_account_choice_views.xml",
        "wizard/account_online_link_reactivate_views.xml",
        "wizard/account_online_oca_takeover_views.xml",
        "views/account_journal_views.xml",
        "views/account_journal_dashboard_views.xml",
        "views/account_bank_statement_line_views.xml",
        "views/account_online_synchronization_menus.xml",
        "views/account_online_consent_templates.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "account_online_synchronization/static/src/**/*",
        ],
        "web.assets_tests": [
            "account_online_synchronization/static/tests/tours/*.js",
        ],
    },
    "pre_init_hook": "_pre_init_set_aside_legacy_tables",
    "post_init_hook": "_post_init",
    "uninstall_hook": "_uninstall_take_back_basic_accounting",
    "installable": True,
    "auto_install": True,
}
