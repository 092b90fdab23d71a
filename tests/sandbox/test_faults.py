"""Faults: every way the sandbox can be told to misbehave, each with its rate and scope, so
the portal's client can be tested against a misbehaving acquirer."""

import asyncio
import csv
import io
import json
import time
from pathlib import Path

import pytest

from sandbox.faults import KINDS
from tests.sandbox.conftest import MID, merchant_payload

pytestmark = pytest.mark.anyio


async def faults(sandbox, setting: dict) -> dict:
    return await sandbox.control("POST", "/_sandbox/faults", setting)


async def a_payout(sandbox) -> dict:
    await sandbox.register()
    await sandbox.sale(amount="100.00")
    await sandbox.sale(type="refund", original_id=(await sandbox.sale())["id"], amount="1.00")
    await sandbox.advance_to("2026-11-27T09:05:00+08:00")  # processing, not yet paid
    payout = await sandbox.control(
        "POST", "/_sandbox/scenarios", {"merchant_id": MID, "scenario": "bank_delay"}
    )
    return payout


async def test_faults_are_listed_changed_and_cleared(sandbox):
    listed = await faults(sandbox, {"error_5xx": {"rate": 0.25, "scope": "/v1/payouts"}})
    await faults(sandbox, {"latency": {"rate": 1, "seconds": 0.01}, "error_5xx": None})
    current = await sandbox.control("GET", "/_sandbox/faults")
    cleared = await sandbox.control("DELETE", "/_sandbox/faults")

    assert listed == {
        "faults": {"error_5xx": {"rate": 0.25, "scope": "/v1/payouts", "status": 503}}
    }
    assert current == {"faults": {"latency": {"rate": 1.0, "scope": "", "seconds": 0.01}}}
    assert cleared == {"faults": {}}


@pytest.mark.parametrize(
    "setting",
    [
        {"gremlins": {"rate": 1}},
        {"error_5xx": {"rate": 2}},
        {"error_5xx": {"rate": True}},
        {"error_5xx": {"rate": 1, "status": 418}},
        {"timeout": {"rate": 1, "when": "during"}},
        {"latency": {"rate": 1, "seconds": -1}},
        {"latency": {"rate": 1, "minutes": 1}},
        {"unknown_enum": {"rate": 1, "field": "currency"}},
        {"latency": 1},
    ],
)
async def test_a_fault_setting_that_makes_no_sense_is_refused_and_nothing_changes(sandbox, setting):
    answer = await sandbox.http.post("/_sandbox/faults", json=setting)

    assert answer.status_code == 422
    assert (await sandbox.control("GET", "/_sandbox/faults")) == {"faults": {}}


async def test_a_5xx_answers_the_error_body_and_does_nothing(sandbox):
    await faults(sandbox, {"error_5xx": {"rate": 1, "status": 502}})
    failed = await sandbox.post("/v1/merchants", merchant_payload(), idempotency_key="reg-1")
    await sandbox.control("DELETE", "/_sandbox/faults")

    retried = await sandbox.post("/v1/merchants", merchant_payload(), idempotency_key="reg-1")

    assert failed.status_code == 502
    assert set(failed.json()["error"]) == {"code", "message"}
    assert retried.status_code == 201


async def test_429_says_how_long_to_wait(sandbox):
    await faults(sandbox, {"rate_limit": {"rate": 1, "retry_after": 7}})

    answer = await sandbox.get("/v1/transactions")

    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "7"
    assert answer.json()["error"]["code"] == "rate_limited"


async def test_latency_delays_the_answer(sandbox):
    await faults(sandbox, {"latency": {"rate": 1, "seconds": 0.2}})

    started = time.monotonic()
    answer = await sandbox.get("/v1/transactions")

    assert answer.status_code == 200
    assert time.monotonic() - started >= 0.2


async def test_a_hang_before_the_work_leaves_nothing_done(sandbox):
    await faults(sandbox, {"timeout": {"rate": 1, "seconds": 60, "when": "before"}})

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(
            sandbox.post("/v1/merchants", merchant_payload(), idempotency_key="reg-1"), 0.5
        )

    state = await sandbox.control("GET", "/_sandbox/state")
    assert state["counts"]["merchants"] == 0


async def test_a_hang_after_the_work_loses_the_answer_and_a_retry_gets_the_first(sandbox):
    await faults(sandbox, {"timeout": {"rate": 1, "seconds": 60}})

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(
            sandbox.post("/v1/merchants", merchant_payload(), idempotency_key="reg-1"), 0.5
        )
    await sandbox.control("DELETE", "/_sandbox/faults")
    retried = await sandbox.post("/v1/merchants", merchant_payload(), idempotency_key="reg-1")

    assert retried.status_code == 201
    assert (await sandbox.control("GET", "/_sandbox/state"))["counts"]["merchants"] == 1


async def test_malformed_json_is_a_200_that_does_not_parse(sandbox):
    await faults(sandbox, {"malformed_json": {"rate": 1}})

    answer = await sandbox.get("/v1/transactions")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        answer.json()


async def test_an_html_page_with_200(sandbox):
    await faults(sandbox, {"html_body": {"rate": 1}})

    answer = await sandbox.get("/v1/transactions")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.text.startswith("<html>")


async def test_a_scope_limits_a_fault_to_its_path_prefix(sandbox):
    await faults(sandbox, {"error_5xx": {"rate": 1, "scope": "/v1/payouts"}})

    payouts = await sandbox.get(f"/v1/payouts?merchant_id={MID}&settlement_date=2026-11-27")
    transactions = await sandbox.get("/v1/transactions")
    control = await sandbox.http.get("/_sandbox/state")

    assert payouts.status_code == 503
    assert transactions.status_code == control.status_code == 200


async def test_a_rate_strikes_some_requests_and_not_others(sandbox):
    await faults(sandbox, {"error_5xx": {"rate": 0.5}})

    statuses = [(await sandbox.get("/v1/transactions")).status_code for _ in range(40)]

    assert set(statuses) == {200, 503}
    assert 8 <= statuses.count(503) <= 32


async def test_stale_updated_at_shows_the_payout_as_it_was_before(sandbox):
    payout = await a_payout(sandbox)
    await faults(sandbox, {"stale_updated_at": {"rate": 1}})

    stale = await sandbox.payout(payout["id"])

    assert stale["id"] == payout["id"]
    assert stale["updated_at"] < payout["updated_at"]
    assert (stale["status"], stale["reason_code"]) == ("processing", None)


async def test_stale_updated_at_moves_the_time_back_when_there_is_no_older_version(sandbox):
    await sandbox.register()
    await sandbox.sale()
    await sandbox.advance_to("2026-11-26T23:30:00+08:00")
    [payout] = await sandbox.all_payouts()
    await faults(sandbox, {"stale_updated_at": {"rate": 1, "seconds": 60}})

    stale = await sandbox.payout(payout["id"])

    assert (payout["updated_at"], stale["updated_at"]) == (
        "2026-11-26T23:00:00+08:00",
        "2026-11-26T22:59:00+08:00",
    )


async def test_unknown_reason_codes(sandbox):
    payout = await a_payout(sandbox)
    await faults(sandbox, {"unknown_reason_code": {"rate": 1}})

    shown = await sandbox.payout(payout["id"])

    assert shown["reason_code"] == "ACQ_E9001"
    assert shown["reason"] == payout["reason"]


async def test_amounts_with_three_decimals(sandbox):
    payout = await a_payout(sandbox)
    await faults(sandbox, {"three_decimals": {"rate": 1}})

    shown = await sandbox.payout(payout["id"])
    [record, *_] = await sandbox.collect("/v1/transactions")

    assert shown["gross_amount"] == payout["gross_amount"] + "1"
    assert len(record["amount"].split(".")[1]) == 3
    assert len(record["fee"].split(".")[1]) == 3


async def test_a_net_that_is_not_gross_minus_fee_plus_adjustment(sandbox):
    payout = await a_payout(sandbox)
    await faults(sandbox, {"net_mismatch": {"rate": 1}})

    [shown] = (await sandbox.post("/v1/payouts/query", {"ids": [payout["id"]]})).json()["data"]

    assert shown["net_amount"] != payout["net_amount"]
    assert shown["gross_amount"] == payout["gross_amount"]


async def test_records_for_a_merchant_nobody_registered(sandbox):
    payout = await a_payout(sandbox)
    await faults(sandbox, {"unregistered_merchant": {"rate": 1}})

    shown = await sandbox.payout(payout["id"])
    records = await sandbox.collect("/v1/transactions")

    assert shown["merchant_id"] == "999999999999999"
    assert {r["merchant_id"] for r in records} == {"999999999999999"}


async def test_an_original_id_that_was_never_sent(sandbox):
    await a_payout(sandbox)
    await faults(sandbox, {"orphan_original": {"rate": 1}})

    records = await sandbox.collect("/v1/transactions")
    sent = {r["id"] for r in records}

    assert {r["type"] for r in records} == {"refund"}
    assert all(r["original_id"] and r["original_id"] not in sent for r in records)


@pytest.mark.parametrize(
    ("field", "value"),
    [("type", "cashback"), ("channel", "digital_rmb"), ("status", "pending")],
)
async def test_unknown_enum_values_in_transactions(sandbox, field, value):
    await a_payout(sandbox)
    await faults(sandbox, {"unknown_enum": {"rate": 1, "field": field}})

    records = await sandbox.collect("/v1/transactions")

    assert {r[field] for r in records} == {value}


async def test_an_unknown_payout_status(sandbox):
    payout = await a_payout(sandbox)
    await faults(sandbox, {"unknown_enum": {"rate": 1, "field": "payout_status"}})

    assert (await sandbox.payout(payout["id"]))["status"] == "suspended"


async def test_a_cursor_that_repeats(sandbox):
    await sandbox.register()
    for _ in range(3):
        await sandbox.sale()
    await faults(sandbox, {"repeat_cursor": {"rate": 1}})

    first = (await sandbox.get("/v1/transactions?limit=2")).json()
    again = (await sandbox.get(f"/v1/transactions?limit=2&cursor={first['next_cursor']}")).json()

    assert again["next_cursor"] == first["next_cursor"]
    assert again["data"] == first["data"]


async def test_bad_lines_in_the_reconciliation_file(sandbox):
    await a_payout(sandbox)
    await faults(sandbox, {"csv_bad_lines": {"rate": 1}})

    answer = await sandbox.get("/v1/reconciliation/2026-11-27")

    rows = list(csv.reader(io.StringIO(answer.text)))
    assert len(rows[0]) == 12
    assert len(rows) > 1 and all(len(row) == 11 for row in rows[1:])


async def test_faults_leave_the_control_api_alone(sandbox):
    await faults(sandbox, {kind: {"rate": 1} for kind in ("error_5xx", "html_body")})

    assert (await sandbox.http.get("/_sandbox/state")).status_code == 200


def test_every_fault_kind_is_documented():
    page = (Path(__file__).resolve().parents[2] / "docs" / "acquirer-api.md").read_text()

    assert [kind for kind in KINDS if f"`{kind}`" not in page] == []
