"""Polling an acquirer's feeds, with the acquirer at the client's boundary (an httpx mock
transport serving pages); the real sandbox acquirer drives tests/e2e and the reliability
tests. What is checked here: records land through the same services as everywhere, a bad
record is refused alone and recorded, the high-water mark moves only after a complete poll,
and polling again changes nothing."""

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from core.models import Job
from settlements import feeds
from settlements.acquirer_client import AcquirerCallError, AcquirerClient
from settlements.models import AcquirerError, AcquirerFeed, Payout, Transaction
from tests.factories import AcquirerFactory, MerchantFactory, transaction_payload

pytestmark = pytest.mark.django_db


class Acquirer:
    """The acquirer's side of one feed: pages of records, and what it was asked."""

    def __init__(self, pages: list[list], *, fail_on_page: int | None = None):
        self.pages = pages
        self.fail_on_page = fail_on_page
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        number = int(request.url.params.get("cursor", "0"))
        if number == self.fail_on_page:
            return httpx.Response(503, json={"error": {"code": "down", "message": "维护中"}})
        following = str(number + 1) if number + 1 < len(self.pages) else None
        return httpx.Response(200, json={"data": self.pages[number], "next_cursor": following})


def poll(kind: str, acquirer: Acquirer, code: str = "demo") -> dict:
    feed, _created = AcquirerFeed.objects.get_or_create(
        acquirer=AcquirerFactory(code=code), kind=kind
    )
    client = AcquirerClient(
        feed.acquirer, transport=httpx.MockTransport(acquirer), sleep=lambda s: None
    )
    return feeds.feed_poll(feed, client=client)


def payout_payload(merchant, **overrides) -> dict:
    now = timezone.now()
    payload = {
        "id": "po_20261126_000017",
        "merchant_id": merchant.mid,
        "settlement_date": "2026-11-26",
        "gross_amount": "1000.00",
        "fee_amount": "6.00",
        "adjustment_amount": "0.00",
        "net_amount": "994.00",
        "transaction_count": 3,
        "status": "processing",
        "reason_code": None,
        "reason": None,
        "expected_at": (now + timedelta(hours=2)).isoformat(),
        "bank_reference": None,
        "paid_at": None,
        "account_masked": "622202******0123",
        "bank_name": "中国工商银行",
        "updated_at": now.isoformat(),
    }
    payload.update(overrides)
    return payload


def test_a_transactions_poll_records_every_page_and_moves_the_mark():
    merchant = MerchantFactory()
    pages = [[transaction_payload(merchant) for _ in range(3)], [transaction_payload(merchant)]]
    started = timezone.now()

    counts = poll("transactions", Acquirer(pages))

    feed = AcquirerFeed.objects.get(kind="transactions")
    assert counts == {"applied": 4, "refused": 0, "stale": 0}
    assert Transaction.objects.filter(merchant=merchant).count() == 4
    assert started - feeds.OVERLAP <= feed.high_water_mark <= timezone.now()
    assert (feed.records_applied, feed.last_error) == (4, "")


def test_the_next_poll_asks_from_the_mark_and_polling_again_changes_nothing():
    merchant = MerchantFactory()
    records = [transaction_payload(merchant) for _ in range(2)]
    poll("transactions", Acquirer([records]))
    again = Acquirer([records])

    counts = poll("transactions", again)

    assert counts == {"applied": 0, "refused": 0, "stale": 2}
    assert again.requests[0].url.params["since"] != feeds.BEGINNING.isoformat()
    assert Transaction.objects.count() == 2


def test_a_bad_record_is_refused_alone_and_recorded():
    merchant = MerchantFactory()
    good = transaction_payload(merchant)
    bad = transaction_payload(merchant, amount="1.005")
    stranger = transaction_payload(merchant, merchant_id="898310054119999")

    counts = poll("transactions", Acquirer([[bad, good, stranger]]))

    assert counts == {"applied": 1, "refused": 2, "stale": 0}
    assert list(Transaction.objects.values_list("acquirer_id", flat=True)) == [good["id"]]
    errors = dict(AcquirerError.objects.values_list("object_id", "message"))
    assert errors[bad["id"]].startswith("amount: not a CNY amount")
    assert errors[stranger["id"]] == "merchant_id: no merchant 898310054119999 in the portal"


def test_a_poll_that_stops_half_way_keeps_its_mark_and_what_it_applied():
    merchant = MerchantFactory()
    pages = [[transaction_payload(merchant)], [transaction_payload(merchant)]]

    with pytest.raises(AcquirerCallError):
        poll("transactions", Acquirer(pages, fail_on_page=1))

    feed = AcquirerFeed.objects.get()
    assert feed.high_water_mark is None
    assert "503" in feed.last_error
    assert Transaction.objects.count() == 1
    assert poll("transactions", Acquirer(pages))["applied"] == 1  # the rest, nothing twice
    assert Transaction.objects.count() == 2


def test_a_payouts_poll_creates_and_moves_payouts_and_ignores_stale_reports():
    merchant = MerchantFactory()
    sale = transaction_payload(merchant, payout_id="po_20261126_000017")
    poll("transactions", Acquirer([[sale]]))
    later = timezone.now() + timedelta(minutes=5)
    reported = payout_payload(merchant)
    paid = payout_payload(
        merchant,
        status="paid",
        bank_reference="B20261126001",
        paid_at=later.isoformat(),
        updated_at=later.isoformat(),
    )

    first = poll("payouts", Acquirer([[reported]]))
    second = poll("payouts", Acquirer([[paid, reported]]))

    payout = Payout.objects.get()
    assert (first, second) == (
        {"applied": 1, "refused": 0, "stale": 0},
        {"applied": 1, "refused": 0, "stale": 1},
    )
    assert (payout.status, payout.bank_reference, payout.net_amount) == (
        "paid",
        "B20261126001",
        payout.gross_amount - payout.fee_amount,
    )
    assert list(payout.transactions.values_list("acquirer_id", flat=True)) == [sale["id"]]
    assert list(payout.events.values_list("to_status", flat=True)) == ["processing", "paid"]


def test_a_payout_whose_net_does_not_add_up_is_refused_and_the_next_one_applied():
    merchant = MerchantFactory()
    wrong = payout_payload(merchant, id="po_wrong", net_amount="995.00")
    right = payout_payload(merchant, id="po_right")

    counts = poll("payouts", Acquirer([[wrong, right]]))

    assert counts == {"applied": 1, "refused": 1, "stale": 0}
    assert list(Payout.objects.values_list("acquirer_id", flat=True)) == ["po_right"]
    assert "net_amount" in AcquirerError.objects.get(object_id="po_wrong").message


def test_an_unknown_reason_code_is_kept_and_its_cause_is_unknown():
    merchant = MerchantFactory()

    poll(
        "payouts",
        Acquirer(
            [[payout_payload(merchant, status="held", reason_code="NEW_CODE", reason="人工审核")]]
        ),
    )

    payout = Payout.objects.get()
    assert (payout.reason_code, payout.reason, payout.cause) == ("NEW_CODE", "人工审核", "unknown")


def test_a_move_the_payout_cannot_make_is_refused_and_recorded():
    merchant = MerchantFactory()
    now = timezone.now()
    poll(
        "payouts",
        Acquirer([[payout_payload(merchant, status="paid", paid_at=now.isoformat())]]),
    )
    back = payout_payload(
        merchant, status="processing", updated_at=(now + timedelta(minutes=1)).isoformat()
    )

    counts = poll("payouts", Acquirer([[back]]))

    assert counts["refused"] == 1
    assert Payout.objects.get().status == "paid"


def test_beat_starts_one_poll_per_feed_until_its_interval_passes(settings):
    settings.ACQUIRER_POLL_SECONDS = 30
    AcquirerFactory()

    assert feeds.feeds_due() == 2
    assert feeds.feeds_due() == 0  # both queued already
    Job.objects.update(status=Job.Status.DONE)
    AcquirerFeed.objects.update(last_polled_at=timezone.now())
    assert feeds.feeds_due() == 0  # polled a moment ago
    later = timezone.now() + timedelta(seconds=31)
    assert feeds.feeds_due(now=later) == 2
    assert sorted(Job.objects.filter(status="queued").values_list("kind", flat=True)) == [
        "settlements.payouts_feed",
        "settlements.transactions_feed",
    ]


def test_a_disabled_acquirer_is_not_polled():
    AcquirerFactory(enabled=False)

    assert feeds.feeds_due() == 0
    assert not Job.objects.exists()


def test_a_same_day_payout_keeps_its_cycle_and_an_unknown_cycle_is_refused():
    merchant = MerchantFactory()
    d0 = payout_payload(merchant, id="po_d0", settlement_cycle="d0")
    weekly = payout_payload(merchant, id="po_weekly", settlement_cycle="t7")

    counts = poll("payouts", Acquirer([[d0, weekly]]))

    assert counts["refused"] == 1
    assert list(Payout.objects.values_list("acquirer_id", "cycle")) == [("po_d0", "d0")]
