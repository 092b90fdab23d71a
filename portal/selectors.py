from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.shortcuts import get_object_or_404
from rest_framework.authtoken.models import Token

from core.validators import canonical_login, normalize_cn_mobile
from portal.models import (
    Application,
    ApplicationEvent,
    Contract,
    InfoRequestItem,
    Notification,
    Terminal,
    TerminalProduct,
    User,
)


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


def application_get_for_applicant(*, user: User, public_id) -> Application:
    """The user's own application, or 404: another user's id looks exactly like a missing one."""
    return get_object_or_404(
        Application.objects.select_related("product__fee_schedule", "merchant"),
        public_id=public_id,
        applicant=user,
    )


def application_list_for_applicant(*, user: User) -> QuerySet[Application]:
    return Application.objects.filter(applicant=user).select_related("product")


def application_timeline(*, application: Application) -> list[ApplicationEvent]:
    return list(
        application.events.select_related("actor")
        .prefetch_related("info_requests")
        .order_by("created_at", "pk")
    )


def application_open_requests(*, application: Application) -> list[InfoRequestItem]:
    return list(application.info_requests.filter(resolved_at__isnull=True).order_by("pk"))


def product_list_active() -> QuerySet[TerminalProduct]:
    return TerminalProduct.objects.filter(is_active=True).select_related("fee_schedule")


def notification_list_for(*, user: User, limit: int = 50) -> list[Notification]:
    return list(Notification.objects.filter(user=user).order_by("-created_at", "-pk")[:limit])


def notification_unread_count(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def application_duplicates(*, application: Application, limit: int = 20) -> list[Application]:
    """Other applications with this one's ID number or settlement account (the reviewer's
    list, the applicant's own earlier ones included)."""
    same = Q(pk__in=[])
    if application.id_number_hash:
        same |= Q(id_number_hash=application.id_number_hash)
    if application.account_number_hash:
        same |= Q(account_number_hash=application.account_number_hash)
    return list(
        Application.objects.filter(same)
        .exclude(pk=application.pk)
        .only("pk", "number", "status")
        .order_by("-pk")[:limit]
    )


def terminal_list_for(*, user: User) -> list:
    return list(
        Terminal.objects.filter(merchant__user=user)
        .select_related("product")
        .prefetch_related("events")
        .order_by("-created_at")
    )


def contract_list_for(*, user: User) -> list:
    return list(Contract.objects.filter(merchant__user=user).order_by("-created_at"))
