"""The acquirer API of docs/acquirer-api.md, as Starlette routes.

Every ``/v1`` call goes through ``endpoint``: the request-level faults first (a gateway in
front of the acquirer fails before the acquirer sees anything), then the signature, then the
handler, whose database work runs in a worker thread so the event loop never waits on SQLite.
A handler that needs ``Idempotency-Key`` stores its answer in the same write transaction as
its change, so a repeated key gets the first answer and nothing is done twice.
"""

import asyncio
import base64
import csv
import hashlib
import hmac
import io
import json
import re
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import date

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from sandbox.accounts import Account
from sandbox.calendar import SECOND, parse_time
from sandbox.faults import mutate_payout, mutate_transaction
from sandbox.money import FeeSchedule, InvalidField
from sandbox.records import (
    dispute_record,
    merchant_record,
    payout_record,
    reconciliation_line,
    terminal_record,
    transaction_record,
)
from sandbox.signing import TOLERANCE_SECONDS, request_signature, signatures_match
from sandbox.simulation import SimulationError

MID_RE = re.compile(r"^[0-9]{15}$")
TID_RE = re.compile(r"^[0-9]{8}$")
MCC_RE = re.compile(r"^[0-9]{4}$")
REGION_RE = re.compile(r"^[0-9]{6}$")
ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
MAX_QUERY_IDS = 100
MAX_EVIDENCE_FILES = 20
MAX_EVIDENCE_BYTES = 10 * 1024 * 1024
# Nonces are kept twice the timestamp window: a replay is refused by its nonce while it could
# still pass the timestamp check, and by the timestamp check afterwards.
NONCE_RETENTION = 2 * TOLERANCE_SECONDS * SECOND
# The first line of the reconciliation file, exactly as the contract gives it.
RECONCILIATION_HEADER = [
    "transaction_id",
    "merchant_id",
    "terminal_id",
    "type",
    "channel",
    "amount",
    "fee",
    "net",
    "rrn",
    "trace_no",
    "occurred_at",
    "payout_id",
]


class ApiError(Exception):
    """An answer with the contract's error body."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return error_response(self.status, self.code, self.message, self.headers)


def error_response(status: int, code: str, message: str, headers=None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"no such {what}")


@dataclass
class Call:
    """One authenticated request, as a handler sees it."""

    sandbox: object  # sandbox.app.Sandbox; not imported, to keep the modules one-way
    request: Request
    key_id: str
    body: bytes
    path: str

    @property
    def store(self):
        return self.sandbox.store

    def json(self, *, empty_ok: bool = False) -> dict:
        if not self.body.strip() and empty_ok:
            return {}
        try:
            payload = json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "malformed_json", "the body is not JSON") from None
        if not isinstance(payload, dict):
            raise ApiError(400, "malformed_json", "the body must be a JSON object")
        return payload

    def query(self, name: str) -> str | None:
        return self.request.query_params.get(name)

    def merchant_row(self, db: sqlite3.Connection, merchant_id: str) -> sqlite3.Row:
        """The merchant if it is registered under the calling key; 404 otherwise, so a key
        cannot even learn which MIDs other keys hold."""
        row = db.execute(
            "SELECT * FROM merchants WHERE merchant_id = ? AND key_id = ?",
            (merchant_id, self.key_id),
        ).fetchone()
        if row is None:
            raise not_found("merchant")
        return row

    def payout_row(self, db: sqlite3.Connection, payout_id: str) -> sqlite3.Row:
        row = db.execute(
            "SELECT p.* FROM payouts p JOIN merchants m ON m.merchant_id = p.merchant_id "
            "WHERE p.id = ? AND m.key_id = ?",
            (payout_id, self.key_id),
        ).fetchone()
        if row is None:
            raise not_found("payout")
        return row

    def transaction(self, row: sqlite3.Row) -> dict:
        return mutate_transaction(transaction_record(row), self.sandbox.faults, self.path)

    def payout(self, db: sqlite3.Connection, row: sqlite3.Row) -> dict:
        def previous():
            older = db.execute(
                "SELECT record FROM payout_versions WHERE payout_id = ? AND updated_at < ? "
                "ORDER BY updated_at DESC LIMIT 1",
                (row["id"], row["updated_at"]),
            ).fetchone()
            return json.loads(older["record"]) if older else None

        return mutate_payout(payout_record(row), self.sandbox.faults, self.path, previous)

    async def idempotent(
        self,
        work: Callable[[sqlite3.Connection], tuple[int, dict]],
        *,
        fingerprint: str | None = None,
    ) -> Response:
        """Run ``work`` once per Idempotency-Key: a repeat gets the stored first answer, and
        the same key with a different request is refused."""
        key = self.request.headers.get("idempotency-key", "")
        if not IDEMPOTENCY_KEY_RE.match(key):
            raise ApiError(400, "idempotency_key_required", "this call needs an Idempotency-Key")
        if fingerprint is None:
            fingerprint = request_fingerprint(self.request.method, self.path, self.json())

        def run() -> Response:
            with self.store.write() as db:
                stored = db.execute(
                    "SELECT * FROM idempotency WHERE key_id = ? AND idempotency_key = ?",
                    (self.key_id, key),
                ).fetchone()
                if stored is not None:
                    if stored["fingerprint"] != fingerprint:
                        raise ApiError(
                            422,
                            "idempotency_key_reused",
                            "this Idempotency-Key was used for a different request",
                        )
                    return Response(
                        bytes(stored["body"]), stored["status_code"], media_type="application/json"
                    )
                try:
                    status, payload = work(db)
                    response = JSONResponse(payload, status)
                except SimulationError as error:
                    response = error_response(error.status, error.code, error.message)
                except ApiError as error:
                    response = error.response()
                db.execute(
                    "INSERT INTO idempotency (key_id, idempotency_key, fingerprint, status_code,"
                    " body, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        self.key_id,
                        key,
                        fingerprint,
                        response.status_code,
                        response.body,
                        self.sandbox.clock.now(),
                    ),
                )
                return response

        return await run_in_threadpool(run)


def request_fingerprint(method: str, path: str, payload) -> str:
    """What makes two requests the same operation: method, path and the parsed body (so a
    retry that serialises the same JSON differently still matches)."""
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


# -- Authentication -----------------------------------------------------------------------------


def path_with_query(request: Request) -> str:
    """The path and query exactly as on the request line, as the signature covers them."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    text = raw.decode("latin-1")
    return f"{text}?{query.decode('latin-1')}" if query else text


def authenticate(sandbox, request: Request, body: bytes) -> str:
    """The key id of a correctly signed, fresh, never-replayed request; 401 otherwise."""
    headers = request.headers
    key_id = headers.get("x-acquirer-key", "")
    stamp = headers.get("x-timestamp", "")
    nonce = headers.get("x-nonce", "")
    given = headers.get("x-signature", "")
    if not (key_id and stamp and nonce and given):
        raise ApiError(401, "unauthenticated", "the request is not signed")
    secret = sandbox.config.keys.get(key_id)
    if secret is None:
        raise ApiError(401, "unknown_key", "the key is not known")
    if not stamp.isascii() or not stamp.isdigit():
        raise ApiError(401, "bad_timestamp", "X-Timestamp is not Unix seconds")
    now = sandbox.clock.now()
    if abs(now // SECOND - int(stamp)) > TOLERANCE_SECONDS:
        raise ApiError(401, "stale_timestamp", "X-Timestamp is more than 300 seconds off")
    expected = request_signature(
        secret, request.method, path_with_query(request), stamp, nonce, body
    )
    if not signatures_match(expected, given):
        raise ApiError(401, "bad_signature", "the signature does not match")
    with sandbox.store.write() as db:
        try:
            db.execute(
                "INSERT INTO nonces (key_id, nonce, seen_at) VALUES (?, ?, ?)",
                (key_id, nonce, now),
            )
        except sqlite3.IntegrityError:
            raise ApiError(401, "nonce_reused", "this nonce was used before") from None
    return key_id


def purge_nonces(sandbox) -> None:
    with sandbox.store.write() as db:
        db.execute("DELETE FROM nonces WHERE seen_at < ?", (sandbox.clock.now() - NONCE_RETENTION,))


# -- The wrapper every /v1 route goes through ---------------------------------------------------


def endpoint(handler: Callable[[Call], Awaitable[Response]]):
    async def route(request: Request) -> Response:
        sandbox = request.app.state.sandbox
        faults = sandbox.faults
        path = request.url.path
        if fault := faults.strikes("latency", path):
            await asyncio.sleep(fault.seconds)
        if fault := faults.strikes("rate_limit", path):
            retry_after = str(int(fault.retry_after))
            return error_response(
                429, "rate_limited", "too many requests", {"Retry-After": retry_after}
            )
        if fault := faults.strikes("error_5xx", path):
            return error_response(fault.status, "unavailable", "the service is unavailable")
        hang = faults.strikes("timeout", path)
        if hang and hang.when == "before":
            await asyncio.sleep(hang.seconds)
            return error_response(504, "gateway_timeout", "the upstream did not answer")
        if faults.strikes("html_body", path):
            return HTMLResponse(
                "<html><head><title>502 Bad Gateway</title></head>"
                "<body><center><h1>502 Bad Gateway</h1></center></body></html>"
            )
        try:
            body = await request.body()
            key_id = await run_in_threadpool(authenticate, sandbox, request, body)
            response = await handler(Call(sandbox, request, key_id, body, path))
        except ApiError as error:
            response = error.response()
        except SimulationError as error:
            response = error_response(error.status, error.code, error.message)
        if hang:
            await asyncio.sleep(hang.seconds)
        if (
            response.status_code == 200
            and response.media_type == "application/json"
            and faults.strikes("malformed_json", path)
        ):
            cut = response.body[: max(1, len(response.body) // 2)]
            return Response(cut, 200, media_type="application/json")
        return response

    return route


def read(work: Callable[[Call, sqlite3.Connection], dict]):
    """A handler that only reads: ``work`` runs in a worker thread on one snapshot."""

    async def handler(call: Call) -> Response:
        def run():
            with call.store.read() as db:
                return work(call, db)

        return JSONResponse(await run_in_threadpool(run))

    return handler


# -- Lists --------------------------------------------------------------------------------------


def cursor_secret(sandbox) -> bytes:
    return hashlib.sha256(f"cursor:{sandbox.config.seed}".encode()).digest()


def encode_cursor(sandbox, scope: str, position) -> str:
    data = base64.urlsafe_b64encode(json.dumps([scope, position]).encode()).decode().rstrip("=")
    tag = hmac.new(cursor_secret(sandbox), data.encode(), hashlib.sha256).hexdigest()[:16]
    return f"{data}.{tag}"


def decode_cursor(sandbox, scope: str, cursor: str | None):
    """The position a cursor of this list (and these filters) stands at; 400 for any other."""
    if cursor is None:
        return None
    data, _, tag = cursor.partition(".")
    expected = hmac.new(cursor_secret(sandbox), data.encode(), hashlib.sha256).hexdigest()[:16]
    if not hmac.compare_digest(expected, tag):
        raise ApiError(400, "invalid_cursor", "the cursor is not one this list gave out")
    try:
        cursor_scope, position = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    except ValueError:
        raise ApiError(400, "invalid_cursor", "the cursor is not one this list gave out") from None
    if cursor_scope != scope:
        raise ApiError(400, "invalid_cursor", "the cursor belongs to another list or filter")
    return position


def page_limit(call: Call) -> int:
    text = call.query("limit")
    if text is None:
        return DEFAULT_LIMIT
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise ApiError(400, "invalid_parameter", f"limit: a whole number from 1 to {MAX_LIMIT}")
    return int(text)


def time_param(call: Call, name: str) -> int | None:
    text = call.query(name)
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError:
        raise ApiError(
            400, "invalid_parameter", f"{name}: an RFC 3339 time with its UTC offset"
        ) from None


def keyset_page(call, db, *, scope, sql, params, order, limit, render) -> dict:
    """One page of ``sql`` ordered by the columns ``order``, after the cursor's position."""
    position = decode_cursor(call.sandbox, scope, call.query("cursor"))
    where, args = sql, list(params)
    if position is not None:
        columns = ", ".join(order)
        marks = ", ".join("?" for _ in order)
        where += f" AND ({columns}) > ({marks})"
        args += position
    where += f" ORDER BY {', '.join(order)} LIMIT ?"
    rows = db.execute(where, [*args, limit + 1]).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        last = rows[-1]
        next_cursor = encode_cursor(
            call.sandbox, scope, [last[column.split(".")[-1]] for column in order]
        )
    if call.sandbox.faults.strikes("repeat_cursor", call.path):
        next_cursor = call.query("cursor") or encode_cursor(call.sandbox, scope, None)
    return {"data": [render(row) for row in rows], "next_cursor": next_cursor}


def list_scope(call: Call, *names: str) -> str:
    """Cursors are tied to the list and its filters, so one cannot be reused on another."""
    values = [call.path, call.key_id, *(call.query(name) or "" for name in names)]
    return hashlib.sha256("\x00".join(values).encode()).hexdigest()[:16]


# -- Merchants and terminals --------------------------------------------------------------------


def text_field(payload: dict, name: str, pattern: re.Pattern | None = None, *, max_length=100):
    value = payload.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise ApiError(422, "invalid_field", f"{name}: a non-empty string is needed")
    if pattern is not None and not pattern.match(value):
        raise ApiError(422, "invalid_field", f"{name}: not in the expected format")
    return value.strip()


async def merchant_register(call: Call) -> Response:
    payload = call.json()
    merchant_id = text_field(payload, "merchant_id", MID_RE)
    name = text_field(payload, "name")
    mcc = text_field(payload, "mcc", MCC_RE)
    region_code = text_field(payload, "region_code", REGION_RE)
    try:
        schedule = FeeSchedule.parse(payload.get("fee_schedule"))
    except InvalidField as error:
        raise ApiError(422, "invalid_field", str(error)) from None
    account = Account.from_payload(payload.get("settlement_account"))
    sandbox = call.sandbox

    def work(db):
        verdict = account.check()
        if verdict.status != "verified":
            raise ApiError(
                422,
                "settlement_account_rejected",
                f"{verdict.reason_code}: {verdict.reason}",
            )
        if db.execute("SELECT 1 FROM merchants WHERE merchant_id = ?", (merchant_id,)).fetchone():
            raise ApiError(409, "merchant_exists", "this merchant is already registered")
        now = sandbox.clock.now()
        db.execute(
            "INSERT INTO merchants (merchant_id, key_id, name, mcc, region_code, fee_schedule,"
            " account, account_verified_at, status, created_at, updated_at, traffic_from,"
            " simulated_until, generated_until) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?)",
            (
                merchant_id,
                call.key_id,
                name,
                mcc,
                region_code,
                json.dumps(schedule.as_json()),
                json.dumps(account.as_stored()),
                now,
                now,
                now,
                now,
                now,
                now - now % (3600 * SECOND),
            ),
        )
        row = db.execute("SELECT * FROM merchants WHERE merchant_id = ?", (merchant_id,))
        return 201, merchant_record(row.fetchone())

    return await call.idempotent(work)


def merchant_get(call: Call, db) -> dict:
    return merchant_record(call.merchant_row(db, call.request.path_params["mid"]))


async def terminal_register(call: Call) -> Response:
    payload = call.json()
    merchant_id = call.request.path_params["mid"]
    terminal_id = text_field(payload, "terminal_id", TID_RE)
    serial = text_field(payload, "serial_number", max_length=64)
    model = text_field(payload, "model", max_length=64)

    def run():
        with call.store.write() as db:
            call.merchant_row(db, merchant_id)
            row = db.execute(
                "SELECT * FROM terminals WHERE terminal_id = ?", (terminal_id,)
            ).fetchone()
            if row is not None:
                if (row["merchant_id"], row["serial_number"], row["model"]) != (
                    merchant_id,
                    serial,
                    model,
                ):
                    raise ApiError(
                        409, "terminal_exists", "this TID belongs to another device or merchant"
                    )
                return terminal_record(row)
            db.execute(
                "INSERT INTO terminals (terminal_id, merchant_id, serial_number, model, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (terminal_id, merchant_id, serial, model, call.sandbox.clock.now()),
            )
            row = db.execute("SELECT * FROM terminals WHERE terminal_id = ?", (terminal_id,))
            return terminal_record(row.fetchone())

    return JSONResponse(await run_in_threadpool(run))


async def settlement_account_change(call: Call) -> Response:
    merchant_id = call.request.path_params["mid"]
    account = Account.from_payload(call.json())
    sandbox = call.sandbox

    def work(db):
        call.merchant_row(db, merchant_id)
        verdict = account.check()
        now = sandbox.clock.now()
        if verdict.status == "verified":
            db.execute(
                "UPDATE merchants SET account = ?, account_verified_at = ?, updated_at = ? "
                "WHERE merchant_id = ?",
                (json.dumps(account.as_stored()), now, now, merchant_id),
            )
        db.execute(
            "INSERT INTO account_changes (merchant_id, status, reason_code, reason,"
            " account_masked, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (merchant_id, verdict.status, verdict.reason_code, verdict.reason, account.masked, now),
        )
        current = merchant_record(call.merchant_row(db, merchant_id))
        return 200, {
            "status": verdict.status,
            "reason_code": verdict.reason_code,
            "reason": verdict.reason,
            "settlement_account": current["settlement_account"],
        }

    return await call.idempotent(work)


# -- Transactions -------------------------------------------------------------------------------


def transactions_feed(call: Call, db) -> dict:
    sql = (
        "SELECT t.* FROM transactions t JOIN merchants m ON m.merchant_id = t.merchant_id "
        "WHERE m.key_id = ? AND t.emitted = 1"
    )
    params: list = [call.key_id]
    merchant_id = call.query("merchant_id")
    if merchant_id is not None:
        call.merchant_row(db, merchant_id)
        sql += " AND t.merchant_id = ?"
        params.append(merchant_id)
    since = time_param(call, "since")
    if since is not None:
        sql += " AND t.recorded_at >= ?"
        params.append(since)
    return keyset_page(
        call,
        db,
        scope=list_scope(call, "merchant_id", "since"),
        sql=sql,
        params=params,
        order=("t.recorded_at", "t.id"),
        limit=page_limit(call),
        render=call.transaction,
    )


# -- Payouts ------------------------------------------------------------------------------------


def payouts_list(call: Call, db) -> dict:
    sql = (
        "SELECT p.* FROM payouts p JOIN merchants m ON m.merchant_id = p.merchant_id "
        "WHERE m.key_id = ?"
    )
    params: list = [call.key_id]
    merchant_id = call.query("merchant_id")
    if merchant_id is not None:
        call.merchant_row(db, merchant_id)
        sql += " AND p.merchant_id = ?"
        params.append(merchant_id)
    settlement_date = call.query("settlement_date")
    if settlement_date is not None:
        try:
            date.fromisoformat(settlement_date)
        except ValueError:
            raise ApiError(400, "invalid_parameter", "settlement_date: YYYY-MM-DD") from None
        sql += " AND p.settlement_date = ?"
        params.append(settlement_date)
    updated_since = time_param(call, "updated_since")
    if updated_since is not None:
        sql += " AND p.updated_at >= ?"
        params.append(updated_since)
    if merchant_id is None and settlement_date is None and updated_since is None:
        raise ApiError(
            400,
            "invalid_parameter",
            "give merchant_id and settlement_date, or updated_since",
        )
    return keyset_page(
        call,
        db,
        scope=list_scope(call, "merchant_id", "settlement_date", "updated_since"),
        sql=sql,
        params=params,
        order=("p.updated_at", "p.id"),
        limit=page_limit(call),
        render=lambda row: call.payout(db, row),
    )


def payout_get(call: Call, db) -> dict:
    return call.payout(db, call.payout_row(db, call.request.path_params["payout_id"]))


async def payouts_query(call: Call) -> Response:
    ids = call.json().get("ids")
    if (
        not isinstance(ids, list)
        or not 1 <= len(ids) <= MAX_QUERY_IDS
        or not all(isinstance(item, str) for item in ids)
    ):
        raise ApiError(422, "invalid_field", f"ids: a list of 1 to {MAX_QUERY_IDS} payout ids")

    def run():
        with call.store.read() as db:
            data, missing, seen = [], [], set()
            for payout_id in ids:
                if payout_id in seen:
                    continue
                seen.add(payout_id)
                try:
                    data.append(call.payout(db, call.payout_row(db, payout_id)))
                except ApiError:
                    missing.append(payout_id)
            return {"data": data, "missing": missing}

    return JSONResponse(await run_in_threadpool(run))


def payout_transactions(call: Call, db) -> dict:
    payout = call.payout_row(db, call.request.path_params["payout_id"])
    return keyset_page(
        call,
        db,
        scope=list_scope(call),
        sql="SELECT * FROM transactions WHERE payout_id = ?",
        params=[payout["id"]],
        order=("occurred_at", "id"),
        limit=page_limit(call),
        render=call.transaction,
    )


async def payout_retry(call: Call) -> Response:
    payout_id = call.request.path_params["payout_id"]
    call.json(empty_ok=True)
    fingerprint = request_fingerprint("POST", call.path, {})
    simulation = call.sandbox.simulation

    def work(db):
        call.payout_row(db, payout_id)
        return 200, simulation.retry_payout(db, payout_id)

    await run_in_threadpool(simulation.run_until)
    return await call.idempotent(work, fingerprint=fingerprint)


# -- Reconciliation -----------------------------------------------------------------------------


async def reconciliation(call: Call) -> Response:
    text = call.request.path_params["day"]
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "invalid_parameter", "the date must be YYYY-MM-DD") from None
    if len(text) != 10:
        raise ApiError(400, "invalid_parameter", "the date must be YYYY-MM-DD")
    store, faults, path, key_id = call.store, call.sandbox.faults, call.path, call.key_id

    def lines() -> Iterator[bytes]:
        # Its own connection: the response is produced in pieces, perhaps on several threads.
        db = sqlite3.connect(store.path, check_same_thread=False)
        db.row_factory = sqlite3.Row
        try:
            rows = db.execute(
                "SELECT t.* FROM transactions t JOIN payouts p ON p.id = t.payout_id "
                "JOIN merchants m ON m.merchant_id = t.merchant_id "
                "WHERE m.key_id = ? AND p.settlement_date = ? "
                "ORDER BY t.payout_id, t.occurred_at, t.id",
                (key_id, day.isoformat()),
            )
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(RECONCILIATION_HEADER)
            while batch := rows.fetchmany(1000):
                for row in batch:
                    line = reconciliation_line(row)
                    if faults.strikes("csv_bad_lines", path):
                        line = line[:-1]
                    writer.writerow(line)
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
            yield buffer.getvalue().encode("utf-8")
        finally:
            db.close()

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="reconciliation-{day}.csv"'},
    )


# -- Disputes -----------------------------------------------------------------------------------


def disputes_feed(call: Call, db) -> dict:
    sql = (
        "SELECT d.* FROM disputes d JOIN merchants m ON m.merchant_id = d.merchant_id "
        "WHERE m.key_id = ?"
    )
    params: list = [call.key_id]
    merchant_id = call.query("merchant_id")
    if merchant_id is not None:
        call.merchant_row(db, merchant_id)
        sql += " AND d.merchant_id = ?"
        params.append(merchant_id)
    since = time_param(call, "since")
    if since is not None:
        sql += " AND d.updated_at >= ?"
        params.append(since)
    return keyset_page(
        call,
        db,
        scope=list_scope(call, "merchant_id", "since"),
        sql=sql,
        params=params,
        order=("d.updated_at", "d.id"),
        limit=page_limit(call),
        render=dispute_record,
    )


async def dispute_evidence(call: Call) -> Response:
    dispute_id = call.request.path_params["dispute_id"]
    if not call.request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(415, "unsupported_media_type", "evidence is sent as multipart/form-data")
    try:
        form = await call.request.form(max_files=MAX_EVIDENCE_FILES, max_fields=20)
    except Exception as error:  # Starlette raises its own errors for a bad multipart body
        raise ApiError(400, "malformed_multipart", str(error)[:200]) from None
    note = form.get("note")
    uploads = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
    if not isinstance(note, str):
        raise ApiError(422, "invalid_field", "note: a text part is needed")
    if not uploads:
        raise ApiError(422, "invalid_field", "at least one file part is needed")
    files = []
    for upload in uploads:
        content = await upload.read()
        if len(content) > MAX_EVIDENCE_BYTES:
            raise ApiError(413, "file_too_large", f"{upload.filename}: more than 10 MB")
        files.append(
            {
                "filename": upload.filename or "",
                "content_type": upload.content_type or "",
                "size": len(content),
                "sha256": hashlib.sha256(content).hexdigest(),
            }
        )
    # The multipart boundary differs on every attempt, so the operation is what was sent.
    fingerprint = request_fingerprint("POST", call.path, {"note": note, "files": files})
    simulation = call.sandbox.simulation

    def work(db):
        row = db.execute(
            "SELECT d.id FROM disputes d JOIN merchants m ON m.merchant_id = d.merchant_id "
            "WHERE d.id = ? AND m.key_id = ?",
            (dispute_id, call.key_id),
        ).fetchone()
        if row is None:
            raise not_found("dispute")
        return 200, simulation.submit_evidence(db, dispute_id, files=files, note=note)

    await run_in_threadpool(simulation.run_until)
    return await call.idempotent(work, fingerprint=fingerprint)


def routes() -> list[Route]:
    return [
        Route("/v1/merchants", endpoint(merchant_register), methods=["POST"]),
        Route("/v1/merchants/{mid}", endpoint(read(merchant_get)), methods=["GET"]),
        Route("/v1/merchants/{mid}/terminals", endpoint(terminal_register), methods=["POST"]),
        Route(
            "/v1/merchants/{mid}/settlement-account",
            endpoint(settlement_account_change),
            methods=["PUT"],
        ),
        Route("/v1/transactions", endpoint(read(transactions_feed)), methods=["GET"]),
        Route("/v1/payouts", endpoint(read(payouts_list)), methods=["GET"]),
        Route("/v1/payouts/query", endpoint(payouts_query), methods=["POST"]),
        Route("/v1/payouts/{payout_id}", endpoint(read(payout_get)), methods=["GET"]),
        Route(
            "/v1/payouts/{payout_id}/transactions",
            endpoint(read(payout_transactions)),
            methods=["GET"],
        ),
        Route("/v1/payouts/{payout_id}/retry", endpoint(payout_retry), methods=["POST"]),
        Route("/v1/reconciliation/{day}", endpoint(reconciliation), methods=["GET"]),
        Route("/v1/disputes", endpoint(read(disputes_feed)), methods=["GET"]),
        Route("/v1/disputes/{dispute_id}/evidence", endpoint(dispute_evidence), methods=["POST"]),
    ]
