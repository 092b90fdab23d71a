from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.utils.translation import gettext as _


def customer_required(view):
    """The merchant area is for customers (applicants and merchants); staff use the admin.

    Anonymous visitors are sent to the login page; staff get 403.
    """

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_customer:
            raise PermissionDenied("staff accounts use the admin site")
        return view(request, *args, **kwargs)

    return wrapper


def merchant_required(view):
    """For a merchant's own pages (money, tickets): an applicant not yet approved is sent to
    the merchant area, which says what happens next. Sets ``request.merchant``."""

    @customer_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        merchant = getattr(request.user, "merchant", None)
        if merchant is None:
            messages.info(
                request, _("Transactions and payouts appear here once you are a merchant.")
            )
            return redirect(settings.LOGIN_REDIRECT_URL)
        request.merchant = merchant
        return view(request, *args, **kwargs)

    return wrapper
