import logging

from core.http import client_ip
from portal.models import PiiAccess, User

logger = logging.getLogger(__name__)


def pii_access_record(
    *, user: User, kind: str, target: str = "", detail: str = "", request=None
) -> PiiAccess:
    """Record that a staff member reached full identity data (see ``PiiAccess``). ``target``
    and ``detail`` name the record and the way in, never the number itself."""
    access = PiiAccess.objects.create(
        user=user,
        kind=kind,
        target=target[:100],
        detail=detail[:200],
        ip_address=client_ip(request) if request is not None else None,
    )
    logger.info("PII access by staff user %s: %s %s %s", user.pk, kind, target, detail)
    return access
