from celery.signals import worker_ready

from portal.celery import app
from portal.services import heartbeat_record


@app.task(name="portal.heartbeat_task")
def heartbeat_task() -> None:
    """Record that a worker is alive (scheduled by beat; /healthz reports it). Safe to repeat."""
    heartbeat_record(name="worker")


@worker_ready.connect
def heartbeat_on_worker_start(**kwargs) -> None:
    # /healthz shows the worker as alive from the moment it starts, not a beat interval later.
    heartbeat_record(name="worker")
