from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied


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
