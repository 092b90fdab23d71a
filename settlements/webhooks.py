"""
Events the acquirer pushes to ``/webhooks/acquirer/`` (docs/acquirer-api.md): checked,
stored, answered, and applied afterwards by a worker through the same services the feeds use.

Order of work, as the contract asks: the signature and its time are checked over the raw body
(nothing is stored for a bad one); the event is stored under its id (a repeat is answered 2xx
and not stored again); the answer goes back as soon as it is stored; a worker applies it after
the commit. Applying follows the polling rules, so duplicates and events out of order end in
the state of the newest ``updated_at``. The stored row is the record of work: the sweep applies
events whose task was lost.
"""

import json
import logging
import re
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from core import jobs
from core.transitions import TransitionNotAllowed
from settlements import acquirer_data, services
from settlements.acquirer_client import webhook_verified
from settlements.acquirer_data import AcquirerDataError
from settlements.models import Acquirer, AcquirerError, WebhookEvent

logger = logging.getLogger(__name__)

APPLY_TASK = "settlements.webhook_apply_task"
EVENT_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
EVENT_TYPES = ("payout.updated", "transaction.created", "dispute.created", "dispute.updated")
# No event is anywhere near this big; a larger body is refused unread.
MAX_BODY_BYTES = 256 * 1024
# Events whose task was lost are applied by the sweep after this long.
PENDING_FOR = timedelta(minutes=1)


class Refused(Exception):
    """A webhook refused before anything is stored: ``status`` is the HTTP answer."""

    def __init__(self, http_status: int, code: str, message: str):
        super().__init__(message)
        self.http_status = http_status
        self.code = code


def webhook_receive(*, body: bytes, signature: str) -> tuple[WebhookEvent, bool]:
    """Check and store one delivery; returns (event, stored now). Raises ``Refused`` for a
    signature that no enabled acquirer's secret makes, one older than 300 s, or a body that
    is not the contract's event envelope (recorded for staff when the signature was good).
    Safe to repeat: a delivery of an event already stored returns it, not stored again."""
    acquirer = next(
        (
            candidate
            for candidate in Acquirer.objects.filter(enabled=True)
            if webhook_verified(candidate.secret, signature, body)
        ),
        None,
    )
    if acquirer is None:
        raise Refused(401, "bad_signature", "the signature or its time does not check out")
    try:
        envelope = json.loads(body)
        if not isinstance(envelope, dict):
            raise ValueError("not a JSON object")
        event_id = envelope.get("id")
        if not isinstance(event_id, str) or not EVENT_ID_RE.match(event_id):
            raise ValueError("no event id")
        if not isinstance(envelope.get("data"), dict):
            raise ValueError("no data object")
    except ValueError as exc:
        message = f"the event is not the contract's envelope: {exc}"
        AcquirerError.objects.create(
            acquirer=acquirer, source=AcquirerError.Source.WEBHOOK, message=message
        )
        raise Refused(400, "bad_event", message) from exc
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                acquirer=acquirer,
                event_id=event_id,
                type=str(envelope.get("type", ""))[:40],
                payload=envelope,
            )
            jobs.enqueue_on_commit(APPLY_TASK, event.pk)
    except IntegrityError:
        return WebhookEvent.objects.get(acquirer=acquirer, event_id=event_id), False
    return event, True


def webhook_apply(*, event_id: int) -> str:
    """Apply one stored event; returns "applied", "flagged" or "done before". Safe to repeat
    and to run twice at once: the event is claimed before it is applied."""
    claimed = WebhookEvent.objects.filter(pk=event_id, applied_at__isnull=True, error="")
    event = claimed.first()
    if event is None:
        return "done before"
    try:
        with transaction.atomic():
            locked = WebhookEvent.objects.select_for_update().get(pk=event.pk)
            if locked.applied_at is not None or locked.error:
                return "done before"
            _apply(locked)
            WebhookEvent.objects.filter(pk=locked.pk).update(applied_at=timezone.now())
    except (AcquirerDataError, TransitionNotAllowed, ValueError) as exc:
        error = str(exc)[:2000]
        WebhookEvent.objects.filter(pk=event.pk).update(error=error)
        AcquirerError.objects.create(
            acquirer=event.acquirer,
            source=AcquirerError.Source.WEBHOOK,
            object_id=str(event.payload.get("data", {}).get("id", ""))[:100],
            message=f"{event.type} {event.event_id}: {error}"[:2000],
        )
        return "flagged"
    return "applied"


def _apply(event: WebhookEvent) -> None:
    data = event.payload["data"]
    code = event.acquirer.code
    if event.type == "payout.updated":
        services.payout_record(data=acquirer_data.parse_payout(data), acquirer=code)
    elif event.type == "transaction.created":
        transaction_data = acquirer_data.parse_transaction(data)
        services.transactions_record(items=[transaction_data], acquirer=code)
    elif event.type in EVENT_TYPES:
        # Disputes land with the support desk; until then the event is kept for staff.
        raise ValueError("disputes are not handled by the portal yet")
    else:
        raise ValueError(f"unknown event type {event.type[:40]!r}")


def webhooks_apply_pending(*, now=None, limit: int = 500) -> int:
    """Apply events stored a while ago and still not applied (their task was lost with a
    worker or a broker). Safe to repeat; returns how many it tried."""
    now = now or timezone.now()
    pending = WebhookEvent.objects.filter(
        applied_at__isnull=True, error="", received_at__lt=now - PENDING_FOR
    ).values_list("pk", flat=True)[:limit]
    tried = 0
    for event_id in pending:
        webhook_apply(event_id=event_id)
        tried += 1
    return tried
