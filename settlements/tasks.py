"""The settlements app's beat entries and tasks (collected by portal/celery.py)."""

from datetime import timedelta

from django.conf import settings

from portal.celery import app
from settlements import feeds, webhooks

BEAT_SCHEDULE = {
    # Starts a poll of every acquirer feed whose interval has passed.
    "acquirer-feeds": {
        "task": "settlements.feeds_due_task",
        "schedule": timedelta(seconds=settings.ACQUIRER_FEEDS_TICK_SECONDS),
    },
    # Applies webhook events whose task was lost.
    "acquirer-webhooks-pending": {
        "task": "settlements.webhooks_apply_pending_task",
        "schedule": timedelta(minutes=1),
    },
}


@app.task(name="settlements.feeds_due_task")
def feeds_due_task() -> int:
    """Start the polls that are due (from beat). Safe to repeat: a feed being polled gets no
    second poll."""
    return feeds.feeds_due()


@app.task(name=webhooks.APPLY_TASK)
def webhook_apply_task(event_id: int) -> str:
    """Apply one stored webhook event (enqueued when it was stored). Safe to repeat."""
    return webhooks.webhook_apply(event_id=event_id)


@app.task(name="settlements.webhooks_apply_pending_task")
def webhooks_apply_pending_task() -> int:
    """Apply stored events whose task was lost (from beat). Safe to repeat."""
    return webhooks.webhooks_apply_pending()
