"""Enqueueing Celery tasks from services without importing the tasks modules (which import
the services: tasks call services, never the other way round)."""

from celery import current_app
from django.db import transaction


def enqueue_on_commit(task_name: str, *args) -> None:
    """Send the task named ``task_name`` once the surrounding transaction commits (at once when
    there is none): a rolled-back change enqueues nothing, and the worker finds the rows the
    change wrote. Tasks are named explicitly (``name="app.thing_task"``) and the names are
    pinned by tests, so a rename cannot orphan this call."""
    transaction.on_commit(lambda: current_app.send_task(task_name, args=list(args)))
