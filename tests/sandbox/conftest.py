"""Fixtures for the sandbox acquirer's tests: an app in-process on its own SQLite file, a
frozen clock, a signing client, and a webhook receiver that records what it is sent.

These tests need no database: they never ask for ``db``.
"""

import json
from dataclasses import dataclass, field

import httpx
import pytest

from sandbox.app import create_app
from sandbox.calendar import SECOND, format_time, parse_time
from sandbox.config import SandboxConfig, Settings
from sandbox.signing import signed_headers

KEY_ID = "ak_test_portal_01"
SECRET = "sk_test_7f3a91c2e4b86d05"
OTHER_KEY_ID = "ak_test_other"
OTHER_SECRET = "sk_test_other_0000"
WEBHOOK_URL = "http://portal.test/webhooks/acquirer/"
# 2026-11-26 09:30 Beijing, a Thursday: the time of the contract's worked examples.
START = "2026-11-26T09:30:00+08:00"
MID = "898310058120001"
OTHER_MID = "898310058120002"
# A personal debit card number that passes Luhn (built for these tests, no real account).
ACCOUNT = "6222020000000000018"
NEW_ACCOUNT = "6222020000000000026"

FEE_SCHEDULE = {
    "debit_rate": "0.0050",
    "debit_cap": "20.00",
    "credit_rate": "0.0060",
    "unionpay_qr_rate": "0.0038",
    "wechat_pay_rate": "0.0038",
    "alipay_rate": "0.0038",
    "settlement_cycle": "t1",
    "d0_surcharge_rate": "0.0005",
    "d0_daily_limit": "50000.00",
    "d0_window_start": "00:00",
    "d0_window_end": "22:00",
}


@pytest.fixture
def anyio_backend():
    return "asyncio"


def merchant_payload(mid: str = MID, **changes) -> dict:
    payload = {
        "merchant_id": mid,
        "name": "上海示例便利店",
        "mcc": "5411",
        "region_code": "310104",
        "fee_schedule": dict(FEE_SCHEDULE),
        "settlement_account": {
            "holder_name": "上海示例便利店有限公司",
            "account_number": ACCOUNT,
            "bank_code": "ICBC",
            "branch_code": "102290000012",
        },
    }
    payload.update(changes)
    return payload


@dataclass
class Receiver:
    """The portal's webhook endpoint, as far as the sandbox can tell: it records each request
    and answers with the next status in ``statuses`` (then 200)."""

    statuses: list[int] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.statuses.pop(0) if self.statuses else 200
        return httpx.Response(status, json={"ok": status < 300})

    def events(self) -> list[dict]:
        return [json.loads(request.content) for request in self.requests]


class Sandbox:
    """A client for one in-process sandbox: signed /v1 calls and control calls."""

    def __init__(self, app, client: httpx.AsyncClient, receiver: Receiver):
        self.app = app
        self.state = app.state.sandbox
        self.http = client
        self.receiver = receiver

    def now_seconds(self) -> int:
        return self.state.clock.now() // SECOND

    def headers(self, method, url, body=b"", *, key_id=KEY_ID, secret=SECRET, **extra):
        path = httpx.URL(url).raw_path.decode()
        headers = signed_headers(
            key_id=key_id,
            secret=secret,
            method=method,
            path_with_query=path,
            body=body,
            timestamp=extra.pop("timestamp", self.now_seconds()),
            nonce=extra.pop("nonce", None),
        )
        headers.update(extra)
        return headers

    async def call(self, method, url, payload=None, *, idempotency_key=None, **options):
        body = b"" if payload is None else json.dumps(payload).encode()
        extra = {"Content-Type": "application/json"} if payload is not None else {}
        if idempotency_key:
            extra["Idempotency-Key"] = idempotency_key
        headers = self.headers(method, url, body, **options, **extra)
        return await self.http.request(method, url, content=body, headers=headers)

    async def get(self, url, **options):
        return await self.call("GET", url, **options)

    async def post(self, url, payload=None, **options):
        return await self.call("POST", url, payload, **options)

    async def put(self, url, payload=None, **options):
        return await self.call("PUT", url, payload, **options)

    async def control(self, method, path, payload=None):
        answer = await self.http.request(method, path, json=payload)
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def register(
        self, mid=MID, *, terminals=("10000001",), key_id=KEY_ID, secret=SECRET, **changes
    ):
        answer = await self.post(
            "/v1/merchants",
            merchant_payload(mid, **changes),
            idempotency_key=f"register-{mid}",
            key_id=key_id,
            secret=secret,
        )
        assert answer.status_code == 201, answer.text
        for tid in terminals:
            added = await self.post(
                f"/v1/merchants/{mid}/terminals",
                {"terminal_id": tid, "serial_number": f"SN{tid}", "model": "PAX A920"},
                key_id=key_id,
                secret=secret,
            )
            assert added.status_code == 200, added.text
        return answer.json()

    async def sale(self, mid=MID, **fields):
        payload = {"merchant_id": mid, "channel": "wechat_pay", "amount": "100.00", **fields}
        return await self.control("POST", "/_sandbox/transactions", payload)

    async def set_clock(self, when: str):
        return await self.control("POST", "/_sandbox/clock", {"now": when})

    async def advance(self, seconds: float):
        return await self.control("POST", "/_sandbox/clock", {"advance_seconds": seconds})

    async def advance_to(self, when: str):
        delta = (parse_time(when) - self.state.clock.now()) / SECOND
        assert delta >= 0, f"{when} is before {format_time(self.state.clock.now())}"
        return await self.advance(delta)

    async def payouts(self, mid=MID, **params):
        query = {"merchant_id": mid, **params} if mid else params
        answer = await self.get(str(httpx.URL("/v1/payouts", params=query)))
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]

    async def payout(self, payout_id):
        answer = await self.get(f"/v1/payouts/{payout_id}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def collect(self, url, **options) -> list[dict]:
        """Every record of a list, following next_cursor as a client must."""
        records, cursor = [], None
        for _ in range(1000):
            page_url = httpx.URL(url)
            if cursor:
                page_url = page_url.copy_merge_params({"cursor": cursor})
            answer = await self.get(str(page_url), **options)
            assert answer.status_code == 200, answer.text
            records += answer.json()["data"]
            cursor = answer.json()["next_cursor"]
            if cursor is None:
                return records
        raise AssertionError("the cursor never ended")

    async def all_payouts(self, **options) -> list[dict]:
        url = httpx.URL("/v1/payouts", params={"updated_since": "2000-01-01T00:00:00+08:00"})
        return await self.collect(f"{url}&limit=500", **options)

    async def events(self, type_=None) -> list[dict]:
        """Queued webhook events, oldest first, from the control API."""
        listed = (await self.control("GET", "/_sandbox/webhooks?limit=5000"))["data"]
        return [event for event in reversed(listed) if type_ in (None, event["type"])]

    async def deliver(self):
        return (await self.control("POST", "/_sandbox/webhooks/deliver"))["attempts"]


def quiet_settings(**changes) -> Settings:
    """No generated traffic and nothing going wrong unless a test asks for it."""
    values = {
        "traffic_rate": 0.0,
        "fee_error_rate": 0.0,
        "late_arrival_rate": 0.0,
        "incident_rate": 0.0,
        "dispute_rate": 0.0,
        "webhook_url": WEBHOOK_URL,
        "webhook_retry_seconds": (10.0, 60.0, 300.0),
    }
    values.update(changes)
    return Settings(**values)


@pytest.fixture
def make_config(tmp_path):
    made = []

    def make(**changes) -> SandboxConfig:
        made.append(None)
        values = {
            "db_path": str(tmp_path / f"sandbox-{len(made)}.sqlite3"),
            "keys": {KEY_ID: SECRET, OTHER_KEY_ID: OTHER_SECRET},
            "seed": 7,
            "settings": quiet_settings(),
            "start_at": parse_time(START),
            "clock_frozen": True,
            "background": False,
        }
        values.update(changes)
        return SandboxConfig(**values)

    return make


@pytest.fixture
async def make_sandbox(make_config):
    opened = []

    async def make(*, client=("127.0.0.1", 50000), **changes) -> Sandbox:
        receiver = Receiver()
        app = create_app(make_config(**changes), webhook_transport=httpx.MockTransport(receiver))
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=client), base_url="http://acquirer.test"
        )
        sandbox = Sandbox(app, http, receiver)
        opened.append(sandbox)
        return sandbox

    yield make
    for sandbox in opened:
        await sandbox.http.aclose()
        await sandbox.state.sender.close()
        sandbox.state.store.close()


@pytest.fixture
async def sandbox(make_sandbox):
    return await make_sandbox()
