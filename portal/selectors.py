from django.db.models import Case, IntegerField, Q, Value, When
from rest_framework.authtoken.models import Token

from portal.models import User
from portal.validators import canonical_login, normalize_cn_mobile


def user_get_by_login(*, login: str) -> User | None:
    """The account a login name refers to: a mobile number, an e-mail address or a username.

    Customers sign in with their mobile or e-mail, staff with their username. A staff username
    may look like either, so the username is always a candidate too; an account whose mobile or
    e-mail matches comes first.
    """
    login = canonical_login(login)
    if not login:
        return None
    if normalize_cn_mobile(login):
        contact = Q(mobile=login)
    elif "@" in login:
        contact = Q(email__iexact=login)
    else:
        contact = Q(pk__in=[])
    return (
        User.objects.filter(contact | Q(username=login))
        .annotate(
            by_contact=Case(When(contact, then=Value(0)), default=1, output_field=IntegerField())
        )
        .order_by("by_contact", "pk")
        .select_related("merchant")
        .first()
    )


def api_token_get(*, user: User) -> Token | None:
    return Token.objects.filter(user=user).first()
