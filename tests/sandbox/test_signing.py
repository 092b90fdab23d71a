"""Request and webhook signatures: the worked examples of docs/acquirer-api.md are the test
vectors, and the sandbox refuses every request the contract says it must refuse."""

import hashlib

import pytest

from sandbox import signing
from tests.sandbox.conftest import KEY_ID, OTHER_KEY_ID, OTHER_SECRET, SECRET

pytestmark = pytest.mark.anyio

EXAMPLE_BODY = b'{"ids":["po_20261126_000017","po_20261126_000018"]}'
EXAMPLE_POST_SIGNATURE = "e4aa0a3e61a041c3591b8725e391e8be3963056d6ddad735bd6ce1224fe0685d"
EXAMPLE_GET_PATH = "/v1/payouts?updated_since=2026-11-26T09%3A00%3A00%2B08%3A00&limit=500"
EXAMPLE_GET_SIGNATURE = "506c17b762dda2974540ae077ac2b5e5f920b90e49ca5129e1c1290c93b8a7fe"
EXAMPLE_WEBHOOK_BODY = (
    b'{"id":"evt_000931","type":"payout.updated","created_at":"2026-11-26T09:31:00+08:00",'
    b'"data":{"id":"po_20261126_000017","status":"paid","updated_at":"2026-11-26T09:30:55+08:00"}}'
)
EXAMPLE_WEBHOOK_HEADER = (
    "t=1795656660,v1=012139975ef8e84c48f76af0917183d05368f02c67dce90c72ee7177f4d7187d"
)


def test_the_worked_post_example_gives_the_documented_hash_canonical_string_and_signature():
    canonical = signing.canonical_string(
        "POST", "/v1/payouts/query", "1795656600", "9b2f6c1e4a7d4f08b3e5c0a1d2f7e6b4", EXAMPLE_BODY
    )

    assert len(EXAMPLE_BODY) == 51
    assert signing.body_sha256(EXAMPLE_BODY) == (
        "467890ae5ccaca5abe9db2f85b247188b116be1116c26b149d9c934debc5d1c9"
    )
    assert canonical == (
        "POST\n/v1/payouts/query\n1795656600\n9b2f6c1e4a7d4f08b3e5c0a1d2f7e6b4\n"
        "467890ae5ccaca5abe9db2f85b247188b116be1116c26b149d9c934debc5d1c9"
    )
    assert signing.hmac_hex(SECRET, canonical) == EXAMPLE_POST_SIGNATURE


def test_the_worked_get_example_signs_the_query_as_written_and_the_empty_body_hash():
    signature = signing.request_signature(
        SECRET, "GET", EXAMPLE_GET_PATH, "1795656630", "0c4d8e2a6b1f4a3c9e7d5b2a1c0f8e6d", b""
    )

    assert hashlib.sha256(b"").hexdigest() == signing.EMPTY_BODY_SHA256
    assert signature == EXAMPLE_GET_SIGNATURE


def test_the_worked_webhook_example_gives_the_documented_header_and_verifies():
    assert len(EXAMPLE_WEBHOOK_BODY) == 176
    assert signing.webhook_signature(SECRET, 1795656660, EXAMPLE_WEBHOOK_BODY) == (
        EXAMPLE_WEBHOOK_HEADER
    )
    assert signing.webhook_signature_valid(
        SECRET, EXAMPLE_WEBHOOK_HEADER, EXAMPLE_WEBHOOK_BODY, now=1795656700
    )


@pytest.mark.parametrize(
    ("header", "body", "now"),
    [
        (EXAMPLE_WEBHOOK_HEADER, EXAMPLE_WEBHOOK_BODY + b" ", 1795656700),
        (EXAMPLE_WEBHOOK_HEADER, EXAMPLE_WEBHOOK_BODY, 1795656660 + 301),
        (EXAMPLE_WEBHOOK_HEADER, EXAMPLE_WEBHOOK_BODY, 1795656660 - 301),
        (EXAMPLE_WEBHOOK_HEADER.replace("v1=0", "v1=1"), EXAMPLE_WEBHOOK_BODY, 1795656700),
        ("v1=012139975ef8e84c48f76af0917183d05368f02c67dce90c72ee7177f4d7187d", b"", 1795656700),
    ],
    ids=["body-changed", "too-old", "from-the-future", "wrong-digest", "no-timestamp"],
)
def test_a_webhook_signature_that_does_not_fit_is_refused(header, body, now):
    assert not signing.webhook_signature_valid(SECRET, header, body, now=now)


async def test_the_worked_post_example_is_accepted_by_the_sandbox_as_sent(sandbox):
    # The sandbox's clock stands at the example's 2026-11-26 09:30 +08:00.
    assert sandbox.now_seconds() == 1795656600

    answer = await sandbox.http.post(
        "/v1/payouts/query",
        content=EXAMPLE_BODY,
        headers={
            "Content-Type": "application/json",
            "X-Acquirer-Key": KEY_ID,
            "X-Timestamp": "1795656600",
            "X-Nonce": "9b2f6c1e4a7d4f08b3e5c0a1d2f7e6b4",
            "X-Signature": EXAMPLE_POST_SIGNATURE,
        },
    )

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"data": [], "missing": ["po_20261126_000017", "po_20261126_000018"]}


async def test_the_worked_get_example_is_accepted_by_the_sandbox_as_sent(sandbox):
    answer = await sandbox.http.get(
        EXAMPLE_GET_PATH,
        headers={
            "X-Acquirer-Key": KEY_ID,
            "X-Timestamp": "1795656630",
            "X-Nonce": "0c4d8e2a6b1f4a3c9e7d5b2a1c0f8e6d",
            "X-Signature": EXAMPLE_GET_SIGNATURE,
        },
    )

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"data": [], "next_cursor": None}


def error_code(answer) -> str:
    return answer.json()["error"]["code"]


async def test_a_request_signed_with_the_wrong_secret_is_refused(sandbox):
    answer = await sandbox.get("/v1/disputes", secret="not-the-secret")

    assert answer.status_code == 401
    assert error_code(answer) == "bad_signature"
    assert set(answer.json()["error"]) == {"code", "message"}


async def test_a_body_other_than_the_one_signed_is_refused(sandbox):
    headers = sandbox.headers("POST", "/v1/payouts/query", EXAMPLE_BODY)

    answer = await sandbox.http.post(
        "/v1/payouts/query", content=EXAMPLE_BODY.replace(b"17", b"19"), headers=headers
    )

    assert answer.status_code == 401
    assert error_code(answer) == "bad_signature"


async def test_a_query_other_than_the_one_signed_is_refused(sandbox):
    headers = sandbox.headers("GET", "/v1/transactions?limit=5")

    answer = await sandbox.http.get("/v1/transactions?limit=6", headers=headers)

    assert answer.status_code == 401


@pytest.mark.parametrize("offset", [-301, 301])
async def test_a_timestamp_more_than_300_seconds_off_is_refused(sandbox, offset):
    answer = await sandbox.get("/v1/disputes", timestamp=sandbox.now_seconds() + offset)

    assert answer.status_code == 401
    assert error_code(answer) == "stale_timestamp"


@pytest.mark.parametrize("offset", [-300, 300])
async def test_a_timestamp_300_seconds_off_is_still_accepted(sandbox, offset):
    answer = await sandbox.get("/v1/disputes", timestamp=sandbox.now_seconds() + offset)

    assert answer.status_code == 200


async def test_a_nonce_is_accepted_once(sandbox):
    first = await sandbox.get("/v1/disputes", nonce="a3f0c2d4e6b8a0c2d4e6b8a0c2d4e6b8")
    again = await sandbox.get("/v1/transactions", nonce="a3f0c2d4e6b8a0c2d4e6b8a0c2d4e6b8")

    assert first.status_code == 200
    assert again.status_code == 401
    assert error_code(again) == "nonce_reused"


async def test_a_replayed_request_is_refused_while_its_timestamp_is_fresh_and_after(sandbox):
    headers = sandbox.headers("GET", "/v1/disputes")
    assert (await sandbox.http.get("/v1/disputes", headers=headers)).status_code == 200

    await sandbox.advance(200)
    soon = await sandbox.http.get("/v1/disputes", headers=headers)
    await sandbox.advance(200)
    later = await sandbox.http.get("/v1/disputes", headers=headers)

    assert error_code(soon) == "nonce_reused"
    assert error_code(later) == "stale_timestamp"


async def test_a_refused_signature_does_not_use_up_its_nonce(sandbox):
    nonce = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    bad = await sandbox.get("/v1/disputes", nonce=nonce, secret="wrong")
    good = await sandbox.get("/v1/disputes", nonce=nonce)

    assert bad.status_code == 401
    assert good.status_code == 200


async def test_another_key_uses_its_own_nonces(sandbox):
    nonce = "11112222333344445555666677778888"
    first = await sandbox.get("/v1/disputes", nonce=nonce)
    other = await sandbox.get("/v1/disputes", nonce=nonce, key_id=OTHER_KEY_ID, secret=OTHER_SECRET)

    assert (first.status_code, other.status_code) == (200, 200)


async def test_an_unknown_key_and_an_unsigned_request_are_refused(sandbox):
    unknown = await sandbox.get("/v1/disputes", key_id="ak_nobody", secret=SECRET)
    unsigned = await sandbox.http.get("/v1/disputes")

    assert (unknown.status_code, error_code(unknown)) == (401, "unknown_key")
    assert (unsigned.status_code, error_code(unsigned)) == (401, "unauthenticated")


async def test_every_attempt_signs_afresh(sandbox):
    first = sandbox.headers("GET", "/v1/disputes")
    second = sandbox.headers("GET", "/v1/disputes")

    assert first["X-Nonce"] != second["X-Nonce"]
    assert first["X-Signature"] != second["X-Signature"]
