"""The portal's client and feeds against the sandbox acquirer running as its own process on a
free port: the same client and services as in production, a real socket, the sandbox's own
state. What the portal holds after polling must equal what the acquirer holds, row for row,
also when the acquirer fails a third of the calls; with the acquirer down the breaker opens,
the feeds stop calling, and they catch up by themselves once it is back."""

import socket
import subprocess
import sys
from decimal import Decimal

import httpx
import pytest

from settlements import feeds
from settlements.acquirer_client import AcquirerCallError, AcquirerClient, breaker_open
from settlements.models import AcquirerFeed, Payout, Transaction
from tests import factories
from tests.helpers import REPO
from tests.workers import stop, wait_for

pytestmark = pytest.mark.django_db
KEY, SECRET = "demo-key", "demo-secret-change-me"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sandbox(tmp_path):
    """The sandbox acquirer as a process of its own, no traffic of its own and no webhooks:
    the tests say what happens."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "s.db"),
            "--key-id",
            KEY,
            "--key-secret",
            SECRET,
            "--webhook-url",
            "",
            "--traffic-rate",
            "0",
            "--seed",
            "7",
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def answering():
        try:
            return httpx.get(f"{url}/_sandbox/state", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(answering, timeout=60, what="the sandbox to answer")
    yield url
    stop(process)


def control(url: str, call: str, **payload) -> dict:
    response = httpx.post(f"{url}/_sandbox/{call}", json=payload, timeout=30)
    response.raise_for_status()
    return response.json()


@pytest.fixture
def acquirer(sandbox):
    return factories.AcquirerFactory(base_url=sandbox, key_id=KEY, secret=SECRET)


@pytest.fixture
def merchant(acquirer):
    """A merchant of the portal registered with the sandbox, with a terminal and 5 days of
    history there."""
    merchant = factories.MerchantFactory(mid="898310058120017")
    client = AcquirerClient(acquirer)
    schedule = merchant.fee_schedule
    client.call(
        "POST",
        "/v1/merchants",
        body={
            "merchant_id": merchant.mid,
            "name": merchant.name,
            "mcc": "5812",
            "region_code": "310104",
            "fee_schedule": {
                "debit_rate": str(schedule.debit_rate),
                "debit_cap": str(schedule.debit_cap) if schedule.debit_cap else None,
                "credit_rate": str(schedule.credit_rate),
                "unionpay_qr_rate": str(schedule.unionpay_qr_rate),
                "wechat_pay_rate": str(schedule.wechat_pay_rate),
                "alipay_rate": str(schedule.alipay_rate),
                "settlement_cycle": schedule.settlement_cycle,
                "d0_surcharge_rate": str(schedule.d0_surcharge_rate),
                "d0_daily_limit": None,
                "d0_window_start": "00:00",
                "d0_window_end": "22:00",
            },
            "settlement_account": {
                "holder_name": "王大伟",
                "account_number": "6222020200112233446",
                "bank_code": "ICBC",
                "branch_code": "102290020013",
            },
        },
        idempotency_key=f"register-{merchant.mid}",
    )
    client.call(
        "POST",
        f"/v1/merchants/{merchant.mid}/terminals",
        body={"terminal_id": "10000001", "serial_number": "SN0001", "model": "P2"},
        idempotent=True,
    )
    control(acquirer.base_url, "seed", merchant_id=merchant.mid, days=5, rate=4)
    return merchant


def poll_everything(acquirer) -> None:
    for kind in AcquirerFeed.Kind.values:
        feed, _created = AcquirerFeed.objects.get_or_create(acquirer=acquirer, kind=kind)
        feeds.feed_poll(feed)


def acquirers_view(acquirer) -> tuple[dict, dict]:
    """Every transaction and payout as the acquirer holds them (read with the client)."""
    client = AcquirerClient(acquirer)
    transactions = {
        record["id"]: (Decimal(record["amount"]).copy_abs(), record["payout_id"])
        for page in client.pages("/v1/transactions", {"limit": 500})
        for record in page
    }
    payouts = {
        record["id"]: (record["status"], Decimal(record["net_amount"]))
        for page in client.pages(
            "/v1/payouts", {"limit": 500, "updated_since": feeds.BEGINNING.isoformat()}
        )
        for record in page
    }
    return transactions, payouts


def portals_view() -> tuple[dict, dict]:
    transactions = {
        row.acquirer_id: (row.amount.copy_abs(), row.acquirer_payout_id or None)
        for row in Transaction.objects.all()
    }
    payouts = {row.acquirer_id: (row.status, row.net_amount) for row in Payout.objects.all()}
    return transactions, payouts


def test_the_portal_holds_what_the_acquirer_holds_after_polling(acquirer, merchant):
    poll_everything(acquirer)

    theirs, ours = acquirers_view(acquirer), portals_view()
    assert len(theirs[0]) > 20 and len(theirs[1]) >= 3
    assert ours == theirs
    assert all(p.merchant == merchant for p in Payout.objects.all())


def test_a_payout_paid_at_the_acquirer_is_paid_in_the_portal_after_the_next_poll(
    acquirer, merchant
):
    control(acquirer.base_url, "scenarios", merchant_id=merchant.mid, scenario="bank_delay")
    poll_everything(acquirer)
    delayed = Payout.objects.exclude(status="paid").get()
    assert delayed.reason_code == "BANK_PROCESSING_DELAY"

    control(acquirer.base_url, "scenarios", merchant_id=merchant.mid, scenario="paid")
    poll_everything(acquirer)

    delayed.refresh_from_db()
    assert (delayed.status, delayed.reason_code, bool(delayed.bank_reference)) == ("paid", "", True)


def test_with_a_third_of_the_calls_failing_every_feed_catches_up(acquirer, merchant, settings):
    settings.ACQUIRER_BREAKER_FAILURES = 1000  # this test is about retries, not the breaker
    control(
        acquirer.base_url,
        "faults",
        **{"error_5xx": {"rate": 0.3}, "latency": {"rate": 0.5, "seconds": 0.05}},
    )

    for _round in range(8):  # each poll retries; a poll that still fails is polled again
        try:
            poll_everything(acquirer)
            break
        except AcquirerCallError:
            continue

    httpx.delete(f"{acquirer.base_url}/_sandbox/faults", timeout=10).raise_for_status()
    assert portals_view() == acquirers_view(acquirer)


def test_with_the_acquirer_down_the_breaker_opens_and_the_feeds_resume_when_it_is_back(
    acquirer, merchant, settings
):
    settings.ACQUIRER_BREAKER_FAILURES = 3
    settings.ACQUIRER_BREAKER_PAUSE = 60
    settings.ACQUIRER_RETRY_MAX_WAIT = 0.1
    good_url = acquirer.base_url
    type(acquirer).objects.filter(pk=acquirer.pk).update(base_url=f"http://127.0.0.1:{free_port()}")
    acquirer.refresh_from_db()

    with pytest.raises(AcquirerCallError):
        poll_everything(acquirer)

    acquirer.refresh_from_db()
    assert breaker_open(acquirer)
    assert acquirer.breaker_failures == 3  # the breaker stopped the fourth attempt
    with pytest.raises(AcquirerCallError, match="circuit breaker open"):
        poll_everything(acquirer)  # the feeds stop calling it
    type(acquirer).objects.filter(pk=acquirer.pk).update(base_url=good_url)
    acquirer.refresh_from_db()
    settings.ACQUIRER_BREAKER_PAUSE = 1  # rather than wait a minute

    wait_for(
        lambda: not breaker_open(type(acquirer).objects.get(pk=acquirer.pk)),
        timeout=10,
        what="the pause",
    )
    poll_everything(acquirer)

    assert portals_view() == acquirers_view(acquirer)
