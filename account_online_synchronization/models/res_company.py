# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import phonenumbers

from odoo import _, fields, models
from odoo.exceptions import ValidationError


class ResCompany(models.Model):
    _inherit = "res.company"

    # The company's registration for bank synchronization: asked at the first
    # connection, confirmed by an administrator to reactivate a blocked one.
    account_online_phone = fields.Char(
        string="Bank Synchronization Phone",
        groups="account.group_account_manager",
        copy=False,
        help="The phone number given at the first bank connection, in international format. "
        "An administrator confirms it to reactivate a blocked connection.",
    )

    def _online_sync_normalize_phone(self, number):
        """``number`` in E.164 (+3247...), read as a number of the company's
        country when it has no country code; ValidationError when it is no valid
        phone number."""
        self.ensure_one()
        country = self.country_id or self.account_fiscal_country_id
        text = (number or "").strip()
        example = phonenumbers.example_number_for_type(country.code or "BE", phonenumbers.PhoneNumberType.MOBILE)
        hint = _("Type it with its country code, e.g. %(example)s.", example=phonenumbers.format_number(
            example, phonenumbers.PhoneNumberFormat.INTERNATIONAL) if example else "+32 470 12 34 56")
        if not text:
            raise ValidationError(_("Enter a phone number. %(hint)s", hint=hint))
        try:
            parsed = phonenumbers.parse(text, country.code or None)
        except phonenumbers.NumberParseException:
            parsed = None
        if not parsed or not phonenumbers.is_valid_number(parsed):
            raise ValidationError(_("%(number)s is not a valid phone number. %(hint)s", number=text, hint=hint))
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

    def _online_sync_masked_phone(self):
        """The registered number with all but its last two digits hidden."""
        self.ensure_one()
        phone = self.sudo().account_online_phone or ""
        return f"{phone[:3]}{'•' * max(len(phone) - 5, 0)}{phone[-2:]}" if phone else ""
