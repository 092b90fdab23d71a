"""
The Celery app. Every task inherits its reliability defaults from ``PortalTask`` so they are set
in one place: late acknowledgement, time limits and queue come from settings (``CELERY_*``);
retries with backoff and jitter come from here.
"""

import os

from celery import Celery
from celery.contrib.django.task import DjangoTask
from celery.signals import beat_init, worker_init
from django.apps import apps as django_apps

from core import registry

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


class RetryableError(Exception):
    """A failure that may go away on its own (a timeout, a 5xx, a lock held elsewhere).

    Raise it from a task, or from a service the task calls, to have the task retried with
    backoff. Any other exception fails the task at once: retrying a bug or a refusal only
    amplifies an outage.
    """


class PortalTask(DjangoTask):
    """Adds ``delay_on_commit``: enqueue once the surrounding transaction commits."""

    autoretry_for = (RetryableError,)
    retry_backoff = 5
    retry_backoff_max = 10 * 60
    retry_jitter = True
    max_retries = 5


app = Celery("portal", task_cls=PortalTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def refuse_a_visibility_timeout_shorter_than_a_task(**kwargs) -> None:
    """A worker or beat does not start when Redis would redeliver a task still running: the
    visibility timeout must exceed every task's and job's own hard time limit."""
    # Here, not at the top: this module loads with the settings, before any model exists.
    from core.jobs import visibility_timeout_problem

    problem = visibility_timeout_problem()
    if problem:
        # SystemExit, not ImproperlyConfigured: Celery logs and ignores an Exception raised
        # by a signal handler, and the process would start anyway.
        raise SystemExit(f"ImproperlyConfigured: {problem}")


@app.on_after_finalize.connect
def collect_beat_schedule(sender: Celery, **kwargs) -> None:
    """Every app's ``BEAT_SCHEDULE`` (in its tasks.py) into the schedule beat runs. Beat and
    the worker finalize the app after Django is set up, before the scheduler reads it."""
    if not django_apps.ready:  # a web process finalizing early has no use for the schedule
        return
    sender.conf.beat_schedule = {
        **sender.conf.beat_schedule,
        **registry.merged("tasks", "BEAT_SCHEDULE"),
    }
