"""Webhooks: signed with the merchant's key, delivered at least once on the sandbox's retry
schedule until the portal answers 2xx, and — when faults say so — twice, late or out of order."""

import httpx
import pytest

from sandbox.signing import webhook_signature_valid
from tests.sandbox.conftest import (
    KEY_ID,
    MID,
    OTHER_KEY_ID,
    OTHER_SECRET,
    SECRET,
    WEBHOOK_URL,
    quiet_settings,
)

pytestmark = pytest.mark.anyio


async def test_a_webhook_is_signed_with_the_keys_secret_over_the_raw_body(sandbox):
    await sandbox.register()
    sale = await sandbox.sale()

    attempts = await sandbox.deliver()

    [request] = sandbox.receiver.requests
    assert attempts == [
        {
            "event_id": attempts[0]["event_id"],
            "type": "transaction.created",
            "status": 200,
            "error": None,
            "delivered": True,
        }
    ]
    assert str(request.url) == WEBHOOK_URL
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-acquirer-key"] == KEY_ID
    header = request.headers["x-acquirer-signature"]
    assert header.startswith(f"t={sandbox.now_seconds()},v1=")
    assert webhook_signature_valid(SECRET, header, request.content, now=sandbox.now_seconds())
    assert not webhook_signature_valid(
        OTHER_SECRET, header, request.content, now=sandbox.now_seconds()
    )
    event = sandbox.receiver.events()[0]
    assert set(event) == {"id", "type", "created_at", "data"}
    assert event["id"].startswith("evt_") and event["id"] == attempts[0]["event_id"]
    assert (event["type"], event["created_at"], event["data"]) == (
        "transaction.created",
        "2026-11-26T09:30:00+08:00",
        sale,
    )


async def test_each_key_signs_its_own_merchants_events(sandbox):
    await sandbox.register(
        "898310058120003", terminals=("10000003",), key_id=OTHER_KEY_ID, secret=OTHER_SECRET
    )
    await sandbox.sale("898310058120003")

    await sandbox.deliver()

    [request] = sandbox.receiver.requests
    assert request.headers["x-acquirer-key"] == OTHER_KEY_ID
    assert webhook_signature_valid(
        OTHER_SECRET,
        request.headers["x-acquirer-signature"],
        request.content,
        now=sandbox.now_seconds(),
    )


async def test_a_webhook_is_retried_on_the_schedule_until_the_portal_answers_2xx(sandbox):
    await sandbox.register()
    await sandbox.sale()
    sandbox.receiver.statuses = [500, 503, 200]

    first = await sandbox.deliver()
    not_yet = await sandbox.deliver()
    await sandbox.advance(10)  # the schedule's first wait
    second = await sandbox.deliver()
    await sandbox.advance(59)
    still_waiting = await sandbox.deliver()
    await sandbox.advance(1)  # the second wait, 60 s, is over
    third = await sandbox.deliver()
    await sandbox.advance(3600)
    done = await sandbox.deliver()

    assert [a["status"] for a in first + second + third] == [500, 503, 200]
    assert [a["delivered"] for a in first + second + third] == [False, False, True]
    assert not_yet == still_waiting == done == []
    bodies = {request.content for request in sandbox.receiver.requests}
    assert len(bodies) == 1  # the same event, byte for byte, each time
    signatures = [r.headers["x-acquirer-signature"] for r in sandbox.receiver.requests]
    assert len(set(signatures)) == 3  # signed afresh with the time of each attempt
    [listed] = await sandbox.events()
    assert listed["attempts"] == 3 and listed["delivered_at"] and listed["last_status"] == 200


async def test_the_last_wait_of_the_schedule_repeats_until_delivery(sandbox):
    await sandbox.register()
    await sandbox.sale()
    sandbox.receiver.statuses = [500] * 6

    statuses = []
    for wait in (0, 10, 60, 300, 300, 300, 300):
        await sandbox.advance(wait)
        statuses += [a["status"] for a in await sandbox.deliver()]

    assert statuses == [500, 500, 500, 500, 500, 500, 200]


async def test_a_portal_that_cannot_be_reached_is_tried_again(make_sandbox):
    sandbox = await make_sandbox()
    await sandbox.register()
    await sandbox.sale()

    def unreachable(request):
        raise httpx.ConnectError("connection refused", request=request)

    sandbox.state.sender._transport = httpx.MockTransport(unreachable)
    await sandbox.state.sender.close()
    [failed] = await sandbox.deliver()
    sandbox.state.sender._transport = httpx.MockTransport(sandbox.receiver)
    await sandbox.state.sender.close()
    await sandbox.advance(10)
    [delivered] = await sandbox.deliver()

    assert (failed["delivered"], failed["status"], failed["error"]) == (
        False,
        None,
        "ConnectError",
    )
    assert delivered["delivered"]


async def test_every_change_is_announced_in_the_order_it_happened(sandbox):
    await sandbox.register()
    await sandbox.sale()
    await sandbox.advance_to("2026-11-27T12:00:00+08:00")

    await sandbox.deliver()

    events = sandbox.receiver.events()
    assert [e["type"] for e in events] == ["transaction.created"] + ["payout.updated"] * 3
    assert [e["data"].get("status") for e in events[1:]] == ["scheduled", "processing", "paid"]
    assert [e["created_at"] for e in events[1:]] == [e["data"]["updated_at"] for e in events[1:]]
    assert len({e["id"] for e in events}) == 4


async def test_duplicates_when_told(sandbox):
    await sandbox.register()
    await sandbox.sale()
    await sandbox.control("POST", "/_sandbox/faults", {"webhook_duplicate": {"rate": 1}})

    attempts = await sandbox.deliver()

    events = sandbox.receiver.events()
    assert len(attempts) == len(events) == 2
    assert events[0] == events[1]


async def test_out_of_order_when_told(sandbox):
    await sandbox.register()
    await sandbox.sale(amount="1.00")
    await sandbox.advance(60)
    await sandbox.sale(amount="2.00")
    await sandbox.control("POST", "/_sandbox/faults", {"webhook_out_of_order": {"rate": 1}})

    await sandbox.deliver()

    assert [e["data"]["amount"] for e in sandbox.receiver.events()] == ["2.00", "1.00"]


async def test_late_when_told(sandbox):
    await sandbox.register()
    await sandbox.control("POST", "/_sandbox/faults", {"webhook_late": {"rate": 1, "seconds": 120}})
    await sandbox.sale()

    early = await sandbox.deliver()
    await sandbox.advance(120)
    late = await sandbox.deliver()

    assert early == []
    assert [a["type"] for a in late] == ["transaction.created"]


async def test_no_webhooks_without_a_url(make_sandbox):
    sandbox = await make_sandbox(settings=quiet_settings(webhook_url=""))
    await sandbox.register()
    await sandbox.sale()

    assert await sandbox.deliver() == []
    assert await sandbox.events() == []
    assert sandbox.receiver.requests == []


async def test_the_webhook_url_can_be_changed_at_run_time(sandbox):
    await sandbox.control(
        "POST", "/_sandbox/settings", {"webhook_url": "http://portal.test/other/"}
    )
    await sandbox.register()
    await sandbox.sale()

    await sandbox.deliver()

    assert str(sandbox.receiver.requests[0].url) == "http://portal.test/other/"


async def test_a_dispute_is_announced_when_it_opens_and_when_it_changes(sandbox):
    await sandbox.register()
    sale = await sandbox.sale(channel="credit_card")
    dispute = await sandbox.control(
        "POST", "/_sandbox/disputes", {"transaction_id": sale["id"], "kind": "retrieval"}
    )
    await sandbox.control("POST", f"/_sandbox/disputes/{dispute['id']}/decide", {"status": "lost"})

    await sandbox.deliver()

    types = [(e["type"], e["data"].get("status")) for e in sandbox.receiver.events()]
    assert types[1:] == [("dispute.created", "open"), ("dispute.updated", "lost")]


async def test_the_payout_in_an_event_is_the_record_the_api_shows(sandbox):
    await sandbox.register()
    await sandbox.sale()
    await sandbox.advance_to("2026-11-26T23:30:00+08:00")

    await sandbox.deliver()

    [payout] = await sandbox.all_payouts()
    assert sandbox.receiver.events()[-1]["data"] == payout
    assert payout["merchant_id"] == MID
