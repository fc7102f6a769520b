// License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import { Component } from "@odoo/owl";
import { CopyButton } from "@web/core/copy_button/copy_button";
import { Dialog } from "@web/core/dialog/dialog";
import { standardErrorDialogProps } from "@web/core/errors/error_dialogs";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";

/**
 * A synchronization error as the user needs it: what happened in a sentence,
 * the reference to quote to support (with a button to copy it), and the
 * button that fixes it when there is one (Reconnect, Reactivate).
 * The server raises BankSyncError(message, reference, link id, next step, title).
 */
export class BankSyncErrorDialog extends Component {
    static template = "account_online_synchronization.BankSyncErrorDialog";
    static components = { CopyButton, Dialog };
    static props = { ...standardErrorDialogProps };

    setup() {
        this.orm = useService("orm");
        this.actionService = useService("action");
        const [message, reference, linkId, nextStep, title] = this.props.data.arguments;
        Object.assign(this, { message, reference, linkId, nextStep });
        this.title = title || _t("Bank Synchronization Failed");
        this.nextStepLabel = { reconnect: _t("Reconnect"), reactivate: _t("Reactivate") }[nextStep];
        this.copyLabel = _t("Copy Reference");
        this.copiedLabel = _t("Copied");
    }

    async onClose() {
        this.props.close();
        if (this.linkId) {
            // The connection's state changed (error, disconnected, blocked): show it.
            await this.actionService.doAction({ type: "ir.actions.client", tag: "soft_reload" });
        }
    }

    async onNextStep() {
        const method = this.nextStep === "reactivate" ? "action_reactivate" : "action_reconnect";
        const action = await this.orm.call("account.online.link", method, [[this.linkId]], {
            context: { online_sync_choose_accounts: true },
        });
        this.props.close();
        if (action) {
            await this.actionService.doAction(action);
        }
    }
}

registry
    .category("error_dialogs")
    .add("odoo.addons.account_online_synchronization.models.account_online_link.BankSyncError", BankSyncErrorDialog)
    .add("odoo.addons.account_online_synchronization.models.account_online_link.SyncBlocked", BankSyncErrorDialog)
    .add("odoo.addons.account_online_synchronization.models.account_online_link.SyncInProgress", BankSyncErrorDialog);
