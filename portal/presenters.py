"""How an application reads back: to the applicant before submitting, and to the reviewer."""

from django.utils.translation import gettext as _

from portal import reference
from portal.models import Application, RiskFlag
from portal.onboarding import STEPS
from portal.templatetags.portal import yuan


def application_summary(application: Application) -> list[tuple[str, list[tuple[str, str]]]]:
    """What the applicant entered, for reading back: sensitive numbers masked."""
    province, city, district = reference.region_names(
        application.province, application.city, application.district
    )
    ship = reference.region_names(
        application.ship_province, application.ship_city, application.ship_district
    )
    mcc = reference.mcc_get(application.mcc) if application.mcc else None
    identity_rows = [
        (_("Applicant type"), application.get_applicant_type_display()),
        (_("Legal name"), application.legal_name),
        (_("Resident ID number"), application.id_number_masked),
        (_("ID valid"), _id_validity(application)),
        (_("Mobile number"), application.contact_mobile),
        (_("E-mail"), application.contact_email),
    ]
    business_rows = [
        (_("Business name"), application.business_name),
        (_("Address"), _address(province, city, district, application.street)),
        (_("Business category"), f"{mcc.code} · {mcc.name}" if mcc else application.mcc),
        (_("Expected monthly card takings (CNY)"), yuan(application.expected_monthly_volume)),
    ]
    if application.is_licensed:
        business_rows.append((_("Unified social credit code"), application.licence_number))
    settlement_rows = [
        (_("Account type"), application.get_account_type_display()),
        (_("Card or account number"), application.account_number_masked),
        (_("Bank"), _bank_name(application.bank_code) or application.bank_name),
        (_("Branch"), application.bank_branch),
        (_("Account holder"), application.account_holder),
        (_("Account class"), _account_class(application.account_class)),
    ]
    order_rows = [
        (_("Terminal"), application.product.display_name if application.product else ""),
        (_("Quantity"), str(application.quantity)),
        (_("Recipient"), f"{application.ship_name} {application.ship_mobile}".strip()),
        (_("Delivery address"), _address(*ship, application.ship_street)),
    ]
    return list(
        zip(
            [str(step.title) for step in STEPS],
            [identity_rows, business_rows, settlement_rows, order_rows],
            strict=True,
        )
    )


def _bank_name(code: str) -> str:
    bank = reference.bank_get(code) if code else None
    return bank.name if bank else ""


def _account_class(account_class: int | None) -> str:
    return {1: _("Type I"), 2: _("Type II"), 3: _("Type III")}.get(account_class, _("Not sure"))


def _address(*parts: str) -> str:
    # A municipality is its own city (上海市 上海市 徐汇区): say it once.
    shown: list[str] = []
    for part in parts:
        if part and part not in shown:
            shown.append(part)
    return " ".join(shown)


def _id_validity(application: Application) -> str:
    if application.id_long_term:
        return _("from %(start)s, long-term") % {"start": application.id_valid_from or ""}
    return f"{application.id_valid_from or ''} – {application.id_valid_until or ''}"


def risk_flag_explanation(flag: RiskFlag) -> str:
    """Why a flag fired, in words a reviewer can act on."""
    details = flag.details
    code = RiskFlag.Code
    if flag.code in (code.DUPLICATE_ID, code.DUPLICATE_ACCOUNT):
        return _("Also on application(s): %(numbers)s") % {
            "numbers": ", ".join(details.get("applications", []))
        }
    if flag.code == code.NAME_MISMATCH:
        return _("Account holder “%(holder)s” is not “%(expected)s”") % details
    if flag.code in (code.UNDER_18, code.OVER_70):
        return _("The ID number gives an age of %(age)s") % details
    if flag.code == code.HIGH_VOLUME:
        return _("Expects %(expected)s a month; above %(threshold)s for category %(mcc)s") % {
            "expected": yuan(details["expected"]),
            "threshold": yuan(details["threshold"]),
            "mcc": details["mcc"],
        }
    return ""


# Bookkeeping that changes with every submission; not what the applicant corrected.
_NOT_CORRECTIONS = {
    "id_number_hash",
    "account_number_hash",
    "status",
    "submitted_at",
    "submission_count",
    "updated_at",
    "reviewer",
    "decided_at",
}


def application_corrections(application: Application) -> list[tuple[str, str, str]]:
    """What the applicant changed between the last two submissions: (field, before, after).

    Read from the history, which keeps masked numbers only, so a reviewer sees that a card
    number changed (and its ends) without the numbers themselves.
    """
    submissions = list(
        application.history.filter(status=Application.Status.SUBMITTED).order_by(
            "-history_date", "-history_id"
        )[:2]
    )
    if len(submissions) < 2:
        return []
    latest, previous = submissions
    delta = latest.diff_against(previous, excluded_fields=_NOT_CORRECTIONS)
    fields = {f.name: f for f in Application._meta.fields}
    return [
        (str(fields[change.field].verbose_name), _shown(change.old), _shown(change.new))
        for change in delta.changes
        if change.field in fields
    ]


def _shown(value) -> str:
    return "—" if value in (None, "") else str(value)
