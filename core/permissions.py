from rest_framework.permissions import BasePermission


class IsCustomer(BasePermission):
    """Signed in as an applicant or merchant (not staff): the API serves merchants' own data."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_customer)
