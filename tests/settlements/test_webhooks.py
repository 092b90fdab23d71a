"""Webhooks from the acquirer: checked over the raw body, stored once under their id,
answered at once, applied afterwards with the feeds' rules; anything that cannot be applied is
kept for staff, never dropped and never a 500."""

import json
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from settlements import webhooks
from settlements.acquirer_client import webhook_signature
from settlements.models import AcquirerError, Payout, Transaction, WebhookEvent
from tests.factories import AcquirerFactory, MerchantFactory, transaction_payload
from tests.settlements.test_feeds import payout_payload

pytestmark = pytest.mark.django_db
URL = reverse("settlements:acquirer-webhook")


@pytest.fixture
def acquirer():
    return AcquirerFactory()


def event(kind: str, data: dict, event_id: str = "evt_0001") -> bytes:
    envelope = {
        "id": event_id,
        "type": kind,
        "created_at": timezone.now().isoformat(),
        "data": data,
    }
    return json.dumps(envelope, ensure_ascii=False).encode()


SECRET = "sk_test_7f3a91c2e4b86d05"  # the factory's acquirer's


def deliver(client, body: bytes, *, secret=SECRET, at=None, signature=None):
    at = int(at if at is not None else time.time())
    header = (
        signature if signature is not None else f"t={at},v1={webhook_signature(secret, at, body)}"
    )
    return client.post(URL, body, content_type="application/json", HTTP_X_ACQUIRER_SIGNATURE=header)


def apply_all() -> list[str]:
    return [
        webhooks.webhook_apply(event_id=pk)
        for pk in WebhookEvent.objects.order_by("pk").values_list("pk", flat=True)
    ]


def test_a_signed_event_is_stored_answered_and_then_applied(
    client, acquirer, django_capture_on_commit_callbacks
):
    merchant = MerchantFactory()
    body = event("transaction.created", transaction_payload(merchant))

    with django_capture_on_commit_callbacks() as enqueued:
        response = deliver(client, body)

    assert (response.status_code, response.json()) == (200, {"id": "evt_0001", "stored": True})
    assert len(enqueued) == 1
    assert not Transaction.objects.exists()  # applied by a worker, not while answering
    assert apply_all() == ["applied"]
    assert Transaction.objects.filter(merchant=merchant).count() == 1
    assert WebhookEvent.objects.get().applied_at is not None


def test_a_delivery_seen_before_is_answered_and_applied_once(client, acquirer):
    merchant = MerchantFactory()
    body = event("transaction.created", transaction_payload(merchant))

    first, again = deliver(client, body), deliver(client, body)

    assert (first.json()["stored"], again.status_code, again.json()["stored"]) == (True, 200, False)
    assert apply_all() == ["applied"]
    assert webhooks.webhook_apply(event_id=WebhookEvent.objects.get().pk) == "done before"
    assert Transaction.objects.count() == 1


def test_events_out_of_order_end_in_the_newest_state(client, acquirer):
    merchant = MerchantFactory()
    now = timezone.now()
    processing = payout_payload(merchant, updated_at=now.isoformat())
    paid = payout_payload(
        merchant,
        status="paid",
        paid_at=(now + timedelta(minutes=3)).isoformat(),
        bank_reference="B1",
        updated_at=(now + timedelta(minutes=3)).isoformat(),
    )
    deliver(client, event("payout.updated", paid, "evt_paid"))
    deliver(client, event("payout.updated", processing, "evt_processing"))

    assert apply_all() == ["applied", "applied"]

    assert Payout.objects.get().status == "paid"


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("transaction.created", {"id": "TX1", "merchant_id": "898310054119999"}),
        ("payout.updated", {"id": "po_1", "net_amount": "1.005"}),
        ("dispute.created", {"id": "dp_1"}),
        ("mystery.happened", {"id": "x"}),
    ],
    ids=["bad-transaction", "bad-payout", "dispute", "unknown-type"],
)
def test_an_event_that_cannot_be_applied_is_kept_and_flagged_for_staff(
    client, acquirer, kind, data
):
    response = deliver(client, event(kind, data))

    assert response.status_code == 200
    assert apply_all() == ["flagged"]
    stored = WebhookEvent.objects.get()
    assert (stored.applied_at, bool(stored.error)) == (None, True)
    assert AcquirerError.objects.get().source == "webhook"


def test_an_unknown_merchant_is_flagged_and_the_next_event_still_applied(client, acquirer):
    merchant = MerchantFactory()
    stranger = transaction_payload(merchant, merchant_id="898310054119999")
    deliver(client, event("transaction.created", stranger, "evt_1"))
    deliver(client, event("transaction.created", transaction_payload(merchant), "evt_2"))

    assert apply_all() == ["flagged", "applied"]

    assert "no merchant 898310054119999" in WebhookEvent.objects.get(event_id="evt_1").error


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"secret": "another-secret"}, 401),
        ({"at": time.time() - 301}, 401),
        ({"signature": "t=1,v1=0"}, 401),
        ({"signature": ""}, 401),
    ],
    ids=["wrong-secret", "301-s-old", "forged", "missing"],
)
def test_a_badly_signed_event_is_refused_and_nothing_is_stored(client, acquirer, kwargs, status):
    response = deliver(client, event("payout.updated", {"id": "po_1"}), **kwargs)

    assert response.status_code == status
    assert response.json()["error"]["code"] == "bad_signature"
    assert not WebhookEvent.objects.exists()


def test_a_body_of_2_mb_is_refused_unread(client, acquirer):
    body = event("payout.updated", {"id": "po_1", "reason": "x" * 2_000_000})

    response = deliver(client, body)

    assert response.status_code == 413
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    "body",
    [b"<html>not json</html>", b'["a", "list"]', b'{"type": "payout.updated", "data": {}}'],
    ids=["html", "list", "no-id"],
)
def test_a_signed_body_that_is_not_an_event_is_refused_and_recorded(client, acquirer, body):
    response = deliver(client, body)

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()
    assert AcquirerError.objects.get().source == "webhook"


def test_a_get_is_not_allowed(client):
    assert client.get(URL).status_code == 405


def test_the_sweep_applies_events_whose_task_was_lost(client, acquirer):
    merchant = MerchantFactory()
    deliver(client, event("transaction.created", transaction_payload(merchant)))
    WebhookEvent.objects.update(received_at=timezone.now() - timedelta(minutes=2))

    assert webhooks.webhooks_apply_pending() == 1

    assert Transaction.objects.count() == 1
    assert webhooks.webhooks_apply_pending() == 0
