from django.conf import settings

from portal import selectors


def support(request):
    """How to reach customer service, shown in the footer and on error pages."""
    return {"support": {"phone": settings.SUPPORT_PHONE, "email": settings.SUPPORT_EMAIL}}


def notifications(request):
    """The unread count on the bell in the navigation bar: one COUNT per page, customers only."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_customer:
        return {}
    return {"unread_notifications": selectors.notification_unread_count(user=user)}
