from django.conf import settings
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django.views.i18n import set_language as django_set_language

from core import notifications
from core.decorators import customer_required
from portal import selectors, services
from portal.models import Notification


@require_GET
@customer_required
def notification_list(request):
    shown = selectors.notification_list_for(user=request.user)
    items = [{"notification": n, "text": notifications.render(n.kind, n.params)} for n in shown]
    response = render(request, "portal/notifications.html", {"notifications": items})
    # Seen now: exactly those the list showed (unread ones highlighted in this rendering).
    services.notifications_mark_read(user=request.user, ids=[n.pk for n in shown])
    return response


@require_GET
@customer_required
def notification_open(request, public_id):
    notification = get_object_or_404(Notification, public_id=public_id, user=request.user)
    services.notifications_mark_read(user=request.user, ids=[notification.pk])
    if notification.url and url_has_allowed_host_and_scheme(
        notification.url, allowed_hosts={request.get_host()}
    ):
        return redirect(notification.url)
    return redirect("portal:notification-list")


@require_POST
def set_language(request):
    """Django's language switch, also remembered on the account for e-mails."""
    response = django_set_language(request)
    language = request.POST.get("language")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        services.user_language_set(user=request.user, language=language)
    return response
