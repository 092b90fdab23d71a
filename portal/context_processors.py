from django.conf import settings


def support(request):
    """How to reach customer service, shown in the footer and on error pages."""
    return {"support": {"phone": settings.SUPPORT_PHONE, "email": settings.SUPPORT_EMAIL}}
