"""Readiness checks for /healthz: can this process reach the database and the broker?"""

import logging

from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu import Connection

from core import registry
from portal.models import Heartbeat

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker() -> None:
    with Connection(
        settings.CELERY_BROKER_URL,
        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        connect_timeout=BROKER_TIMEOUT_SECONDS,
    ) as conn:
        # max_retries=0: one attempt, so a broker that is down answers 503 in seconds instead of
        # the check retrying forever.
        conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)
        conn.default_channel  # noqa: B018 (opening a channel is a round trip to Redis)


def run_checks() -> dict:
    """Run every check; return ``{"status": "ok" | "error", "checks": {name: "ok" | error}}``."""
    checks = {}
    for name, check in (("database", check_database), ("broker", check_broker)):
        try:
            check()
        except Exception as exc:  # any failure means "not ready"; the log keeps the detail
            logger.warning("health check %s failed: %s", name, exc, exc_info=True)
            checks[name] = f"error: {type(exc).__name__}"
        else:
            checks[name] = "ok"
    status = "ok" if all(v == "ok" for v in checks.values()) else "error"
    return {"status": status, "checks": checks, "worker": worker_status(), **app_reports()}


def worker_status() -> dict:
    """When the worker last ran the heartbeat job (informational: it does not fail the check).

    A stale heartbeat means beat or the worker is down, which delays background work but
    does not stop this process from serving pages.
    """
    try:
        heartbeat = Heartbeat.objects.filter(name="worker").first()
    except Exception:  # the database check reports the cause
        return {"last_seen": None}
    if heartbeat is None:
        return {"last_seen": None}
    age = (timezone.now() - heartbeat.seen_at).total_seconds()
    return {
        "last_seen": heartbeat.seen_at.isoformat(),
        "age_seconds": round(age),
        "fresh": age <= 3 * settings.HEARTBEAT_INTERVAL_SECONDS,
    }


def app_reports() -> dict:
    """What each app reports for information (its ``health.py`` ``REPORTS``): stuck jobs,
    acquirer errors. A report that cannot be made says so instead of failing the check."""
    reports = {}
    for _label, declared in registry.declarations("health", "REPORTS"):
        for name, report in declared.items():
            try:
                reports[name] = report()
            except Exception as exc:  # the database check reports the cause
                logger.warning("health report %s failed: %s", name, exc)
                reports[name] = {"error": type(exc).__name__}
    return reports
