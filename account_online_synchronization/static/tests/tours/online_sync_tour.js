// License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import { registry } from "@web/core/registry";

// Started by tests/test_online_sync_tour.py, which connects the Demo Bank and
// removes some transactions of "Demo Bank Current Account" (every
// "Office rent" among them) so that Synchronize Now has lines to import.
const CARD = '.o_kanban_record:contains("Demo Bank Current Account")';

registry.category("web_tour.tours").add("account_online_synchronization_sync_now", {
    url: "/odoo/action-account.open_account_journal_dashboard_kanban",
    steps: () => [
        {
            content: "The dashboard shows the card of the connected bank journal",
            trigger: `${CARD} .o_online_sync_now:contains("Synchronize Now")`,
        },
        {
            content: "Click Synchronize Now on the Demo Bank Current Account card",
            trigger: `${CARD} button.o_online_sync_now`,
            async run(helpers) {
                // Mark the dashboard shown before the sync: the sync ends with
                // a soft reload that replaces it with a fresh one.
                this.anchor.closest(".o_kanban_renderer").classList.add("o_aos_before_sync");
                await helpers.click();
            },
        },
        {
            content: "The user is told which bank and accounts brought new transactions (not zero)",
            trigger: ".o_notification:contains(/Demo Bank: [1-9][0-9]* new transaction.s. .Current Account: [1-9]/)",
        },
        {
            content: "The dashboard is reloaded after the synchronization",
            trigger: `.o_kanban_renderer:not(.o_aos_before_sync) ${CARD}`,
        },
        {
            // The card renders its graph once its data is in: opening the menu
            // before that would see it closed by the render.
            content: "The card of the reloaded dashboard shows its graph",
            trigger: `.o_kanban_renderer:not(.o_aos_before_sync) ${CARD} canvas`,
        },
        {
            content: "Open the Bank Transactions of the journal from the card's menu",
            trigger: `.o_kanban_renderer:not(.o_aos_before_sync) ${CARD}`,
            async run(helpers) {
                // On a busy machine a late render of the card can close the
                // menu just opened: open it again, as a user would.
                const card = `.o_kanban_renderer:not(.o_aos_before_sync) ${CARD}`;
                const findItem = () =>
                    [...document.querySelectorAll(".o-dropdown--kanban-record-menu a")].find((link) =>
                        link.textContent.includes("Bank Transactions")
                    );
                for (let attempt = 0; attempt < 5 && !findItem(); attempt++) {
                    await helpers.hover(card);
                    await helpers.click(`${card} .o_dropdown_kanban .dropdown-toggle`);
                    await new Promise((resolve) => setTimeout(resolve, 500));
                }
                await helpers.click(findItem());
            },
        },
        {
            content: "The list of the journal's transactions is open",
            trigger: '.o_breadcrumb:contains("Bank Transactions")',
        },
        {
            content: "A re-imported transaction is listed, with its counterparty",
            trigger:
                '.o_list_view .o_data_row:contains("Office rent"):contains("Immobilière Lefèvre SA")',
        },
    ],
});

// Started by tests/test_online_sync_tour.py with the Demo Bank connected: the
// administrator goes through Configuration to the connection and fetches.
registry.category("web_tour.tours").add("account_online_synchronization_connection_screens", {
    url: "/odoo/accounting",
    steps: () => [
        {
            content: "Open the Configuration menu",
            trigger: '.o_main_navbar .o_menu_sections button:contains("Configuration")',
            run: "click",
        },
        {
            content: "The Online Synchronization section lists Bank Connections",
            trigger: '.o-dropdown--menu .dropdown-item:contains("Bank Connections")',
            run: "click",
        },
        {
            content: "The list of connections shows the Demo Bank, connected",
            trigger: '.o_list_view .o_data_row:contains("Demo Bank"):contains("Connected")',
        },
        {
            content: "Open the connection",
            trigger: '.o_list_view .o_data_row:contains("Demo Bank") .o_data_cell[name="name"]',
            run: "click",
        },
        {
            content: "The form shows the connection's state and timezone",
            trigger: '.o_form_view .o_statusbar_status .o_arrow_button_current:contains("Connected")',
        },
        {
            content: "The timezone is there",
            trigger: '.o_form_view .o_field_widget[name="timezone"]',
        },
        {
            content: "Its bank accounts are listed with their journals",
            trigger: '.o_form_view .o_field_widget[name="account_online_account_ids"] .o_data_row:contains("Current Account"):contains("Demo Bank Current Account")',
        },
        {
            content: "Fetch the transactions",
            trigger: '.o_form_view .o_form_statusbar button[name="action_fetch_transactions"]',
            run: "click",
        },
        {
            content: "The user is told how many transactions were imported",
            trigger: '.o_notification:contains("Demo Bank: 0 new transaction(s)")',
        },
    ],
});

// Started by tests/test_online_sync_tour.py after a line of "Demo Bank
// Current Account" went missing: the card says so, and leads to why.
registry.category("web_tour.tours").add("account_online_synchronization_balance_difference", {
    url: "/odoo/accounting",
    steps: () => [
        {
            content: "The card of the journal says its balance differs from the bank's",
            trigger: `${CARD} .o_online_balance_difference:contains("Differs from Bank")`,
        },
        screenshot("card-balance-difference", CARD),
        {
            content: "Open what the difference is about",
            trigger: `${CARD} .o_online_balance_difference a`,
            run: "click",
        },
        {
            content: "The connection's chatter gives both balances and the difference",
            trigger: '.o-mail-Message:contains("a difference of"):contains("Transactions are missing or counted twice")',
        },
    ],
});

// Started by tests/test_online_sync_tour.py with GoCardless pointed at its
// emulator: the administrator adds a bank account, goes to the bank's page in
// the same tab (where the test clicks Approve, as the user would), and comes
// back to Odoo on the connection.
registry.category("web_tour.tours").add("account_online_synchronization_connect_gocardless", {
    url: "/odoo/accounting",
    steps: () => [
        {
            content: "Open the Configuration menu",
            trigger: '.o_main_navbar .o_menu_sections button:contains("Configuration")',
            run: "click",
        },
        {
            content: "Add a Bank Account",
            trigger: '.o-dropdown--menu .dropdown-item:contains("Add a Bank Account")',
            run: "click",
        },
        {
            content: "Banks are searched in the company's country first: look in Belgium instead",
            trigger: '.modal .o_field_widget[name="country_id"] input',
            run: "edit Belgium",
        },
        {
            trigger: '.o-autocomplete--dropdown-item:contains("Belgium")',
            run: "click",
        },
        {
            content: "One search over every aggregator's banks: the Demo Neobank, in beta",
            trigger: '.modal .o_field_widget[name="institution_id"] input',
            run: "edit Neobank",
        },
        {
            trigger: '.o-autocomplete--dropdown-item:contains("Demo Neobank (Demo Bank, Beta)")',
            run: "click",
        },
        {
            content: "A beta bank is announced as such: the user may still go on",
            trigger: '.modal .o_online_sync_beta_warning:contains("in beta")',
        },
        {
            content: "Choose another bank, by its BIC: Sandbox Finance, at GoCardless",
            trigger: '.modal .o_field_widget[name="institution_id"] input',
            run: "edit SFIN0000",
        },
        {
            trigger: '.o-autocomplete--dropdown-item:contains("Sandbox Finance (GoCardless Bank Account Data)")',
            run: "click",
        },
        {
            content: "No beta warning for it",
            trigger: '.modal:not(:has(.o_online_sync_beta_warning)) .o_field_widget[name="institution_provider_id"]:contains("GoCardless Bank Account Data")',
        },
        {
            content: "Connect: the bank's page opens in this tab",
            trigger: '.modal button[name="action_connect"]',
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Back from the bank, on the connection: connected",
            trigger: '.o_form_view .o_field_widget[name="state"] .o_arrow_button_current:contains("Connected")',
            timeout: 30000,
        },
        {
            content: "The connection asks which accounts to synchronize",
            trigger: '.o_form_view .o_online_sync_choice_pending:contains("Choose Accounts")',
        },
        {
            content: "Choose Accounts",
            trigger: '.o_form_view .o_form_statusbar button[name="action_choose_accounts"]',
            run: "click",
        },
        {
            content: "The bank's account is offered, ticked",
            trigger: '.modal .o_online_sync_account_choice .o_data_row:contains("Compte Principal") .o_field_widget[name="selected"] input:checked',
        },
        {
            content: "Synchronize it",
            trigger: '.modal button[name="action_synchronize"]',
            run: "click",
        },
        {
            content: "The user is told what came",
            trigger: '.o_notification:contains("Sandbox Finance: 1 new transaction(s) (Compte Principal: 1).")',
        },
        {
            content: "Its bank accounts are listed, each with its journal",
            trigger:
                '.o_field_widget[name="account_online_account_ids"] .o_data_row:contains("Compte Principal"):has(.o_field_many2many_tags .badge)',
        },
    ],
});

// Started by tests/test_online_sync_tour.py with the Demo Bank connection in
// error and its consent ending in two days: the card says both, and leads to
// the connection, where Reconnect mends it.
registry.category("web_tour.tours").add("account_online_synchronization_card_health", {
    url: "/odoo/action-account.open_account_journal_dashboard_kanban",
    steps: () => [
        {
            content: "The card says that the last synchronization failed",
            trigger: `${CARD} .o_online_sync_failed:contains("Synchronization failed")`,
        },
        {
            content: "The card says until when the bank is connected, in red so close to the end",
            trigger: `${CARD} .o_online_connected_until.text-danger:contains("Connected until")`,
        },
        {
            content: "The card tells when it was last synchronized",
            trigger: `${CARD} .o_online_last_refresh:contains("Synchronized")`,
        },
        screenshot("card-error-consent-ending", CARD),
        {
            content: "Open the connection from the card",
            trigger: `${CARD} .o_online_sync_failed a`,
            run: "click",
        },
        {
            content: "The connection is in error",
            trigger: '.o_form_view .o_field_widget[name="state"] .o_arrow_button_current:contains("Error")',
        },
        {
            content: "Reconnect",
            trigger: '.o_form_view .o_form_statusbar button[name="action_reconnect"]',
            run: "click",
        },
        {
            content: "The user is told the bank is connected again",
            trigger: '.o_notification:contains("Connected to Demo Bank")',
        },
        {
            content: "The connection is connected again, on the same page",
            trigger: '.o_form_view .o_field_widget[name="state"] .o_arrow_button_current:contains("Connected")',
        },
        {
            content: "Reconnecting opened nothing new: the breadcrumb still ends with the connection",
            trigger: '.o_breadcrumb:not(:contains("Demo Bank / Demo Bank"))',
        },
    ],
});

// A step that asks the test (tests/test_online_sync_tour.py) for a screenshot
// of what ``trigger`` shows: the dashboard card in one of its states, for the
// README. The test's browser takes it from the console message.
function screenshot(name, trigger) {
    return {
        content: `Screenshot: ${name}`,
        trigger,
        async run() {
            const rect = this.anchor.getBoundingClientRect();
            console.log(`aos-screenshot:${JSON.stringify({
                name, x: rect.x, y: rect.y + window.scrollY, width: rect.width, height: rect.height,
            })}`);
            // Let the browser take it before the page changes.
            await new Promise((resolve) => setTimeout(resolve, 1000));
        },
    };
}

const BANK_CARD = '.o_kanban_record:has(a.fs-4:contains(/^Bank$/))';

// Started by tests/test_online_sync_tour.py in a fresh database (Belgian
// company, nothing connected): the administrator connects the Demo Bank from
// the empty Bank journal's card, gives the company's phone number (a wrong one
// first), synchronizes two of its three accounts, then adds the third with
// Fetch Accounts.
registry.category("web_tour.tours").add("account_online_synchronization_connect_from_bank_card", {
    url: "/odoo/action-account.open_account_journal_dashboard_kanban",
    steps: () => [
        {
            content: "The empty Bank journal's card offers to set the bank up",
            trigger: `${BANK_CARD} button[name="action_configure_bank_journal"]`,
            run: "click",
        },
        {
            content: "Add a Bank Account opens, for the Bank journal",
            trigger: '.modal .o_field_widget[name="journal_id"]:contains("Bank")',
        },
        {
            content: "Banks of the company's country are offered first",
            trigger: '.modal .o_field_widget[name="country_id"] input:value(Belgium)',
        },
        {
            content: "Search the Demo Bank",
            trigger: '.modal .o_field_widget[name="institution_id"] input',
            run: "edit Demo Bank",
        },
        {
            trigger: '.o-autocomplete--dropdown-item:contains("Demo Bank (Demo")',
            run: "click",
        },
        {
            content: "The company's phone number is asked, once: type a wrong one",
            trigger: '.modal .o_field_widget[name="phone"] input',
            run: "edit 12",
        },
        {
            content: "Connect",
            trigger: '.modal button[name="action_connect"]',
            run: "click",
        },
        {
            content: "The wrong number is refused, and said why",
            trigger: '.modal .modal-body:contains("12 is not a valid phone number")',
        },
        {
            content: "Close the message",
            trigger: '.modal:has(.modal-body:contains("not a valid phone number")) .modal-footer button',
            run: "click",
        },
        {
            content: "Type the right number, as people write it in Belgium",
            trigger: '.modal .o_field_widget[name="phone"] input',
            run: "edit 0470 12 34 56",
        },
        {
            content: "Connect",
            trigger: '.modal button[name="action_connect"]',
            run: "click",
        },
        {
            content: "The bank's three accounts are offered; the Dollar Account goes to the empty Bank journal (USD, like the company)",
            trigger: '.modal .o_online_sync_account_choice .o_data_row:contains("Dollar Account") .o_data_cell[name="journal_id"]:contains("Bank")',
        },
        {
            content: "The Current Account (EUR) gets a new journal",
            trigger: '.modal .o_online_sync_account_choice .o_data_row:contains("Current Account") .o_data_cell[name="journal_id"]:not(:contains("Bank"))',
        },
        {
            content: "Leave the Deposit Account out",
            trigger: '.modal .o_online_sync_account_choice .o_data_row:contains("Deposit Account") .o_field_widget[name="selected"] input',
            run: "click",
        },
        {
            trigger: '.modal .o_online_sync_account_choice .o_data_row:contains("Deposit Account") .o_field_widget[name="selected"] input:not(:checked)',
        },
        {
            content: "Synchronize the two others",
            trigger: '.modal button[name="action_synchronize"]',
            run: "click",
        },
        {
            content: "The user is told what came, bank and accounts named",
            trigger: ".o_notification:contains(/Demo Bank: [1-9][0-9]* new transaction.s. .Current Account: [1-9][0-9]*, Dollar Account: [1-9]/)",
        },
        {
            content: "The Bank journal's card now synchronizes",
            trigger: `${BANK_CARD} .o_online_sync_now`,
        },
        {
            content: "The card says when it was synchronized",
            trigger: `${BANK_CARD} .o_online_last_refresh:contains("Synchronized")`,
        },
        screenshot("card-connected", BANK_CARD),
        {
            content: "Open the Configuration menu",
            trigger: '.o_main_navbar .o_menu_sections button:contains("Configuration")',
            run: "click",
        },
        {
            trigger: '.o-dropdown--menu .dropdown-item:contains("Bank Connections")',
            run: "click",
        },
        {
            content: "Open the Demo Bank connection",
            trigger: '.o_list_view .o_data_row:contains("Demo Bank") .o_data_cell[name="name"]',
            run: "click",
        },
        {
            content: "The Deposit Account is listed, without journal",
            trigger: '.o_field_widget[name="account_online_account_ids"] .o_data_row:contains("Deposit Account")',
        },
        {
            content: "Fetch Accounts",
            trigger: '.o_form_view .o_form_statusbar button[name="action_fetch_accounts"]',
            run: "click",
        },
        {
            content: "Only the account left out is offered",
            trigger: '.modal .o_online_sync_account_choice:not(:has(.o_data_row:contains("Current Account"))) .o_data_row:contains("Deposit Account")',
        },
        {
            content: "Synchronize it",
            trigger: '.modal button[name="action_synchronize"]',
            run: "click",
        },
        {
            content: "Its transactions came",
            trigger: ".o_notification:contains(/Deposit Account: [1-9]/)",
        },
        {
            content: "It now has its journal",
            trigger: '.o_field_widget[name="account_online_account_ids"] .o_data_row:contains("Deposit Account"):contains("Demo Bank Deposit Account")',
        },
    ],
});

// Started by tests/test_online_sync_tour.py with the Demo Bank's consent over:
// Synchronize Now says so in a dialog with the reference and Reconnect.
registry.category("web_tour.tours").add("account_online_synchronization_reconnect_from_card", {
    url: "/odoo/action-account.open_account_journal_dashboard_kanban",
    steps: () => [
        {
            content: "Synchronize Now on the card",
            trigger: `${CARD} button.o_online_sync_now`,
            run: "click",
        },
        {
            content: "The dialog says what happened, not 'Invalid Operation'",
            trigger: '.modal .modal-title:contains("Demo Bank Needs a New Consent")',
        },
        {
            content: "It gives the reference to quote, with a button to copy it",
            trigger: '.modal .o_online_sync_error_reference code:contains(/^[0-9]{8}-[0-9a-f]{8}$/)',
        },
        {
            trigger: ".modal .o_online_sync_copy_reference:contains(Copy Reference)",
        },
        {
            content: "And Reconnect",
            trigger: ".modal .o_online_sync_error_next_step:contains(Reconnect)",
        },
        screenshot("error-dialog", ".modal .modal-content"),
        {
            content: "Reconnect from the dialog",
            trigger: ".modal .o_online_sync_error_next_step",
            run: "click",
        },
        {
            content: "The bank is connected again",
            trigger: '.o_notification:contains("Connected to Demo Bank")',
        },
        {
            content: "The card synchronizes again",
            trigger: `${CARD} button.o_online_sync_now`,
        },
    ],
});

// Started by tests/test_online_sync_tour.py with the Demo Bank disconnected
// (its consent ended): the card offers Reconnect Bank, which mends it.
registry.category("web_tour.tours").add("account_online_synchronization_reconnect_card", {
    url: "/odoo/action-account.open_account_journal_dashboard_kanban",
    steps: () => [
        {
            content: "The card offers to reconnect the bank",
            trigger: `${CARD} button.o_online_sync_reconnect:contains("Reconnect Bank")`,
        },
        screenshot("card-disconnected", CARD),
        {
            content: "Reconnect Bank",
            trigger: `${CARD} button.o_online_sync_reconnect`,
            run: "click",
        },
        {
            content: "The bank is connected again",
            trigger: '.o_notification:contains("Connected to Demo Bank")',
        },
        {
            content: "The card synchronizes again",
            trigger: `${CARD} button.o_online_sync_now`,
        },
    ],
});

// Started by tests/test_online_sync_tour.py with the Demo Bank connection
// blocked (the aggregator suspended it): the card says so; the administrator
// reactivates it by confirming the company's phone number.
registry.category("web_tour.tours").add("account_online_synchronization_reactivate", {
    url: "/odoo/action-account.open_account_journal_dashboard_kanban",
    steps: () => [
        {
            content: "The card says the connection is blocked",
            trigger: `${CARD} .o_online_sync_blocked:contains("Connection blocked")`,
        },
        screenshot("card-blocked", CARD),
        {
            content: "Open the connection from the card",
            trigger: `${CARD} .o_online_sync_blocked a`,
            run: "click",
        },
        {
            content: "The connection says why nothing is sent",
            trigger: '.o_form_view .o_online_sync_blocked:contains("Suspended")',
        },
        {
            content: "Reactivate",
            trigger: '.o_form_view .o_form_statusbar button[name="action_reactivate"]',
            run: "click",
        },
        {
            content: "Confirm the company's phone number",
            trigger: '.modal .o_field_widget[name="phone"] input',
            run: "edit +32 470 12 34 56",
        },
        {
            trigger: '.modal button[name="action_reactivate"]',
            run: "click",
        },
        {
            content: "The user is told it is reactivated",
            trigger: '.o_notification:contains("Demo Bank is reactivated")',
        },
        {
            content: "The alert is gone",
            trigger: '.o_form_view:not(:has(.o_online_sync_blocked:visible)) .o_form_statusbar:not(:has(button[name="action_reactivate"]))',
        },
    ],
});

// Opens a menu of Accounting's Configuration, by the menus' XML ids.
function configurationMenu(menuXmlid) {
    return [
        {
            content: "Open the Configuration menu",
            trigger: '.o_main_navbar .o_menu_sections button[data-menu-xmlid="account.menu_finance_configuration"]',
            run: "click",
        },
        {
            content: `Open ${menuXmlid}`,
            trigger: `.o-dropdown--menu .dropdown-item[data-menu-xmlid="${menuXmlid}"]`,
            run: "click",
        },
    ];
}

const LEGACY_LINK = "Demo Bank (previous synchronization)";
const ACCOUNT_CHOICE = ".modal .o_online_sync_account_choice";
const LINK_ACCOUNTS = '.o_form_view .o_field_widget[name="account_online_account_ids"]';

// Started by tests/test_online_sync_tour.py with a connection taken over from
// the legacy module at install: not connected, no bank yet, its Current
// Account feeding the journal the legacy module fed ("Bank Legacy"). The
// administrator chooses the bank, reconnects, and chooses the other accounts.
registry.category("web_tour.tours").add("account_online_synchronization_reconnect_legacy", {
    url: "/odoo/accounting",
    steps: () => [
        ...configurationMenu("account_online_synchronization.menu_account_online_link"),
        {
            content: "Open the connection taken over from the legacy module",
            trigger: `.o_list_view .o_data_row:contains("${LEGACY_LINK}") .o_data_cell[name="name"]`,
            run: "click",
        },
        {
            content: "It is not connected",
            trigger: '.o_form_view .o_field_widget[name="state"] .o_arrow_button_current[data-value="disconnected"]',
        },
        {
            content: "Its Current Account feeds the journal the legacy module fed",
            trigger: `${LINK_ACCOUNTS} .o_data_row:contains("Current Account"):contains("Bank Legacy")`,
        },
        {
            content: "Choose the bank: the Bank field is editable, the connection has none yet",
            trigger: '.o_form_view .o_field_widget[name="institution_id"] input',
            run: "edit Demo Bank",
        },
        {
            trigger: '.o-autocomplete--dropdown-item:contains("Demo Bank")',
            run: "click",
        },
        {
            content: "The bank's aggregator comes with it",
            trigger: '.o_form_view .o_field_widget[name="provider_id"]:contains("Demo Bank")',
        },
        {
            content: "Reconnect",
            trigger: '.o_form_view .o_form_statusbar button[name="action_reconnect"]',
            run: "click",
        },
        {
            content: "The bank consents at once; its other accounts are offered, not the Current Account, found again by its number",
            trigger: `${ACCOUNT_CHOICE}:not(:has(.o_data_row:contains("Current Account"))) .o_data_row:contains("Deposit Account")`,
        },
        {
            content: "Leave the Dollar Account out",
            trigger: `${ACCOUNT_CHOICE} .o_data_row:contains("Dollar Account") .o_field_widget[name="selected"] input`,
            run: "click",
        },
        {
            trigger: `${ACCOUNT_CHOICE} .o_data_row:contains("Dollar Account") .o_field_widget[name="selected"] input:not(:checked)`,
        },
        {
            content: "The Deposit Account stays ticked",
            trigger: `${ACCOUNT_CHOICE} .o_data_row:contains("Deposit Account") .o_field_widget[name="selected"] input:checked`,
        },
        {
            content: "Synchronize",
            trigger: '.modal button[name="action_synchronize"]',
            run: "click",
        },
        {
            content: "The user is told what came, the Current Account's transactions since the legacy module included",
            trigger: `.o_notification:contains(/Current Account: [1-9][0-9]*, Deposit Account: [1-9]/)`,
        },
        {
            content: "The connection is connected",
            trigger: '.o_form_view .o_field_widget[name="state"] .o_arrow_button_current[data-value="connected"]',
        },
        {
            content: "The Deposit Account now has its journal",
            trigger: `${LINK_ACCOUNTS} .o_data_row:contains("Deposit Account") .o_field_many2many_tags .badge`,
        },
        {
            content: "The Current Account still feeds the legacy journal, the Dollar Account nothing",
            trigger: `${LINK_ACCOUNTS}:has(.o_data_row:contains("Current Account"):contains("Bank Legacy")) .o_data_row:contains("Dollar Account"):not(:has(.o_field_many2many_tags .badge))`,
        },
        {
            content: "No account choice is pending, and the bank is set",
            trigger: '.o_form_view:not(:has(.o_online_sync_choice_pending:visible)) .o_field_widget[name="institution_id"]:contains("Demo Bank")',
        },
    ],
});
