"""
The shape of an application: its steps, the fields each step owns, and the items a reviewer
can ask the applicant to fix. Forms, services, the admin and the templates all read this.
"""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from core.transitions import StateError


class ApplicationStateError(StateError):
    """The application is not in a state that allows this (someone else may have acted)."""


@dataclass(frozen=True)
class Step:
    slug: str
    title: Promise
    fields: tuple[str, ...]


STEPS = (
    Step(
        "identity",
        _("Identity"),
        (
            "applicant_type",
            "legal_name",
            "id_number",
            "id_valid_from",
            "id_valid_until",
            "id_long_term",
            "contact_mobile",
            "contact_email",
        ),
    ),
    Step(
        "business",
        _("Business"),
        (
            "business_name",
            "province",
            "city",
            "district",
            "street",
            "mcc",
            "expected_monthly_volume",
            "licence_number",
        ),
    ),
    Step(
        "settlement",
        _("Settlement account"),
        (
            "account_type",
            "account_number",
            "bank_code",
            "bank_branch",
            "account_holder",
            "account_class",
        ),
    ),
    Step(
        "order",
        _("Terminal and delivery"),
        (
            "product",
            "quantity",
            "ship_name",
            "ship_mobile",
            "ship_province",
            "ship_city",
            "ship_district",
            "ship_street",
        ),
    ),
)
STEPS_BY_SLUG = {step.slug: step for step in STEPS}


@dataclass(frozen=True)
class FixItem:
    """Something a reviewer can ask to have corrected: fields to edit, or a document to
    upload again (``document`` is its slot)."""

    key: str
    label: Promise
    fields: tuple[str, ...]
    document: str = ""

    @property
    def step(self) -> Step | None:
        if not self.fields:
            return None
        return next(step for step in STEPS if self.fields[0] in step.fields)


DOCUMENT_ITEM_PREFIX = "document:"
DOCUMENT_LABELS = {
    "id_front": _("ID card, photo side"),
    "id_back": _("ID card, national emblem side"),
    "bank_card": _("Settlement bank card, front"),
    "business_licence": _("Business licence"),
    "storefront": _("Shop front"),
    "holding_id": _("You holding your ID card"),
}


FIX_ITEMS = (
    FixItem("applicant_type", _("Applicant type"), ("applicant_type",)),
    FixItem("legal_name", _("Legal name"), ("legal_name",)),
    FixItem("id_number", _("Resident ID number"), ("id_number",)),
    FixItem(
        "id_validity", _("ID card validity"), ("id_valid_from", "id_valid_until", "id_long_term")
    ),
    FixItem("contact", _("Mobile number and e-mail"), ("contact_mobile", "contact_email")),
    FixItem("business_name", _("Business name"), ("business_name",)),
    FixItem("business_address", _("Business address"), ("province", "city", "district", "street")),
    FixItem("mcc", _("Business category"), ("mcc",)),
    FixItem("expected_volume", _("Expected monthly takings"), ("expected_monthly_volume",)),
    FixItem("licence_number", _("Unified social credit code"), ("licence_number",)),
    FixItem(
        "settlement_account",
        _("Settlement account"),
        (
            "account_type",
            "account_number",
            "bank_code",
            "bank_branch",
            "account_holder",
            "account_class",
        ),
    ),
    FixItem("order", _("Terminal and quantity"), ("product", "quantity")),
    FixItem(
        "shipping_address",
        _("Delivery address"),
        (
            "ship_name",
            "ship_mobile",
            "ship_province",
            "ship_city",
            "ship_district",
            "ship_street",
        ),
    ),
)
FIX_ITEMS = (
    *FIX_ITEMS,
    *(
        FixItem(f"{DOCUMENT_ITEM_PREFIX}{slot}", label, (), document=slot)
        for slot, label in DOCUMENT_LABELS.items()
    ),
)
FIX_ITEMS_BY_KEY = {item.key: item for item in FIX_ITEMS}
FIX_ITEM_CHOICES = [(item.key, item.label) for item in FIX_ITEMS]


def fix_item_label(key: str) -> str:
    item = FIX_ITEMS_BY_KEY.get(key)
    return str(item.label) if item else key


# Correcting one item can break another the applicant could not otherwise touch: a new legal
# name must match the name on the personal card, a new applicant type changes whether a
# licence number is needed and which accounts are allowed. Those follow along as editable.
FIX_ITEM_DEPENDENTS = {
    "applicant_type": ("licence_number", "settlement_account"),
    "legal_name": ("settlement_account",),
}


def editable_fields(item_keys) -> set[str]:
    """The fields an applicant may change to correct these items."""
    keys = set(item_keys)
    for key in list(keys):
        keys.update(FIX_ITEM_DEPENDENTS.get(key, ()))
    return {field for key in keys for field in FIX_ITEMS_BY_KEY[key].fields}
