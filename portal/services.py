import secrets

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.models import Token

from portal.models import Heartbeat, Merchant, User
from portal.selectors import user_get_by_login
from portal.validators import parse_login

# The first three digits of every MID: the acquirer's institution code.
ACQUIRER_CODE = "898"
_MID_ATTEMPTS = 20


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


def merchant_create(*, user: User, name: str, region_code: str, mcc: str) -> Merchant:
    """Give an approved customer a merchant record with a new, unique 15-digit MID.

    The MID follows the UnionPay layout: acquirer code (3) + region code (4) + merchant
    category code (4) + serial (4). Not idempotent: call it once per approval.
    """
    if not (region_code.isdigit() and len(region_code) == 4 and mcc.isdigit() and len(mcc) == 4):
        raise ValueError("region_code and mcc must each be 4 digits")
    if user.is_staff:
        raise ValidationError(_("Staff accounts cannot be merchants."), code="staff_merchant")
    for _attempt in range(_MID_ATTEMPTS):
        mid = f"{ACQUIRER_CODE}{region_code}{mcc}{secrets.randbelow(10_000):04d}"
        try:
            with transaction.atomic():
                return Merchant.objects.create(user=user, name=name, mid=mid)
        except IntegrityError:
            if Merchant.objects.filter(user=user).exists():
                raise ValidationError(
                    _("This account already has a merchant record."), code="already_merchant"
                ) from None
    raise RuntimeError(f"no free MID for region {region_code}, MCC {mcc}")


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
