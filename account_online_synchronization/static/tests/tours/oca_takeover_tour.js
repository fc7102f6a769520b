// License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import { registry } from "@web/core/registry";

const ACCOUNT_CHOICE = ".modal .o_online_sync_account_choice";

// Started by tests/test_oca_takeover.py where OCA's online import is
// installed: the journal "Bank (OCA)" is fed by an OCA online import, the
// company's only one. The administrator takes it over from the Configuration
// menu with the Demo Bank, and synchronizes the account of that journal only.
registry.category("web_tour.tours").add("account_online_synchronization_oca_takeover", {
    url: "/odoo/accounting",
    steps: () => [
        {
            content: "Open the Configuration menu",
            trigger: '.o_main_navbar .o_menu_sections button[data-menu-xmlid="account.menu_finance_configuration"]',
            run: "click",
        },
        {
            content: "Take Over OCA Online Imports",
            trigger: '.o-dropdown--menu .dropdown-item[data-menu-xmlid="account_online_synchronization.menu_account_online_oca_takeover"]',
            run: "click",
        },
        {
            content: "The company's only OCA online import is chosen: its journal is shown",
            trigger: '.modal .o_field_widget[name="journal_id"]:contains("Bank (OCA)")',
        },
        {
            content: "With the transactions OCA imported",
            trigger: '.modal .o_field_widget[name="oca_line_count"]:contains(/[1-9]/)',
        },
        {
            content: "Choose the bank",
            trigger: '.modal .o_field_widget[name="institution_id"] input',
            run: "edit Demo Bank",
        },
        {
            trigger: '.o-autocomplete--dropdown-item:contains("Demo Bank (Demo")',
            run: "click",
        },
        {
            content: "Its aggregator is shown",
            trigger: '.modal .o_field_widget[name="institution_provider_id"]:contains("Demo Bank")',
        },
        {
            content: "Take Over",
            trigger: '.modal button[name="action_take_over"]',
            run: "click",
        },
        {
            content: "The bank consents at once: its Current Account is offered for the journal OCA fed",
            trigger: `${ACCOUNT_CHOICE} .o_data_row:contains("Current Account") .o_data_cell[name="journal_id"]:contains("Bank (OCA)")`,
        },
        {
            content: "Leave the Dollar Account out",
            trigger: `${ACCOUNT_CHOICE} .o_data_row:contains("Dollar Account") .o_field_widget[name="selected"] input:checked`,
            run: "click",
        },
        {
            trigger: `${ACCOUNT_CHOICE} .o_data_row:contains("Dollar Account") .o_field_widget[name="selected"] input:not(:checked)`,
        },
        {
            content: "Leave the Deposit Account out",
            trigger: `${ACCOUNT_CHOICE} .o_data_row:contains("Deposit Account") .o_field_widget[name="selected"] input:checked`,
            run: "click",
        },
        {
            trigger: `${ACCOUNT_CHOICE} .o_data_row:contains("Deposit Account") .o_field_widget[name="selected"] input:not(:checked)`,
        },
        {
            content: "The Current Account stays ticked",
            trigger: `${ACCOUNT_CHOICE} .o_data_row:contains("Current Account") .o_field_widget[name="selected"] input:checked`,
        },
        {
            content: "Synchronize",
            trigger: '.modal button[name="action_synchronize"]',
            run: "click",
        },
        {
            content: "The user is told what came since OCA's last pull",
            trigger: ".o_notification:contains(/Current Account: [1-9]/)",
        },
        {
            content: "The user lands on the connection, connected",
            trigger: '.o_form_view .o_field_widget[name="state"] .o_arrow_button_current[data-value="connected"]',
        },
        {
            content: "The Current Account feeds the journal OCA fed",
            trigger: '.o_form_view .o_field_widget[name="account_online_account_ids"] .o_data_row:contains("Current Account"):contains("Bank (OCA)")',
        },
        {
            content: "No dialog is left open",
            trigger: "body:not(:has(.modal))",
        },
    ],
});
