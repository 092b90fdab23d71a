"""Webhooks: an outbox in the store and a sender that empties it.

Every change the sandbox makes queues an event in the same write transaction as the change, so
an event exists exactly when its change does. The sender posts due events to the portal,
signed with the secret of the key the merchant belongs to, and keeps trying on its retry
schedule until the portal answers 2xx: delivery is at least once. Faults can make it deliver
twice, late, or newest first, because a real acquirer's webhooks do all three.
"""

import asyncio
import json
import logging
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from starlette.concurrency import run_in_threadpool

from sandbox.calendar import SECOND, format_time
from sandbox.clock import Clock
from sandbox.config import Settings
from sandbox.faults import Faults
from sandbox.signing import webhook_signature
from sandbox.store import Store

logger = logging.getLogger(__name__)
BATCH = 100


def event_body(event_id: str, type_: str, created_at: int, data: dict) -> bytes:
    payload = {"id": event_id, "type": type_, "created_at": format_time(created_at), "data": data}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Outbox:
    """Queues events; the simulation and the API call it inside their write transactions."""

    def __init__(self, settings: Callable[[], Settings], faults: Faults, clock: Clock):
        self._settings = settings
        self._faults = faults
        self._clock = clock
        # Seeding a merchant's history writes months of changes that the portal reads by
        # polling; announcing each would flood it, so seeding turns the outbox quiet.
        self.quiet = False

    def queue(self, db: sqlite3.Connection, *, key_id: str, type_: str, data: dict, at: int):
        if self.quiet or not self._settings().webhook_url:
            return
        event_id = f"evt_{uuid.uuid4().hex}"
        # Due at once: a change stamped a microsecond ahead (two changes in one instant) too.
        due = min(at, self._clock.now())
        if fault := self._faults.strikes("webhook_late", "webhook"):
            due += int(fault.seconds * SECOND)
        db.execute(
            "INSERT INTO events (id, key_id, type, created_at, body, next_attempt_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (event_id, key_id, type_, at, event_body(event_id, type_, at, data), due),
        )


@dataclass(frozen=True)
class Attempt:
    event_id: str
    type: str
    status: int | None
    error: str | None
    delivered: bool

    def as_json(self) -> dict:
        return {
            "event_id": self.event_id,
            "type": self.type,
            "status": self.status,
            "error": self.error,
            "delivered": self.delivered,
        }


class Sender:
    """Posts due events to the portal's webhook URL, one at a time, in order."""

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        keys: dict[str, str],
        settings: Callable[[], Settings],
        faults: Faults,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self._store = store
        self._clock = clock
        self._keys = keys
        self._settings = settings
        self._faults = faults
        self._timeout = timeout
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._lock = asyncio.Lock()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(transport=self._transport, timeout=self._timeout)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _due(self, now: int) -> list[sqlite3.Row]:
        with self._store.read() as db:
            return db.execute(
                "SELECT * FROM events WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ? "
                "ORDER BY next_attempt_at, seq LIMIT ?",
                (now, BATCH),
            ).fetchall()

    async def deliver_due(self) -> list[Attempt]:
        """One pass over what is due now: each event tried once (twice under a duplicate
        fault). Returns what happened, in order."""
        async with self._lock:
            url = self._settings().webhook_url
            if not url:
                return []
            rows = await run_in_threadpool(self._due, self._clock.now())
            if self._faults.strikes("webhook_out_of_order", "webhook"):
                rows.reverse()
            attempts = []
            for row in rows:
                attempt = await self._post(url, row)
                attempts.append(attempt)
                await run_in_threadpool(self._record, row, attempt)
                if attempt.delivered and self._faults.strikes("webhook_duplicate", "webhook"):
                    attempts.append(await self._post(url, row))
            return attempts

    async def _post(self, url: str, row: sqlite3.Row) -> Attempt:
        body = bytes(row["body"])
        secret = self._keys.get(row["key_id"], "")
        headers = {
            "Content-Type": "application/json",
            "X-Acquirer-Key": row["key_id"],
            "X-Acquirer-Signature": webhook_signature(secret, self._clock.now_seconds(), body),
        }
        try:
            answer = await self._http().post(url, content=body, headers=headers)
        except httpx.HTTPError as error:
            return Attempt(row["id"], row["type"], None, type(error).__name__, False)
        delivered = 200 <= answer.status_code < 300
        return Attempt(row["id"], row["type"], answer.status_code, None, delivered)

    def _record(self, row: sqlite3.Row, attempt: Attempt) -> None:
        now = self._clock.now()
        attempts = row["attempts"] + 1
        with self._store.write() as db:
            if attempt.delivered:
                db.execute(
                    "UPDATE events SET attempts = ?, delivered_at = ?, next_attempt_at = NULL, "
                    "last_status = ?, last_error = NULL WHERE seq = ?",
                    (attempts, now, attempt.status, row["seq"]),
                )
                return
            schedule = self._settings().webhook_retry_seconds
            wait = schedule[min(attempts - 1, len(schedule) - 1)]
            db.execute(
                "UPDATE events SET attempts = ?, next_attempt_at = ?, last_status = ?, "
                "last_error = ? WHERE seq = ?",
                (attempts, now + int(wait * SECOND), attempt.status, attempt.error, row["seq"]),
            )

    async def run(self, interval: float) -> None:
        """The server's background loop: deliver what is due, pause, again."""
        while True:
            try:
                await self.deliver_due()
            except Exception:  # a bad pass must not end deliveries for good
                logger.exception("webhook delivery pass failed")
            await asyncio.sleep(interval)


def outbox_summary(store: Store) -> dict:
    """Counts for the control API: queued, delivered, waiting for a retry."""
    with store.read() as db:
        row = db.execute(
            "SELECT COUNT(*) AS total, SUM(delivered_at IS NOT NULL) AS delivered, "
            "SUM(delivered_at IS NULL AND attempts > 0) AS retrying FROM events"
        ).fetchone()
    return {
        "total": row["total"],
        "delivered": row["delivered"] or 0,
        "retrying": row["retrying"] or 0,
    }
