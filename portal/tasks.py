import smtplib
from datetime import timedelta

from celery.signals import worker_ready
from django.conf import settings

from portal.celery import RetryableError, app
from portal.services import (
    contracts_remind_and_expire,
    heartbeat_record,
    login_logs_purge,
    notification_email,
)

# Collected with every app's by portal/celery.py when beat starts.
BEAT_SCHEDULE = {
    "heartbeat": {
        "task": "portal.heartbeat_task",
        "schedule": timedelta(seconds=settings.HEARTBEAT_INTERVAL_SECONDS),
    },
    "contracts-remind-and-expire": {
        "task": "portal.contracts_remind_and_expire_task",
        "schedule": timedelta(hours=6),
    },
    "purge-login-logs": {
        "task": "portal.login_logs_purge_task",
        "schedule": timedelta(hours=24),
    },
}


@app.task(name="portal.heartbeat_task")
def heartbeat_task() -> None:
    """Record that a worker is alive (scheduled by beat; /healthz reports it). Safe to repeat."""
    heartbeat_record(name="worker")


@app.task(name="portal.login_logs_purge_task")
def login_logs_purge_task() -> int:
    """Purge log-in records past LOGIN_LOG_RETENTION_DAYS (daily, from beat). Safe to repeat."""
    return login_logs_purge(older_than_days=settings.LOGIN_LOG_RETENTION_DAYS)


@app.task(name="portal.notification_email_task")
def notification_email_task(notification_id: int) -> None:
    """E-mail one notification (enqueued on commit by services.notify). Safe to repeat: a
    notification already e-mailed is not sent again. Retried when the mail server fails."""
    try:
        notification_email(notification_id=notification_id, site_url=settings.SITE_URL)
    except (smtplib.SMTPException, OSError) as exc:
        raise RetryableError(str(exc)) from exc


@app.task(name="portal.contracts_remind_and_expire_task")
def contracts_remind_and_expire_task() -> tuple[int, int]:
    """Remind merchants of unsigned contracts and expire overdue ones (from beat). Safe to
    repeat: each contract is reminded and expired once."""
    return contracts_remind_and_expire()


@worker_ready.connect
def heartbeat_on_worker_start(**kwargs) -> None:
    # /healthz shows the worker as alive from the moment it starts, not a beat interval later.
    heartbeat_record(name="worker")
