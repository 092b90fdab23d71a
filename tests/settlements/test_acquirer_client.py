"""The acquirer client at its boundary: the network is an httpx mock transport here (the
sandbox acquirer, a real server, is used by the feed and end-to-end tests). Signing follows the
worked examples of docs/acquirer-api.md to the byte."""

import asyncio
import json
import time
from datetime import timedelta

import httpx
import pytest

from settlements.acquirer_client import (
    AcquirerCallError,
    AcquirerClient,
    AcquirerUnavailable,
    canonical_request,
    sign,
    webhook_signature,
    webhook_verified,
)
from settlements.models import AcquirerError
from tests.factories import AcquirerFactory

SECRET = "sk_test_7f3a91c2e4b86d05"


@pytest.fixture
def acquirer(db):
    return AcquirerFactory()


def client_for(acquirer, handler) -> AcquirerClient:
    return AcquirerClient(acquirer, transport=httpx.MockTransport(handler), sleep=lambda s: None)


def json_answer(body, status=200, **headers) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


# -- Signing: the contract's worked examples -------------------------------------------------


def test_a_post_is_signed_as_in_the_contracts_example():
    body = b'{"ids":["po_20261126_000017","po_20261126_000018"]}'

    canonical = canonical_request(
        "POST", "/v1/payouts/query", "1795656600", "9b2f6c1e4a7d4f08b3e5c0a1d2f7e6b4", body
    )

    assert canonical == (
        "POST\n/v1/payouts/query\n1795656600\n9b2f6c1e4a7d4f08b3e5c0a1d2f7e6b4\n"
        "467890ae5ccaca5abe9db2f85b247188b116be1116c26b149d9c934debc5d1c9"
    )
    assert sign(SECRET, canonical) == (
        "e4aa0a3e61a041c3591b8725e391e8be3963056d6ddad735bd6ce1224fe0685d"
    )


def test_a_get_with_a_query_is_signed_as_in_the_contracts_example():
    canonical = canonical_request(
        "GET",
        "/v1/payouts?updated_since=2026-11-26T09%3A00%3A00%2B08%3A00&limit=500",
        "1795656630",
        "0c4d8e2a6b1f4a3c9e7d5b2a1c0f8e6d",
        b"",
    )

    assert sign(SECRET, canonical) == (
        "506c17b762dda2974540ae077ac2b5e5f920b90e49ca5129e1c1290c93b8a7fe"
    )


WEBHOOK_BODY = (
    b'{"id":"evt_000931","type":"payout.updated","created_at":"2026-11-26T09:31:00+08:00",'
    b'"data":{"id":"po_20261126_000017","status":"paid","updated_at":"2026-11-26T09:30:55+08:00"}}'
)
WEBHOOK_SIGNATURE = "012139975ef8e84c48f76af0917183d05368f02c67dce90c72ee7177f4d7187d"


def test_a_webhook_is_signed_as_in_the_contracts_example():
    assert webhook_signature(SECRET, 1795656660, WEBHOOK_BODY) == WEBHOOK_SIGNATURE


@pytest.mark.parametrize(
    ("header", "now", "verified"),
    [
        (f"t=1795656660,v1={WEBHOOK_SIGNATURE}", 1795656660 + 300, True),
        (f"t=1795656660,v1={WEBHOOK_SIGNATURE}", 1795656660 + 301, False),
        (f"t=1795656660,v1={WEBHOOK_SIGNATURE}", 1795656660 - 301, False),
        (f"t=1795656661,v1={WEBHOOK_SIGNATURE}", 1795656661, False),
        ("t=1795656660,v1=00", 1795656660, False),
        ("v1=" + WEBHOOK_SIGNATURE, 1795656660, False),
        ("t=１７９５６５６６６０,v1=" + WEBHOOK_SIGNATURE, 1795656660, False),
        ("", 1795656660, False),
    ],
    ids=[
        "fresh",
        "301-s-old",
        "301-s-ahead",
        "other-time",
        "wrong",
        "no-time",
        "wide-digits",
        "empty",
    ],
)
def test_a_webhook_signature_is_checked_with_its_time(header, now, verified):
    assert webhook_verified(SECRET, header, WEBHOOK_BODY, now=now) is verified


# -- Calls -------------------------------------------------------------------------------------


def test_every_attempt_is_signed_with_a_new_nonce_and_retried_on_a_5xx(acquirer):
    seen = []

    def handler(request):
        seen.append(request.headers["X-Nonce"])
        canonical = canonical_request(
            "GET",
            request.url.raw_path.decode(),
            request.headers["X-Timestamp"],
            request.headers["X-Nonce"],
            b"",
        )
        assert request.headers["X-Signature"] == sign(SECRET, canonical)
        if len(seen) < 3:
            return httpx.Response(503, json={"error": {"code": "busy", "message": "稍后再试"}})
        return json_answer({"id": "po_1"})

    answer = client_for(acquirer, handler).call("GET", "/v1/payouts/po_1")

    assert answer.body == {"id": "po_1"}
    assert len(seen) == len(set(seen)) == 3
    acquirer.refresh_from_db()
    assert (acquirer.breaker_failures, acquirer.last_success_at is not None) == (0, True)
    assert AcquirerError.objects.count() == 2


def test_a_post_without_an_idempotency_key_is_not_retried(acquirer):
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(502, text="bad gateway")

    with pytest.raises(AcquirerCallError) as failed:
        client_for(acquirer, handler).call("POST", "/v1/merchants/x/terminals", body={"a": 1})

    assert (len(calls), failed.value.retryable, failed.value.http_status) == (1, True, 502)


def test_a_post_with_an_idempotency_key_is_retried_with_the_same_key(acquirer):
    keys = []

    def handler(request):
        keys.append(request.headers["Idempotency-Key"])
        return httpx.Response(500) if len(keys) == 1 else json_answer({"status": "verified"})

    answer = client_for(acquirer, handler).call(
        "PUT", "/v1/merchants/m/settlement-account", body={"x": 1}, idempotency_key="k-1"
    )

    assert (answer.body, keys) == ({"status": "verified"}, ["k-1", "k-1"])


def test_a_429_waits_as_long_as_retry_after_says(acquirer):
    waits, calls = [], []

    def handler(request):
        calls.append(1)
        if len(calls) == 1:
            return json_answer(
                {"error": {"code": "rate", "message": "慢一点"}}, 429, **{"Retry-After": "7"}
            )
        return json_answer({"data": [], "next_cursor": None})

    client = AcquirerClient(acquirer, transport=httpx.MockTransport(handler), sleep=waits.append)
    client.call("GET", "/v1/transactions")

    assert waits == [7.0]


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (
            httpx.Response(
                200, text="<html>maintenance</html>", headers={"Content-Type": "text/html"}
            ),
            "not JSON",
        ),
        (
            httpx.Response(
                200, content=b'{"data": [', headers={"Content-Type": "application/json"}
            ),
            "not valid JSON",
        ),
        (httpx.Response(200, json=["a", "list"]), "not a JSON object"),
        (
            httpx.Response(404, json={"error": {"code": "not_found", "message": "无此商户"}}),
            "not_found",
        ),
    ],
    ids=["html", "broken-json", "not-an-object", "4xx"],
)
def test_an_unusable_answer_is_refused_once_and_recorded(acquirer, response, message):
    calls = []

    def handler(request):
        calls.append(1)
        return response

    with pytest.raises(AcquirerCallError, match=message) as failed:
        client_for(acquirer, handler).call("GET", "/v1/merchants/898310054110001")

    assert (len(calls), failed.value.retryable) == (1, False)
    error = AcquirerError.objects.get()
    assert (error.source, error.endpoint) == ("call", "GET /v1/merchants/898310054110001")
    assert message in error.message


def test_a_hanging_acquirer_is_a_retryable_timeout(acquirer):
    def handler(request):
        raise httpx.ReadTimeout("no answer", request=request)

    with pytest.raises(AcquirerCallError, match="ReadTimeout") as failed:
        client_for(acquirer, handler).call("GET", "/v1/payouts/po_1")

    assert failed.value.retryable
    acquirer.refresh_from_db()
    assert acquirer.breaker_failures == 4  # every attempt counted


# -- The breaker -------------------------------------------------------------------------------


def test_the_breaker_opens_and_then_no_call_reaches_the_acquirer(acquirer, settings):
    settings.ACQUIRER_BREAKER_FAILURES = 3
    calls = []

    def handler(request):
        calls.append(1)
        return httpx.Response(503)

    client = client_for(acquirer, handler)
    with pytest.raises(AcquirerUnavailable):
        client.call("GET", "/v1/payouts/po_1")
    with pytest.raises(AcquirerUnavailable):
        client.call("GET", "/v1/payouts/po_2")

    assert len(calls) == 3
    acquirer.refresh_from_db()
    assert acquirer.breaker_opened_at is not None


def test_after_the_pause_one_call_tries_and_success_closes_the_breaker(acquirer, settings):
    settings.ACQUIRER_BREAKER_FAILURES = 2
    settings.ACQUIRER_BREAKER_PAUSE = 1
    answers = [httpx.Response(503)] * 2 + [json_answer({"id": "po_1"})]

    def handler(request):
        return answers.pop(0)

    client = client_for(acquirer, handler)
    with pytest.raises(AcquirerUnavailable):
        client.call("GET", "/v1/payouts/po_1")
    acquirer.refresh_from_db()
    type(acquirer).objects.filter(pk=acquirer.pk).update(
        breaker_opened_at=acquirer.breaker_opened_at - timedelta(seconds=2)
    )

    assert client.call("GET", "/v1/payouts/po_1").body == {"id": "po_1"}
    acquirer.refresh_from_db()
    assert (acquirer.breaker_failures, acquirer.breaker_opened_at) == (0, None)


# -- Lists and batches -------------------------------------------------------------------------


def test_pages_follow_the_cursor_to_the_end(acquirer):
    def handler(request):
        cursor = request.url.params.get("cursor")
        page = {None: (["a", "b"], "c1"), "c1": (["c"], "c2"), "c2": ([], None)}[cursor]
        return json_answer({"data": page[0], "next_cursor": page[1]})

    pages = list(client_for(acquirer, handler).pages("/v1/transactions", {"limit": 2}))

    assert pages == [["a", "b"], ["c"], []]


def test_a_cursor_that_comes_back_is_an_error(acquirer):
    def handler(request):
        return json_answer({"data": ["x"], "next_cursor": "again"})

    pages = client_for(acquirer, handler).pages("/v1/transactions", {})

    with pytest.raises(AcquirerCallError, match="came back twice"):
        list(pages)


def test_batches_are_queried_concurrently_but_never_more_than_the_limit(acquirer, settings):
    settings.ACQUIRER_CONCURRENCY = 3
    in_flight, most = 0, 0

    async def handler(request):
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        in_flight -= 1
        ids = json.loads(request.content)["ids"]
        return json_answer({"data": [{"id": i} for i in ids], "missing": []})

    batches = [[f"po_{n}_{m}" for m in range(100)] for n in range(10)]
    answers = asyncio.run(
        AcquirerClient(acquirer).query_payouts_async(
            batches, transport=httpx.MockTransport(handler)
        )
    )

    assert [len(answer["data"]) for answer in answers] == [100] * 10
    assert most == 3


def test_the_clock_is_not_what_signs_twice(acquirer):
    # A retried request carries a timestamp of its own time, not of the first attempt.
    stamps = []

    def handler(request):
        stamps.append(int(request.headers["X-Timestamp"]))
        return json_answer({})

    client_for(acquirer, handler).call("GET", "/v1/merchants/x")

    assert abs(stamps[0] - time.time()) < 5
