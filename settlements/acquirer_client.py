"""
The one client for talking to an acquirer (docs/acquirer-api.md).

Every call is signed, has a connect and a read timeout, and fails with ``AcquirerCallError``,
whose ``retryable`` says whether trying again can help (a timeout, a 5xx, a 429: yes; a 4xx,
a body that is not the JSON object the contract promises: no). Idempotent calls (every GET,
the payout batch query, and POSTs that carry an ``Idempotency-Key``) are retried here with
exponential backoff and jitter, honouring ``Retry-After``; nothing else is. A circuit breaker
whose state is on the acquirer's row (so every worker shares it and staff see it) stops
calling an acquirer that keeps failing, then lets one call through after a pause to see
whether it is back. Records are parsed by settlements/acquirer_data.py; this module only
speaks HTTP.
"""

import asyncio
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import httpx
from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone
from prometheus_client import Histogram
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from settlements.models import Acquirer, AcquirerError

logger = logging.getLogger(__name__)

# Counted in memory, per process (see core/metrics.py for adding processes up).
CALL_SECONDS = Histogram(
    "portal_acquirer_call_seconds",
    "Calls to an acquirer by endpoint and outcome, and how long they took",
    ["acquirer", "endpoint", "outcome"],
)
# An id in a path (/v1/payouts/po_123) becomes {id}: one series per endpoint, not per payout.
ID_SEGMENT = re.compile(r"/(?!v[0-9]+(?:/|$))[^/]*[0-9][^/]*")

SIGNATURE_TOLERANCE = 300  # seconds, both ways (the contract's window)
ERROR_TEXT_MAX = 2000
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


class AcquirerCallError(Exception):
    """A call to an acquirer that did not give a usable answer."""

    def __init__(
        self, message: str, *, retryable: bool, http_status: int | None = None, retry_after=None
    ):
        super().__init__(message)
        self.retryable = retryable
        self.http_status = http_status
        self.retry_after = retry_after


class AcquirerUnavailable(AcquirerCallError):
    """The breaker is open: the acquirer kept failing and is left alone for a while."""

    def __init__(self, acquirer: Acquirer):
        super().__init__(
            f"{acquirer.code}: circuit breaker open after {acquirer.breaker_failures} failures",
            retryable=True,
        )


# -- Signing ------------------------------------------------------------------------------------


def canonical_request(method: str, path_with_query: str, timestamp: str, nonce: str, body: bytes):
    digest = hashlib.sha256(body).hexdigest() if body else EMPTY_BODY_SHA256
    return "\n".join([method.upper(), path_with_query, timestamp, nonce, digest])


def sign(secret: str, canonical: str) -> str:
    return hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()


def signed_headers(
    *, key_id: str, secret: str, method: str, path_with_query: str, body: bytes
) -> dict[str, str]:
    """The four authentication headers for one request: a fresh timestamp and nonce each
    time, so a retried request is never refused as a replay."""
    timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
    canonical = canonical_request(method, path_with_query, timestamp, nonce, body)
    return {
        "X-Acquirer-Key": key_id,
        "X-Timestamp": timestamp,
        "X-Nonce": nonce,
        "X-Signature": sign(secret, canonical),
    }


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def webhook_verified(secret: str, header: str, body: bytes, *, now: float | None = None) -> bool:
    """Whether ``X-Acquirer-Signature: t=…,v1=…`` signs ``body`` with ``secret`` and is not
    older than the contract's 300 s (nor as far in the future: a clock that far off is
    refused too). Constant-time comparison."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    timestamp, signature = parts.get("t", ""), parts.get("v1", "")
    if not (timestamp.isascii() and timestamp.isdigit() and signature):
        return False
    if abs((now if now is not None else time.time()) - int(timestamp)) > SIGNATURE_TOLERANCE:
        return False
    expected = webhook_signature(secret, int(timestamp), body)
    return hmac.compare_digest(expected, signature.strip().lower())


# -- The breaker --------------------------------------------------------------------------------


def breaker_open(acquirer: Acquirer, *, now=None) -> bool:
    """Open: too many failures in a row and the pause since the last try is not over."""
    now = now or timezone.now()
    return (
        acquirer.breaker_failures >= settings.ACQUIRER_BREAKER_FAILURES
        and acquirer.breaker_opened_at is not None
        and now < acquirer.breaker_opened_at + timedelta(seconds=settings.ACQUIRER_BREAKER_PAUSE)
    )


def _breaker_admit(acquirer: Acquirer) -> None:
    """Let a call through, or raise ``AcquirerUnavailable``. After the pause, one caller (a
    conditional update decides which) tries; the others keep waiting."""
    acquirer.refresh_from_db(fields=["breaker_failures", "breaker_opened_at"])
    if acquirer.breaker_failures < settings.ACQUIRER_BREAKER_FAILURES:
        return
    now = timezone.now()
    if breaker_open(acquirer, now=now):
        raise AcquirerUnavailable(acquirer)
    # Half-open: re-arm the pause for everyone else while this one call tries.
    claimed = Acquirer.objects.filter(
        pk=acquirer.pk, breaker_opened_at=acquirer.breaker_opened_at
    ).update(breaker_opened_at=now)
    if not claimed:
        raise AcquirerUnavailable(acquirer)


def _breaker_record(acquirer: Acquirer, *, ok: bool, error: str = "") -> None:
    now = timezone.now()
    if ok:
        Acquirer.objects.filter(pk=acquirer.pk).update(
            breaker_failures=0, breaker_opened_at=None, last_success_at=now
        )
        return
    Acquirer.objects.filter(pk=acquirer.pk).update(
        breaker_failures=F("breaker_failures") + 1,
        last_failure_at=now,
        last_error=error[:ERROR_TEXT_MAX],
    )
    # The failure that reaches the threshold opens it; later ones (the half-open tries)
    # start the pause again.
    Acquirer.objects.filter(
        pk=acquirer.pk, breaker_failures__gte=settings.ACQUIRER_BREAKER_FAILURES
    ).filter(Q(breaker_opened_at__isnull=True) | Q(breaker_opened_at__lt=now)).update(
        breaker_opened_at=now
    )


# -- Calls --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict


def _wait(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    backoff = wait_exponential_jitter(multiplier=0.5, max=settings.ACQUIRER_RETRY_MAX_WAIT)(state)
    if isinstance(error, AcquirerCallError) and error.retry_after is not None:
        return min(max(error.retry_after, backoff), settings.ACQUIRER_RETRY_MAX_WAIT)
    return backoff


def _retryable(error: BaseException) -> bool:
    return (
        isinstance(error, AcquirerCallError)
        and error.retryable
        and not isinstance(error, AcquirerUnavailable)
    )


class AcquirerClient:
    """Calls to one acquirer. ``transport`` replaces the network in tests (an httpx
    transport: the sandbox's ASGI app, or a mock at this boundary)."""

    def __init__(
        self,
        acquirer: Acquirer,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.acquirer = acquirer
        self.transport = transport
        self.sleep = sleep
        base = urlsplit(acquirer.base_url.rstrip("/"))
        self.base_path = base.path
        self.timeout = httpx.Timeout(
            settings.ACQUIRER_READ_TIMEOUT, connect=settings.ACQUIRER_CONNECT_TIMEOUT
        )

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.acquirer.base_url.rstrip("/"),
            timeout=self.timeout,
            transport=self.transport,
            follow_redirects=False,
        )

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        body: dict | None = None,
        idempotency_key: str | None = None,
        idempotent: bool | None = None,
    ) -> Answer:
        """One signed call, retried when that is safe; returns the parsed JSON object."""
        if idempotent is None:
            idempotent = method == "GET" or idempotency_key is not None
        attempts = settings.ACQUIRER_RETRY_ATTEMPTS if idempotent else 1
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=_wait,
            retry=retry_if_exception(_retryable),
            sleep=self.sleep,
            reraise=True,
        )
        return retrying(
            self._once, method, path, params=params, body=body, idempotency_key=idempotency_key
        )

    def _once(self, method, path, *, params, body, idempotency_key) -> Answer:
        _breaker_admit(self.acquirer)
        query = f"?{urlencode(params)}" if params else ""
        payload = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        path_with_query = f"{self.base_path}{path}{query}"
        headers = signed_headers(
            key_id=self.acquirer.key_id,
            secret=self.acquirer.secret,
            method=method,
            path_with_query=path_with_query,
            body=payload,
        )
        if body is not None:
            headers["Content-Type"] = "application/json"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        started = time.monotonic()
        try:
            with self._client() as client:
                response = client.request(
                    method, f"{path}{query}", content=payload or None, headers=headers
                )
            answer = self._read(response)
        except AcquirerCallError as exc:
            self._observe(method, path, "error", started)
            self._failed(method, path, exc)
            raise
        except httpx.HTTPError as exc:
            error = AcquirerCallError(
                f"{method} {path}: {type(exc).__name__}: {exc}", retryable=True
            )
            self._observe(method, path, "error", started)
            self._failed(method, path, error)
            raise error from exc
        self._observe(method, path, "ok", started)
        _breaker_record(self.acquirer, ok=True)
        return answer

    def _read(self, response: httpx.Response) -> Answer:
        where = f"{response.request.method} {response.request.url.path}"
        if response.status_code == 429:
            raise AcquirerCallError(
                f"{where}: 429 too many requests",
                retryable=True,
                http_status=429,
                retry_after=_seconds(response.headers.get("Retry-After")),
            )
        if response.status_code >= 500:
            raise AcquirerCallError(
                f"{where}: {response.status_code} {_error_text(response)}",
                retryable=True,
                http_status=response.status_code,
            )
        if response.status_code >= 400:
            raise AcquirerCallError(
                f"{where}: {response.status_code} {_error_text(response)}",
                retryable=False,
                http_status=response.status_code,
            )
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type != "application/json":
            raise AcquirerCallError(
                f"{where}: answered {content_type or 'no content type'}, not JSON",
                retryable=False,
                http_status=response.status_code,
            )
        try:
            body = json.loads(response.content, parse_float=str, parse_int=int)
        except (ValueError, UnicodeDecodeError) as exc:
            raise AcquirerCallError(
                f"{where}: the body is not valid JSON ({exc})",
                retryable=False,
                http_status=response.status_code,
            ) from exc
        if not isinstance(body, dict):
            raise AcquirerCallError(
                f"{where}: the body is not a JSON object", retryable=False, http_status=200
            )
        return Answer(response.status_code, body)

    def _observe(self, method: str, path: str, outcome: str, started: float) -> None:
        endpoint = f"{method} {ID_SEGMENT.sub('/{id}', path)}"
        CALL_SECONDS.labels(self.acquirer.code, endpoint, outcome).observe(
            time.monotonic() - started
        )

    def _failed(self, method: str, path: str, error: AcquirerCallError) -> None:
        if isinstance(error, AcquirerUnavailable):
            return
        _breaker_record(self.acquirer, ok=False, error=str(error))
        AcquirerError.objects.create(
            acquirer=self.acquirer,
            source=AcquirerError.Source.CALL,
            endpoint=f"{method} {path}"[:200],
            message=str(error)[:ERROR_TEXT_MAX],
        )
        logger.warning("Acquirer call failed: %s", error)

    # -- Lists ---------------------------------------------------------------------------------

    def pages(self, path: str, params: dict) -> Iterator[list]:
        """Every page of a cursor-paged list, in order. A cursor that comes back twice is an
        error (an acquirer looping would otherwise keep a worker busy forever)."""
        seen: set[str] = set()
        cursor = None
        while True:
            answer = self.call(
                "GET", path, params={**params, "cursor": cursor} if cursor else params
            )
            data = answer.body.get("data")
            if not isinstance(data, list):
                raise AcquirerCallError(f"GET {path}: no data list", retryable=False)
            yield data
            cursor = answer.body.get("next_cursor")
            if cursor is None:
                return
            if not isinstance(cursor, str) or not cursor:
                raise AcquirerCallError(f"GET {path}: next_cursor is not a string", retryable=False)
            if cursor in seen:
                raise AcquirerCallError(
                    f"GET {path}: the cursor {cursor[:40]!r} came back twice", retryable=False
                )
            seen.add(cursor)

    # -- Batches, concurrently -----------------------------------------------------------------

    async def query_payouts_async(
        self, batches: list[list[str]], *, transport: httpx.AsyncBaseTransport | None = None
    ) -> list[dict | AcquirerCallError]:
        """``POST /v1/payouts/query`` for many batches of ≤ 100 ids at once, at most
        ``ACQUIRER_CONCURRENCY`` in flight; one answer (or error) per batch. Keep the ORM
        out of here: it runs in an event loop."""
        limit = asyncio.Semaphore(settings.ACQUIRER_CONCURRENCY)

        async with httpx.AsyncClient(
            base_url=self.acquirer.base_url.rstrip("/"),
            timeout=self.timeout,
            transport=transport,
        ) as client:

            async def one(ids: list[str]):
                async with limit:
                    path = f"{self.base_path}/v1/payouts/query"
                    payload = json.dumps({"ids": ids}, separators=(",", ":")).encode()
                    headers = signed_headers(
                        key_id=self.acquirer.key_id,
                        secret=self.acquirer.secret,
                        method="POST",
                        path_with_query=path,
                        body=payload,
                    )
                    headers["Content-Type"] = "application/json"
                    try:
                        response = await client.post(
                            "/v1/payouts/query", content=payload, headers=headers
                        )
                        return self._read(response).body
                    except AcquirerCallError as exc:
                        return exc
                    except httpx.HTTPError as exc:
                        return AcquirerCallError(f"POST {path}: {exc}", retryable=True)

            return await asyncio.gather(*(one(ids) for ids in batches))


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _error_text(response: httpx.Response) -> str:
    """The acquirer's error code and message when it sent the contract's error body, else
    the start of whatever it sent (an HTML error page, say)."""
    try:
        error = response.json().get("error", {})
        return f"{error.get('code', '')}: {error.get('message', '')}"[:300]
    except (ValueError, AttributeError):
        return response.text[:200].replace("\n", " ")
