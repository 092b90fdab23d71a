from django.contrib.auth.backends import ModelBackend

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
