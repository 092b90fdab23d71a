from django.http import JsonResponse
from django.views import defaults
from rest_framework.exceptions import NotFound


def page_not_found(request, exception):
    """Django's 404 page; under /api/ the API's JSON answer, since an API client parses JSON
    (an id that is not a UUID never reaches a DRF view, its route does not match)."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": str(NotFound.default_detail)}, status=404)
    return defaults.page_not_found(request, exception)
