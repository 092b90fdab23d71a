from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from core.transitions import transition
from portal.models import FeeSchedule, Merchant, MidSerial, User

# The first three digits of every MID: the acquirer's institution code.
ACQUIRER_CODE = "898"


class MidExhaustedError(ValidationError):
    pass


def merchant_create(
    *,
    user: User,
    name: str,
    region_code: str,
    mcc: str,
    fee_schedule: FeeSchedule | None = None,
) -> Merchant:
    """Give an approved customer a merchant record with a new, unique 15-digit MID.

    The MID follows the UnionPay layout: acquirer code (3) + region code (4) + merchant
    category code (4) + serial (4), the serial counted per region and category. Not
    idempotent: call it once per approval. Raises ``ValidationError`` for staff or an account
    that already has a merchant, ``MidExhaustedError`` when a region and category have used
    all 9,999 serials.
    """
    if not (region_code.isdigit() and len(region_code) == 4 and mcc.isdigit() and len(mcc) == 4):
        raise ValueError("region_code and mcc must each be 4 digits")
    if user.is_staff:
        raise ValidationError(_("Staff accounts cannot be merchants."), code="staff_merchant")
    with transaction.atomic():
        if Merchant.objects.filter(user=user).exists():
            raise ValidationError(
                _("This account already has a merchant record."), code="already_merchant"
            )
        serial = _mid_serial_next(region_code=region_code, mcc=mcc)
        mid = f"{ACQUIRER_CODE}{region_code}{mcc}{serial:04d}"
        return Merchant.objects.create(user=user, name=name, mid=mid, fee_schedule=fee_schedule)


def _mid_serial_next(*, region_code: str, mcc: str) -> int:
    # The row lock serialises approvals in one region and category, so two at once never
    # draw the same serial; on SQLite the IMMEDIATE transaction does the same.
    counter, _created = MidSerial.objects.select_for_update().get_or_create(
        region_code=region_code, mcc=mcc
    )
    if counter.last_serial >= MidSerial.MAX_SERIAL:
        raise MidExhaustedError(
            _("All merchant numbers for this region and category are in use."),
            code="mid_exhausted",
        )
    counter.last_serial += 1
    counter.save(update_fields=["last_serial"])
    return counter.last_serial


def merchant_transition(
    *, merchant: Merchant, to_status: str, actor: User | None, note: str = ""
) -> Merchant:
    """Move a merchant along contract → terminal → active (or suspend/close it), with an
    event row. Refused with ``TransitionNotAllowed`` when ``Merchant.ALLOWED_TRANSITIONS``
    does not allow it. Call inside the caller's transaction to make it part of a larger
    change."""
    transition(merchant, to_status, actor=actor, reason=note)
    return merchant
