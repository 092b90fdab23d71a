from datetime import timedelta

from axes.models import AccessAttempt, AccessLog
from axes.utils import reset as axes_reset
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.models import Token

from portal.auth import lockout_key
from portal.models import Heartbeat, Merchant, MidSerial, User
from portal.selectors import user_get_by_login
from portal.validators import parse_login

# The first three digits of every MID: the acquirer's institution code.
ACQUIRER_CODE = "898"


class LoginTakenError(ValidationError):
    pass


def user_sign_up(*, login: str, password: str) -> User:
    """Create a customer account from a mobile number or an e-mail address and a password.

    Raises ``ValidationError`` if the login is neither, and ``LoginTakenError`` if an account
    already uses it (also when two sign-ups race: the database's unique constraints decide).
    The password must already have passed the validators.
    """
    kind, value = parse_login(login)
    if kind == "mobile":
        fields = {"username": value, "mobile": value}
    else:
        email = User.objects.normalize_email(value)
        fields = {"username": email.lower(), "email": email}
    taken = LoginTakenError(
        _("An account with this mobile number or e-mail already exists. Log in instead."),
        code="login_taken",
    )
    if user_get_by_login(login=value) is not None:
        raise taken
    try:
        with transaction.atomic():
            return User.objects.create_user(password=password, **fields)
    except IntegrityError as exc:
        raise taken from exc


class MidExhaustedError(ValidationError):
    pass


def merchant_create(*, user: User, name: str, region_code: str, mcc: str) -> Merchant:
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
        return Merchant.objects.create(user=user, name=name, mid=mid)


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


def heartbeat_record(*, name: str) -> Heartbeat:
    """Note that process ``name`` is alive now. Safe to repeat."""
    heartbeat, _created = Heartbeat.objects.update_or_create(
        name=name, defaults={"seen_at": timezone.now()}
    )
    return heartbeat


def api_token_regenerate(*, user: User) -> Token:
    """Replace the user's API token with a new one; the old one stops working at once."""
    if not user.is_customer:
        raise ValidationError(_("Only merchant accounts use API tokens."), code="not_customer")
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)


def api_token_revoke(*, user: User) -> bool:
    """Delete the user's API token. Returns whether there was one. Safe to repeat."""
    deleted, _by_model = Token.objects.filter(user=user).delete()
    return deleted > 0


def user_password_reset_completed(*, user: User) -> None:
    """After a password reset by e-mail: lift login lockouts on the account (the lockout page
    sends people here) and revoke its API token (a reset is how a stolen account is
    recovered). Safe to repeat."""
    axes_reset(username=lockout_key(user))
    api_token_revoke(user=user)


def login_logs_purge(*, older_than_days: int) -> int:
    """Delete log-in records (addresses, browsers) older than the retention period; personal
    data is kept no longer than it is useful. Returns how many rows went. Safe to repeat."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    logs, _by_model = AccessLog.objects.filter(attempt_time__lt=cutoff).delete()
    attempts, _by_model = AccessAttempt.objects.filter(attempt_time__lt=cutoff).delete()
    return logs + attempts
