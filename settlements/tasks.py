"""The settlements app's beat entries and tasks (collected by portal/celery.py)."""

from datetime import timedelta

from django.conf import settings

from portal.celery import app
from settlements import feeds

BEAT_SCHEDULE = {
    # Starts a poll of every acquirer feed whose interval has passed.
    "acquirer-feeds": {
        "task": "settlements.feeds_due_task",
        "schedule": timedelta(seconds=settings.ACQUIRER_FEEDS_TICK_SECONDS),
    },
}


@app.task(name="settlements.feeds_due_task")
def feeds_due_task() -> int:
    """Start the polls that are due (from beat). Safe to repeat: a feed being polled gets no
    second poll."""
    return feeds.feeds_due()
