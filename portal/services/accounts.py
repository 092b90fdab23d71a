from datetime import timedelta

from axes.models import AccessAttempt, AccessLog
from axes.utils import reset as axes_reset
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.models import Token

from core.validators import parse_login
from portal.auth import lockout_key
from portal.models import Heartbeat, User
from portal.selectors import user_get_by_login


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


def user_language_set(*, user: User, language: str) -> None:
    """Remember the language the customer chose, for e-mails and notifications."""
    User.objects.filter(pk=user.pk).update(language=language)
