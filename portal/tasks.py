from celery.signals import worker_ready
from django.conf import settings

from portal.celery import app
from portal.services import heartbeat_record, login_logs_purge


@app.task(name="portal.heartbeat_task")
def heartbeat_task() -> None:
    """Record that a worker is alive (scheduled by beat; /healthz reports it). Safe to repeat."""
    heartbeat_record(name="worker")


@app.task(name="portal.login_logs_purge_task")
def login_logs_purge_task() -> int:
    """Purge log-in records past LOGIN_LOG_RETENTION_DAYS (daily, from beat). Safe to repeat."""
    return login_logs_purge(older_than_days=settings.LOGIN_LOG_RETENTION_DAYS)


@worker_ready.connect
def heartbeat_on_worker_start(**kwargs) -> None:
    # /healthz shows the worker as alive from the moment it starts, not a beat interval later.
    heartbeat_record(name="worker")
