"""The control API: loopback only, the clock, settings, reset; and unknown routes answer the
contract's error body."""

import re
from pathlib import Path

import pytest

from sandbox import control
from sandbox.simulation import SCENARIOS
from tests.sandbox.conftest import MID, START, merchant_payload

pytestmark = pytest.mark.anyio

CONTROL_CALLS = [
    ("GET", "/_sandbox/state"),
    ("POST", "/_sandbox/clock"),
    ("POST", "/_sandbox/tick"),
    ("POST", "/_sandbox/scenarios"),
    ("GET", "/_sandbox/faults"),
    ("POST", "/_sandbox/faults"),
    ("DELETE", "/_sandbox/faults"),
    ("GET", "/_sandbox/settings"),
    ("POST", "/_sandbox/settings"),
    ("POST", "/_sandbox/reset"),
    ("POST", "/_sandbox/seed"),
    ("POST", "/_sandbox/transactions"),
    ("POST", "/_sandbox/disputes"),
    ("POST", "/_sandbox/disputes/dp_1/decide"),
    ("GET", "/_sandbox/payouts/po_1"),
    ("POST", "/_sandbox/payouts/po_1/adjust"),
    ("GET", "/_sandbox/webhooks"),
    ("POST", "/_sandbox/webhooks/deliver"),
]


@pytest.mark.parametrize(("method", "path"), CONTROL_CALLS)
async def test_the_control_api_refuses_clients_that_are_not_on_loopback(make_sandbox, method, path):
    outsider = await make_sandbox(client=("203.0.113.7", 40000))

    answer = await outsider.http.request(method, path, json={})

    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1"])
async def test_the_control_api_answers_loopback_clients(make_sandbox, host):
    local = await make_sandbox(client=(host, 40000))

    assert (await local.http.get("/_sandbox/state")).status_code == 200


async def test_the_public_api_answers_any_client_that_signs(make_sandbox):
    outsider = await make_sandbox(client=("203.0.113.7", 40000))

    assert (await outsider.get("/v1/transactions")).status_code == 200


async def test_the_clock_can_be_set_moved_on_frozen_and_let_run(sandbox):
    set_ = await sandbox.set_clock("2026-12-01T08:00:00+08:00")
    moved = await sandbox.advance(90)
    running = await sandbox.control("POST", "/_sandbox/clock", {"frozen": False})
    frozen = await sandbox.control("POST", "/_sandbox/clock", {"frozen": True})

    assert set_ == {"now": "2026-12-01T08:00:00+08:00", "frozen": True}
    assert moved == {"now": "2026-12-01T08:01:30+08:00", "frozen": True}
    assert running["frozen"] is False
    assert frozen["frozen"] is True
    assert frozen["now"] >= "2026-12-01T08:01:30+08:00"


@pytest.mark.parametrize(
    "payload",
    [{"now": "2026-12-01 08:00"}, {"now": "2026-12-01T08:00:00"}, {"advance_seconds": -5}],
)
async def test_a_clock_setting_that_makes_no_sense_is_refused(sandbox, payload):
    answer = await sandbox.http.post("/_sandbox/clock", json=payload)

    assert answer.status_code == 422


async def test_the_simulation_catches_up_when_the_clock_is_moved(sandbox):
    await sandbox.register()
    await sandbox.sale()

    await sandbox.advance(14 * 3600)

    assert len(await sandbox.all_payouts()) == 1


async def test_settings_can_be_read_and_changed(sandbox):
    changed = await sandbox.control(
        "POST", "/_sandbox/settings", {"traffic_rate": 2, "webhook_retry_seconds": [1, 2]}
    )
    read = await sandbox.control("GET", "/_sandbox/settings")
    wrong = await sandbox.http.post("/_sandbox/settings", json={"incident_rate": 3})
    unknown = await sandbox.http.post("/_sandbox/settings", json={"speed": 3})

    assert changed == read
    assert (read["traffic_rate"], read["webhook_retry_seconds"]) == (2.0, [1.0, 2.0])
    assert wrong.status_code == unknown.status_code == 422


async def test_reset_forgets_everything(sandbox):
    await sandbox.register()
    await sandbox.sale()
    await sandbox.control("POST", "/_sandbox/faults", {"latency": {"rate": 1, "seconds": 0}})
    await sandbox.control("POST", "/_sandbox/settings", {"traffic_rate": 9})
    await sandbox.advance(86400)

    answer = await sandbox.control("POST", "/_sandbox/reset")

    state = await sandbox.control("GET", "/_sandbox/state")
    assert answer["clock"]["now"] == START
    assert set(state["counts"].values()) == {0}
    assert state["faults"] == {}
    assert state["settings"]["traffic_rate"] == 0.0
    assert state["webhooks"] == {"total": 0, "delivered": 0, "retrying": 0}
    assert (await sandbox.get(f"/v1/merchants/{MID}")).status_code == 404
    # The idempotency key is forgotten too: with another body it is not "reused".
    again = await sandbox.post(
        "/v1/merchants", merchant_payload(name="另一家店"), idempotency_key=f"register-{MID}"
    )
    assert again.status_code == 201


async def test_a_control_call_with_a_body_that_is_not_json_is_refused(sandbox):
    answer = await sandbox.http.post("/_sandbox/scenarios", content=b"{")

    assert answer.status_code == 400


async def test_unknown_paths_and_methods_answer_the_error_body(sandbox):
    unknown = await sandbox.get("/v1/nothing-here")
    wrong_method = await sandbox.http.delete("/v1/merchants")

    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


async def test_the_public_api_does_not_say_it_is_a_sandbox(sandbox):
    answer = await sandbox.get("/v1/transactions")

    assert "sandbox" not in str(answer.headers).lower()
    assert "server" not in answer.headers


def test_every_control_call_and_scenario_is_documented():
    page = (Path(__file__).resolve().parents[2] / "docs" / "acquirer-api.md").read_text()
    documented = {
        re.sub(r"\{[^}]*\}", "{}", path) for path in re.findall(r"/_sandbox/[^\s`?]*", page)
    }

    paths = {re.sub(r"\{[^}]*\}", "{}", route.path) for route in control.routes()}

    assert paths - documented == set()
    assert [name for name in SCENARIOS if f"`{name}`" not in page] == []
