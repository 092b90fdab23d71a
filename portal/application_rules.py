"""
What makes each step of an application valid, and so the application complete: one set of
rules that the step forms apply to what the applicant types and the services apply to what is
stored (before submitting, and to find what a correction may touch).

Each check takes model values (already parsed: dates, decimals, a product) keyed by field
name and returns them normalised with the problems found. A field missing from ``values`` is
not checked (a form leaves out what it could not parse); a check that needs it is skipped.
The application gives the context a step depends on (its applicant type, legal name, business
name). Rules follow the acquirer's: GB 11643 ID numbers, GB 32100 credit codes, Luhn and BIN
for cards, names on accounts, regions that exist.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, validate_email
from django.utils.translation import gettext_lazy as _

from core.validators import normalize_cn_mobile, validate_printable_in_contract
from portal import identity, reference
from portal.models import Application, ApplicationDocument, TerminalProduct
from portal.models.documents import required_slots
from portal.onboarding import DOCUMENT_ITEM_PREFIX, STEPS, STEPS_BY_SLUG, Step

AccountType = Application.AccountType
ApplicantType = Application.ApplicantType
MAX_MONTHLY_VOLUME = Decimal("9999999999.99")
MAX_QUANTITY = 99
# Who may be paid into what: individuals into a personal card, companies into a corporate
# account, sole proprietors into either.
ACCOUNT_TYPES_FOR = {
    ApplicantType.INDIVIDUAL: [AccountType.PERSONAL],
    ApplicantType.SOLE_PROPRIETOR: [AccountType.PERSONAL, AccountType.CORPORATE],
    ApplicantType.COMPANY: [AccountType.CORPORATE],
}
SHIPPING_FIELDS = tuple(name for name in STEPS_BY_SLUG["order"].fields if name.startswith("ship_"))


@dataclass
class Checked:
    """A step's values as they should be stored, and what is wrong with them."""

    values: dict
    errors: dict[str, list[ValidationError]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def add(self, name: str, error: ValidationError) -> None:
        self.errors.setdefault(name, []).append(error)

    def failed(self, name: str) -> bool:
        return name in self.errors

    def has(self, name: str) -> bool:
        """Given, and not already found wrong."""
        return name in self.values and not self.failed(name)

    def filled(self, name: str):
        """The value when it is given, present and not already found wrong, else None."""
        value = self.values.get(name)
        if not self.has(name) or value in (None, ""):
            return None
        return value

    def require(self, name: str) -> None:
        if name in self.values and self.values[name] in (None, "") and not self.failed(name):
            self.add(name, required_error())

    def check(self, name: str, rule: Callable) -> None:
        """Apply ``rule`` to the field's value when it has one; a ValidationError it raises
        is the field's, and what it returns (when not None) is the normalised value."""
        value = self.filled(name)
        if value is None:
            return
        try:
            normalised = rule(value)
        except ValidationError as exc:
            self.add(name, exc)
        else:
            if normalised is not None:
                self.values[name] = normalised


def required_error() -> ValidationError:
    return ValidationError(forms.Field.default_error_messages["required"], code="required")


def _printable(value: str) -> None:
    validate_printable_in_contract(value)


def _one_line(value: str) -> str:
    validate_printable_in_contract(value)
    return " ".join(value.split())


def _mobile(value: str) -> str:
    mobile = normalize_cn_mobile(value)
    if not mobile:
        raise ValidationError(
            _("Enter a mainland China mobile number: 11 digits starting with 13-19."),
            code="invalid_mobile",
        )
    return mobile


def _region(checked: Checked, prefix: str) -> None:
    names = [f"{prefix}{part}" for part in ("province", "city", "district")]
    parts = [checked.filled(name) for name in names]
    if all(parts) and not reference.region_valid(*parts):
        checked.add(
            names[2],
            ValidationError(
                _("This district is not in the chosen city. Choose the city again."),
                code="region_mismatch",
            ),
        )


# -- The steps ----------------------------------------------------------------------------------


def check_identity(values: dict, *, application: Application, today: date) -> Checked:
    checked = Checked(dict(values))
    for name in ("applicant_type", "legal_name", "id_number", "id_valid_from", "contact_mobile"):
        checked.require(name)
    checked.check("applicant_type", _known_choice(ApplicantType.values))
    checked.check("legal_name", _one_line)

    def resident_id(value: str) -> str:
        number = identity.resident_id_validate(value, today=today)
        identity.applicant_age_check(number, today=today)
        return number.number

    checked.check("id_number", resident_id)
    checked.check("contact_mobile", _mobile)
    checked.check("contact_email", validate_email)

    long_term = checked.values.get("id_long_term")
    if long_term:
        checked.values["id_valid_until"] = None
    valid_from = checked.filled("id_valid_from")
    valid_until = checked.values.get("id_valid_until")
    if valid_from and not long_term and not valid_until and checked.has("id_valid_until"):
        checked.add(
            "id_valid_until",
            ValidationError(
                _("Enter the expiry date, or tick “valid long-term” if the card says 长期."),
                code="id_validity_missing",
            ),
        )
    elif valid_from:
        try:
            identity.id_validity_check(valid_from=valid_from, valid_until=valid_until, today=today)
        except ValidationError as exc:
            checked.add(
                "id_valid_from" if exc.code == "id_not_yet_valid" else "id_valid_until", exc
            )
    return checked


def check_business(values: dict, *, application: Application, today: date) -> Checked:
    checked = Checked(dict(values))
    for name in STEPS_BY_SLUG["business"].fields:
        if name != "licence_number":  # only for a licensed business, below
            checked.require(name)
    checked.check("business_name", _printable)
    checked.check("street", _printable)
    checked.check("mcc", _mcc)
    checked.check("expected_monthly_volume", _volume)
    _region(checked, "")
    if application.is_licensed:
        checked.require("licence_number")
        checked.check("licence_number", identity.uscc_validate)
    return checked


def check_settlement(values: dict, *, application: Application, today: date) -> Checked:
    checked = Checked(dict(values))
    for name in ("account_type", "account_number", "account_holder"):
        checked.require(name)
    allowed = ACCOUNT_TYPES_FOR.get(application.applicant_type, list(AccountType))
    checked.check("account_type", _known_choice([t.value for t in allowed]))
    checked.check("account_holder", _one_line)
    checked.check("bank_branch", _printable)
    account_type, number = checked.filled("account_type"), checked.filled("account_number")
    if not (account_type and number):
        return checked
    card = None
    try:
        if account_type == AccountType.PERSONAL:
            checked.values["account_number"], card = identity.settlement_card_validate(number)
            checked.warnings.extend(
                str(warning)
                for warning in identity.card_warnings(
                    card, declared_class=checked.values.get("account_class")
                )
            )
        else:
            checked.values["account_number"] = identity.corporate_account_validate(number)
    except ValidationError as exc:
        checked.add("account_number", exc)
        return checked
    if account_type == AccountType.CORPORATE:
        checked.values["account_class"] = None  # account tiers are for personal accounts
    if card:
        checked.values["bank_code"] = card.bank.code
        if card.account_class:
            checked.values["account_class"] = card.account_class
    elif not checked.values.get("bank_code") and not checked.failed("bank_code"):
        checked.add(
            "bank_code",
            ValidationError(_("Choose the bank that holds this account."), code="no_bank"),
        )
    if (
        account_type == AccountType.CORPORATE
        and not checked.values.get("bank_branch")
        and not checked.failed("bank_branch")
    ):
        checked.add(
            "bank_branch",
            ValidationError(
                _("A corporate account needs the branch where it was opened."), code="no_branch"
            ),
        )
    holder = checked.filled("account_holder")
    if holder and account_type == AccountType.PERSONAL:
        if not identity.holder_name_matches(holder, application.legal_name):
            checked.add(
                "account_holder",
                ValidationError(
                    _(
                        "Payouts to a personal card must go to an account in your own name "
                        "(%(name)s). A card in someone else's name is refused by the bank and "
                        "the payout comes back."
                    ),
                    code="holder_not_applicant",
                    params={"name": application.legal_name},
                ),
            )
    elif holder and not identity.holder_name_matches(holder, application.business_name):
        checked.warnings.append(
            str(
                _(
                    "The account holder differs from the business name (%(name)s). The "
                    "reviewer will check it; a mismatch can delay payouts."
                )
                % {"name": application.business_name}
            )
        )
    return checked


def check_order(values: dict, *, application: Application, today: date) -> Checked:
    checked = Checked(dict(values))
    for name in STEPS_BY_SLUG["order"].fields:
        checked.require(name)
    checked.check("product", _on_sale)
    checked.check("quantity", _quantity)
    product, quantity = checked.filled("product"), checked.filled("quantity")
    if product and quantity and quantity > product.max_quantity:
        checked.add(
            "quantity",
            ValidationError(
                _("At most %(max)d of this terminal per application."),
                code="too_many",
                params={"max": product.max_quantity},
            ),
        )
    checked.check("ship_mobile", _mobile)
    _region(checked, "ship_")
    return checked


CHECKS: dict[str, Callable[..., Checked]] = {
    "identity": check_identity,
    "business": check_business,
    "settlement": check_settlement,
    "order": check_order,
}


def _known_choice(choices) -> Callable[[str], None]:
    def check(value: str) -> None:
        if value not in choices:
            raise ValidationError(
                forms.ChoiceField.default_error_messages["invalid_choice"],
                code="invalid_choice",
                params={"value": value},
            )

    return check


def _mcc(value: str) -> None:
    if reference.mcc_get(value) is None:
        _known_choice(())(value)


def _volume(value: Decimal) -> None:
    MinValueValidator(Decimal("0"))(value)
    MaxValueValidator(MAX_MONTHLY_VOLUME)(value)


def _quantity(value: int) -> None:
    MinValueValidator(1)(value)
    MaxValueValidator(MAX_QUANTITY)(value)


def _on_sale(product: TerminalProduct) -> None:
    if not product.is_active:
        raise ValidationError(
            _("This terminal is no longer offered. Choose another one."), code="not_on_sale"
        )


# -- The application as stored -----------------------------------------------------------------


def stored_values(application: Application, step: Step) -> dict:
    return {name: getattr(application, name) for name in step.fields}


def step_check(application: Application, step: Step, *, today: date) -> Checked:
    """The rules applied to what is stored for ``step``."""
    return CHECKS[step.slug](stored_values(application, step), application=application, today=today)


def incomplete_steps(application: Application, *, today: date) -> list[Step]:
    """The steps whose stored data does not pass their rules today (in step order)."""
    return [step for step in STEPS if step_check(application, step, today=today).errors]


def invalid_fields(application: Application, *, today: date) -> set[str]:
    """Fields whose stored value does not pass the rules today: an ID card that expired since
    the application was submitted, say."""
    return {
        name
        for step in STEPS
        for name in step_check(application, step, today=today).errors
        if name in step.fields
    }


# -- Documents ----------------------------------------------------------------------------------


def documents_current(application: Application) -> dict[str, ApplicationDocument]:
    return {d.slot: d for d in application.documents.filter(replaced_at__isnull=True)}


def documents_missing(application: Application) -> list[str]:
    """Required slots with no current document, or whose document was rejected and not
    uploaded again, or that the reviewer asked for and that were not uploaded since."""
    current = documents_current(application)
    missing = [
        slot
        for slot in required_slots(application)
        if slot not in current or current[slot].verdict == ApplicationDocument.Verdict.REJECTED
    ]
    for request in application.info_requests.filter(
        resolved_at__isnull=True, item__startswith=DOCUMENT_ITEM_PREFIX
    ).select_related("event"):
        slot = request.item.removeprefix(DOCUMENT_ITEM_PREFIX)
        fresh = current.get(slot)
        if (fresh is None or fresh.uploaded_at < request.event.created_at) and slot not in missing:
            missing.append(slot)
    return missing
