"""What /healthz reports about the acquirers (informational: the portal keeps serving pages
while an acquirer is down)."""

from datetime import timedelta

from django.utils import timezone

from settlements.acquirer_client import breaker_open
from settlements.models import Acquirer, AcquirerError


def acquirers_report() -> dict:
    since = timezone.now() - timedelta(hours=24)
    return {
        "errors_last_24h": AcquirerError.objects.filter(created_at__gte=since).count(),
        "breakers_open": sorted(
            acquirer.code for acquirer in Acquirer.objects.all() if breaker_open(acquirer)
        ),
    }


REPORTS = {"acquirers": acquirers_report}
