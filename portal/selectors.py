from portal.models import User
from portal.validators import normalize_cn_mobile


def user_get_by_login(*, login: str) -> User | None:
    """The account a login name refers to: a mobile number, an e-mail address or a username."""
    login = login.strip()
    if not login:
        return None
    if mobile := normalize_cn_mobile(login):
        lookup = {"mobile": mobile}
    elif "@" in login:
        lookup = {"email__iexact": login}
    else:
        lookup = {"username": login}
    return User.objects.filter(**lookup).select_related("merchant").first()
