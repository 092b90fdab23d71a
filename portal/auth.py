from django.contrib.auth.backends import ModelBackend

from core.validators import canonical_login
from portal.models import User
from portal.selectors import user_get_by_login


class LoginBackend(ModelBackend):
    """Signs in with a mobile number, an e-mail address or (for staff) a username."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        user = user_get_by_login(login=username)
        if user is None:
            # Hash anyway, so the response time does not reveal which logins exist.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


def lockout_key(user: User) -> str:
    return f"account:{user.pk}"


def axes_username(request, credentials=None) -> str | None:
    """What django-axes counts failures against: the account, however its login was typed.

    Without this, "138 0013 8000", "+8613800138000" and the account's e-mail would each get
    their own count, and a lockout could be stepped around by retyping the number.
    """
    if credentials:
        raw = credentials.get("username")
    else:
        raw = getattr(request, "data", request.POST).get("username")
    if not raw:
        return raw
    user = user_get_by_login(login=raw)
    return lockout_key(user) if user else canonical_login(raw)
