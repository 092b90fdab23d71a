"""The control API under ``/_sandbox``: what a test or a demo tells the sandbox to do.

Only loopback clients may use it (anyone else gets 403), it is never signed, never subject to
faults, and nothing in the ``/v1`` API points to it: the portal cannot tell it is talking to a
sandbox. docs/acquirer-api.md (Extensions) documents every call.
"""

import json
from collections.abc import Awaitable, Callable
from ipaddress import ip_address

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.api import ApiError, error_response
from sandbox.calendar import SECOND, format_time, parse_time
from sandbox.money import InvalidField, fen_of, parse_money
from sandbox.records import payout_record, transaction_record
from sandbox.simulation import SimulationError
from sandbox.webhooks import outbox_summary


def is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def control(handler: Callable[[Request, object, dict], Awaitable[dict | Response]]):
    async def route(request: Request) -> Response:
        client = request.client.host if request.client else None
        if not is_loopback(client):
            return error_response(403, "forbidden", "the control API answers loopback clients only")
        sandbox = request.app.state.sandbox
        body = await request.body()
        payload: dict = {}
        if body.strip():
            try:
                payload = json.loads(body)
            except ValueError:
                return error_response(400, "malformed_json", "the body is not JSON")
            if not isinstance(payload, dict):
                return error_response(400, "malformed_json", "the body must be a JSON object")
        try:
            result = await handler(request, sandbox, payload)
        except ApiError as error:
            return error.response()
        except SimulationError as error:
            return error_response(error.status, error.code, error.message)
        except (ValueError, InvalidField) as error:
            return error_response(422, "invalid_field", str(error))
        return result if isinstance(result, Response) else JSONResponse(result)

    return route


def clock_state(sandbox) -> dict:
    return {"now": format_time(sandbox.clock.now()), "frozen": sandbox.clock.frozen}


async def state(request, sandbox, payload) -> dict:
    def counts():
        with sandbox.store.read() as db:
            return {
                table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608
                for table in ("merchants", "terminals", "transactions", "payouts", "disputes")
            }

    return {
        "clock": clock_state(sandbox),
        "settings": sandbox.settings.as_json(),
        "faults": sandbox.faults.as_json(),
        "counts": await run_in_threadpool(counts),
        "webhooks": await run_in_threadpool(outbox_summary, sandbox.store),
    }


async def clock(request, sandbox, payload) -> dict:
    """``{"now": RFC 3339}`` sets the clock (frozen unless ``"frozen": false``);
    ``{"advance_seconds": n}`` moves it on; ``{"frozen": bool}`` alone stops or starts it.
    The simulation then catches up to the new now before the answer."""
    if "now" in payload:
        moment = parse_time(payload["now"])
        sandbox.clock.set(moment, frozen=payload.get("frozen", True) is not False)
    elif "frozen" in payload:
        if payload["frozen"]:
            sandbox.clock.freeze()
        else:
            sandbox.clock.run()
    if "advance_seconds" in payload:
        seconds = payload["advance_seconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ValueError("advance_seconds: a non-negative number of seconds")
        sandbox.clock.advance(int(seconds * SECOND))
    await run_in_threadpool(sandbox.simulation.run_until)
    return clock_state(sandbox)


async def tick(request, sandbox, payload) -> dict:
    """Catch the simulation up to now (the server's background task does this every tick)."""
    await run_in_threadpool(sandbox.simulation.run_until)
    return clock_state(sandbox)


async def scenarios(request, sandbox, payload) -> dict:
    return await run_in_threadpool(
        lambda: sandbox.simulation.apply_scenario(
            str(payload.get("merchant_id", "")),
            str(payload.get("scenario", "")),
            reason_code=payload.get("reason_code"),
            payout_id=payload.get("payout_id"),
        )
    )


async def faults(request, sandbox, payload) -> dict:
    if request.method == "POST":
        sandbox.faults.update(payload)
    elif request.method == "DELETE":
        sandbox.faults.clear()
    return {"faults": sandbox.faults.as_json()}


async def settings(request, sandbox, payload) -> dict:
    if request.method == "POST":
        sandbox.settings = sandbox.settings.updated(payload)
    return sandbox.settings.as_json()


async def reset(request, sandbox, payload) -> dict:
    await run_in_threadpool(sandbox.reset)
    return {"reset": True, "clock": clock_state(sandbox)}


async def seed(request, sandbox, payload) -> dict:
    days = payload.get("days", 90)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 400:
        raise ValueError("days: a whole number from 1 to 400")
    rate = payload.get("rate")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int | float)):
        raise ValueError("rate: sales per busy hour")
    return await run_in_threadpool(
        lambda: sandbox.simulation.seed_history(
            str(payload.get("merchant_id", "")),
            days=days,
            rate=rate,
            incidents=payload.get("incidents", True) is not False,
        )
    )


async def transactions(request, sandbox, payload) -> dict:
    return await run_in_threadpool(sandbox.simulation.record_transaction, payload)


async def disputes(request, sandbox, payload) -> dict:
    simulation = sandbox.simulation
    kind = payload.get("kind", "chargeback")
    if kind not in ("retrieval", "chargeback"):
        raise ValueError('kind: "retrieval" or "chargeback"')

    def run():
        simulation.run_until()
        with sandbox.store.write() as db:
            sale = db.execute(
                "SELECT * FROM transactions WHERE id = ? AND emitted = 1",
                (payload.get("transaction_id"),),
            ).fetchone()
            if sale is None:
                raise SimulationError(404, "not_found", "no such recorded transaction")
            amount = None
            if payload.get("amount") is not None:
                amount = fen_of(parse_money(payload["amount"], "amount"))
            return simulation.open_dispute(
                db,
                sale,
                kind=kind,
                reason_code=str(payload.get("reason_code") or "4508"),
                at=sandbox.clock.now(),
                amount=amount,
            )

    return await run_in_threadpool(run)


async def dispute_decide(request, sandbox, payload) -> dict:
    outcome = payload.get("status")
    if outcome not in ("won", "lost"):
        raise ValueError('status: "won" or "lost"')
    dispute_id = request.path_params["dispute_id"]

    def run():
        with sandbox.store.write() as db:
            if not db.execute("SELECT 1 FROM disputes WHERE id = ?", (dispute_id,)).fetchone():
                raise SimulationError(404, "not_found", "no such dispute")
            return sandbox.simulation.dispute_update(
                db, dispute_id, sandbox.clock.now(), status=outcome, next_step_at=None
            )

    return await run_in_threadpool(run)


async def payout_adjust(request, sandbox, payload) -> dict:
    """Set a payout's adjustment (a correction, either sign): net follows."""
    text = payload.get("amount")
    negative = isinstance(text, str) and text.startswith("-")
    fen = fen_of(parse_money(text[1:] if negative else text, "amount"))
    payout_id = request.path_params["payout_id"]

    def run():
        with sandbox.store.write() as db:
            row = db.execute("SELECT * FROM payouts WHERE id = ?", (payout_id,)).fetchone()
            if row is None:
                raise SimulationError(404, "not_found", "no such payout")
            return sandbox.simulation.payout_update(
                db, payout_id, sandbox.clock.now(), adjustment=-fen if negative else fen
            )

    return await run_in_threadpool(run)


async def webhooks_deliver(request, sandbox, payload) -> dict:
    """One delivery pass now, with what happened to each event."""
    attempts = await sandbox.sender.deliver_due()
    return {"attempts": [attempt.as_json() for attempt in attempts]}


async def webhooks_list(request, sandbox, payload) -> dict:
    """The latest events queued (``?limit=``, at most 5000), newest first."""
    text = request.query_params.get("limit", "200")
    if not text.isdigit() or not 1 <= int(text) <= 5000:
        raise ValueError("limit: a whole number from 1 to 5000")

    def run():
        with sandbox.store.read() as db:
            rows = db.execute(
                "SELECT * FROM events ORDER BY seq DESC LIMIT ?", (int(text),)
            ).fetchall()
        return [
            {
                "id": row["id"],
                "type": row["type"],
                "created_at": format_time(row["created_at"]),
                "attempts": row["attempts"],
                "delivered_at": format_time(row["delivered_at"]),
                "next_attempt_at": format_time(row["next_attempt_at"]),
                "last_status": row["last_status"],
                "last_error": row["last_error"],
                "data": json.loads(row["body"])["data"],
            }
            for row in rows
        ]

    return {
        "data": await run_in_threadpool(run),
        **await run_in_threadpool(outbox_summary, sandbox.store),
    }


async def payout_peek(request, sandbox, payload) -> dict:
    """A payout, its plan and its transactions, whoever's key it is under."""
    return await run_in_threadpool(payout_details, sandbox, request.path_params["payout_id"])


def payout_details(sandbox, payout_id: str) -> dict:
    with sandbox.store.read() as db:
        row = db.execute("SELECT * FROM payouts WHERE id = ?", (payout_id,)).fetchone()
        if row is None:
            raise SimulationError(404, "not_found", "no such payout")
        rows = db.execute(
            "SELECT * FROM transactions WHERE payout_id = ? ORDER BY occurred_at, id", (payout_id,)
        ).fetchall()
        return {
            "payout": payout_record(row),
            "plan": json.loads(row["plan"]),
            "scenario": row["scenario"],
            "transactions": [transaction_record(t) for t in rows],
        }


def routes() -> list[Route]:
    return [
        Route("/_sandbox/state", control(state), methods=["GET"]),
        Route("/_sandbox/clock", control(clock), methods=["POST"]),
        Route("/_sandbox/tick", control(tick), methods=["POST"]),
        Route("/_sandbox/scenarios", control(scenarios), methods=["POST"]),
        Route("/_sandbox/faults", control(faults), methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/settings", control(settings), methods=["GET", "POST"]),
        Route("/_sandbox/reset", control(reset), methods=["POST"]),
        Route("/_sandbox/seed", control(seed), methods=["POST"]),
        Route("/_sandbox/transactions", control(transactions), methods=["POST"]),
        Route("/_sandbox/disputes", control(disputes), methods=["POST"]),
        Route("/_sandbox/disputes/{dispute_id}/decide", control(dispute_decide), methods=["POST"]),
        Route("/_sandbox/payouts/{payout_id}", control(payout_peek), methods=["GET"]),
        Route("/_sandbox/payouts/{payout_id}/adjust", control(payout_adjust), methods=["POST"]),
        Route("/_sandbox/webhooks", control(webhooks_list), methods=["GET"]),
        Route("/_sandbox/webhooks/deliver", control(webhooks_deliver), methods=["POST"]),
    ]
