import logging

from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from core import jobs, notifications
from portal.models import Notification, User

logger = logging.getLogger(__name__)


def notify(*, user: User, kind: str, params: dict, url: str = "", email: str = "") -> Notification:
    """Tell a customer something: an in-app notification now, an e-mail after commit to
    ``email`` (the address they gave for this matter) or else their account's.

    Call inside the transaction that made the change, so a rolled-back change tells nobody.
    """
    if not notifications.known(kind):
        raise ValueError(f"unknown notification kind {kind!r}")
    notification = Notification.objects.create(
        user=user, kind=kind, params=params, url=url, email=email or user.email
    )
    if notification.email:
        jobs.enqueue_on_commit("portal.notification_email_task", notification.pk)
    return notification


def notification_email(*, notification_id: int, site_url: str) -> bool:
    """E-mail one notification in its reader's language. Returns whether it was sent.

    Safe to repeat and to run twice at once: the row is claimed before sending, and released
    again if sending fails so that a retry can send it.
    """
    claimed = Notification.objects.filter(pk=notification_id, emailed_at__isnull=True).update(
        emailed_at=timezone.now()
    )
    if not claimed:
        return False
    notification = Notification.objects.select_related("user").get(pk=notification_id)
    user = notification.user
    try:
        with translation.override(user.language):
            text = notifications.render(notification.kind, notification.params)
            context = {"text": text, "url": site_url + notification.url if notification.url else ""}
            message = EmailMultiAlternatives(
                subject=str(text.title),
                body=render_to_string("portal/emails/notification.txt", context),
                to=[notification.email],
            )
            message.attach_alternative(
                render_to_string("portal/emails/notification.html", context), "text/html"
            )
        message.send()
    except Exception:
        Notification.objects.filter(pk=notification_id).update(emailed_at=None)
        raise
    return True


def notifications_mark_read(*, user: User, ids: list[int] | None = None) -> int:
    """Mark the user's notifications read (all of them, or ``ids``). Safe to repeat."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    with transaction.atomic():
        return unread.update(read_at=timezone.now())
