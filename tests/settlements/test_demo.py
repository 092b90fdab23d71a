import itertools
import re
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import transaction

from portal.management.commands.seed_demo import DEMO_MERCHANT_MOBILE
from portal.models import FeeSchedule, Merchant, Terminal
from settlements import acquirer_data, calendar, demo, services
from settlements.models import Channel, Payout, PayoutEvent, Transaction, late_since
from tests.factories import FeeScheduleFactory, MerchantFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Thursday afternoon; the ninety days before it hold Mid-autumn and National Day 2026.
NOW = datetime(2026, 11, 26, 15, 0, tzinfo=SHANGHAI)
TODAY = NOW.date()


def active_merchant(**schedule) -> Merchant:
    # As the demo's "standard-t1": debit 0.50% capped at ¥20, credit 0.60%, QR 0.38%.
    return MerchantFactory(
        status=Merchant.Status.ACTIVE,
        fee_schedule=FeeScheduleFactory(debit_cap=Decimal("20.00"), **schedule),
    )


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """One seeded merchant for the tests that only read, inside a transaction rolled back
    after the last of them: seeding takes a second or two, too long to repeat for each."""
    with django_db_blocker.unblock(), transaction.atomic():
        merchant = active_merchant()
        result = demo.seed_settlements(merchant=merchant, now=NOW)
        yield merchant, result
        transaction.set_rollback(True)


@pytest.fixture
def seeded_here():
    """A seeded merchant of the test's own, for a test that seeds again."""
    merchant = active_merchant()
    result = demo.seed_settlements(merchant=merchant, now=NOW)
    return merchant, result


def local_date(moment) -> date:
    return moment.astimezone(SHANGHAI).date()


def timeline(payout) -> list[str]:
    return list(payout.events.order_by("occurred_at", "pk").values_list("to_status", flat=True))


def test_ninety_days_of_traffic_on_three_terminals_in_every_channel_type_and_status(seeded):
    merchant, result = seeded

    transactions = merchant.transactions.all()
    days = {local_date(moment) for moment in transactions.values_list("occurred_at", flat=True)}
    assert days == {TODAY - timedelta(days=back) for back in range(90)}
    assert 20 * 90 <= transactions.count() <= 60 * 90
    assert result["transactions"] == transactions.count() == result["transactions_total"]
    assert set(transactions.values_list("channel", flat=True)) == set(Channel.values)
    assert set(transactions.values_list("type", flat=True)) == set(Transaction.Type.values)
    assert set(transactions.values_list("status", flat=True)) == set(Transaction.Status.values)
    assert set(transactions.values_list("tid", flat=True)) == set(demo.DEFAULT_TIDS)
    assert not transactions.filter(occurred_at__gt=NOW).exists()


def test_wechat_and_alipay_are_most_frequent_and_the_qr_stand_takes_no_cards(seeded):
    merchant, _result = seeded

    by_channel = Counter(merchant.transactions.values_list("channel", flat=True))
    top_two = {channel for channel, _count in by_channel.most_common(2)}
    assert top_two == {Channel.WECHAT_PAY, Channel.ALIPAY}
    qr_stand = merchant.transactions.filter(tid=demo.DEFAULT_TIDS[2])
    assert set(qr_stand.values_list("channel", flat=True)) == {
        Channel.WECHAT_PAY,
        Channel.ALIPAY,
        Channel.UNIONPAY_QR,
    }


def test_traffic_is_quiet_at_night_and_lower_over_national_day(seeded):
    merchant, _result = seeded
    sales = merchant.transactions.filter(type=Transaction.Type.SALE)

    hours = Counter(
        moment.astimezone(SHANGHAI).hour for moment in sales.values_list("occurred_at", flat=True)
    )
    per_day = Counter(local_date(moment) for moment in sales.values_list("occurred_at", flat=True))

    night = sum(hours[hour] for hour in range(1, 7))
    assert night < sales.count() * 0.03
    assert hours[19] > 5 * hours[3]
    national_day = [per_day[TODAY.replace(month=10, day=day)] for day in range(1, 8)]
    weekends = [count for day, count in per_day.items() if day.weekday() >= 5 and day.month == 11]
    assert sum(national_day) / len(national_day) < 0.8 * sum(weekends) / len(weekends)


def test_amounts_are_a_convenience_stores_and_large_debit_sales_pay_the_capped_fee(seeded):
    merchant, _result = seeded
    sales = merchant.transactions.filter(type=Transaction.Type.SALE)

    qr = sorted(sales.exclude(channel__in=demo.CARDS).values_list("amount", flat=True))
    cards = sales.filter(channel__in=demo.CARDS)
    capped = sales.filter(channel=Channel.DEBIT_CARD, amount__gt=Decimal("4000.00")).approved()

    assert qr[len(qr) // 2] < Decimal("40.00")
    assert Decimal("3.00") <= qr[0]
    assert min(cards.values_list("amount", flat=True)) >= Decimal("20.00")
    assert capped.exists()
    assert set(capped.values_list("fee", flat=True)) == {Decimal("20.00")}


def test_card_and_reference_numbers_look_like_the_acquirers(seeded):
    merchant, _result = seeded
    transactions = merchant.transactions.all()
    cards = transactions.filter(channel__in=demo.CARDS)

    masks = set(cards.values_list("card_masked", flat=True))
    assert all(re.fullmatch(r"\d{6}(\*{6}|\*{9})\d{4}", mask) for mask in masks)
    assert len({mask[:6] for mask in masks}) >= 8
    assert len({mask[-4:] for mask in masks}) >= 100
    assert set(cards.values_list("card_last4", flat=True)) == {mask[-4:] for mask in masks}
    assert set(
        transactions.exclude(channel__in=demo.CARDS).values_list("card_masked", flat=True)
    ) == {""}
    rrns = list(transactions.values_list("rrn", flat=True))
    assert len(set(rrns)) == len(rrns)
    assert all(re.fullmatch(r"\d{12}", rrn) for rrn in rrns)
    assert all(
        re.fullmatch(r"\d{6}", trace) for trace in transactions.values_list("trace_no", flat=True)
    )
    batches = defaultdict(set)
    for tid, moment, batch in transactions.values_list("tid", "occurred_at", "batch_no"):
        batches[tid, local_date(moment)].add(batch)
    assert all(len(numbers) == 1 for numbers in batches.values())
    assert all(re.fullmatch(r"\d{6}", next(iter(numbers))) for numbers in batches.values())


def test_refunds_voids_and_reversals_undo_a_sale_of_the_same_merchant(seeded):
    merchant, _result = seeded
    sales = merchant.transactions.filter(type=Transaction.Type.SALE).approved().count()
    undoing = merchant.transactions.exclude(type=Transaction.Type.SALE).select_related("original")

    refunds = undoing.filter(type=Transaction.Type.REFUND)
    assert 0.01 * sales <= refunds.count() <= 0.035 * sales
    for record in undoing:
        assert record.original.merchant_id == merchant.pk
        assert record.original.type == Transaction.Type.SALE
        assert record.original.occurred_at < record.occurred_at
        assert -record.amount <= record.original.amount
        if record.type != Transaction.Type.REFUND:
            assert record.amount == -record.original.amount
            assert record.fee == -record.original.fee
            assert local_date(record.occurred_at) == local_date(record.original.occurred_at)
    partial = [r for r in refunds if -r.amount < r.original.amount]
    full = [r for r in refunds if -r.amount == r.original.amount]
    assert partial and full
    assert {r.channel in demo.CARDS for r in refunds} == {True, False}


def test_a_few_transactions_carry_a_fee_the_acquirer_charged_differently(seeded):
    merchant, _result = seeded

    mismatched = merchant.transactions.filter(fee_mismatch=True)

    assert 3 <= mismatched.count() <= 5
    for record in mismatched:
        assert record.type == Transaction.Type.SALE
        assert abs(record.fee - record.acquirer_fee) >= Decimal("0.01")
    assert merchant.transactions.filter(fee_mismatch=False).exclude(fee=Decimal("0.00")).exists()


def test_payouts_exist_in_every_status_and_some_are_late(seeded):
    merchant, result = seeded
    payouts = Payout.objects.filter(merchant=merchant)

    overdue = payouts.overdue(now=NOW)

    assert set(payouts.values_list("status", flat=True)) == set(Payout.Status.values)
    assert result["payouts"] == payouts.count() == result["payouts_total"]
    assert result["late"] == overdue.count()
    assert set(overdue.values_list("status", "reason_code")) == {
        (Payout.Status.PROCESSING, Payout.ReasonCode.BANK_PROCESSING_DELAY),
        (Payout.Status.HELD, Payout.ReasonCode.RISK_REVIEW),
        (Payout.Status.RETURNED, Payout.ReasonCode.ACCOUNT_NAME_MISMATCH),
        (Payout.Status.FAILED, Payout.ReasonCode.CHANNEL_UNAVAILABLE),
    }
    assert payouts.get(status=Payout.Status.HELD).reason == "交易风险核查中，资金暂缓结算"
    assert payouts.get(status=Payout.Status.FAILED).reason == "清算通道故障，等待重新发起"
    assert (
        payouts.get(status=Payout.Status.RETURNED).reason == "收款账户户名与开户名不一致，银行退票"
    )


def test_payouts_due_later_are_scheduled_and_the_one_due_today_is_processing(seeded):
    merchant, _result = seeded
    payouts = Payout.objects.filter(merchant=merchant)

    scheduled = payouts.filter(status=Payout.Status.SCHEDULED)
    due_today = payouts.get(expected_at=calendar.expected_arrival(TODAY, "t1"))

    assert scheduled.exists()
    assert all(payout.expected_at > NOW for payout in scheduled)
    assert not payouts.filter(expected_at__gt=NOW).exclude(status=Payout.Status.SCHEDULED)
    assert due_today.status == Payout.Status.PROCESSING
    assert due_today.reason_code == ""


def test_every_payout_carries_exactly_the_sum_of_its_transactions(seeded):
    merchant, _result = seeded

    for payout in Payout.objects.filter(merchant=merchant):
        rows = list(payout.transactions.values_list("amount", "fee", "net", "settlement_date"))
        assert payout.transaction_count == len(rows) > 0
        assert payout.gross_amount == sum(row[0] for row in rows)
        assert payout.fee_amount == sum(row[1] for row in rows)
        assert payout.net_amount == sum(row[2] for row in rows)
        assert {row[3] for row in rows} == {payout.settlement_date}


def test_the_newest_approved_transactions_are_in_no_payout_yet(seeded):
    merchant, _result = seeded

    waiting = merchant.transactions.not_in_payout()
    newest_in_a_payout = (
        merchant.transactions.filter(payout__isnull=False).order_by("-occurred_at").first()
    )

    assert waiting.count() >= 3
    assert all(record.occurred_at > newest_in_a_payout.occurred_at for record in waiting)
    assert all(record.occurred_at > NOW - timedelta(hours=12) for record in waiting)


def test_payout_timelines_start_scheduled_and_move_forward_in_time(seeded):
    merchant, _result = seeded

    for payout in Payout.objects.filter(merchant=merchant):
        events = list(payout.events.order_by("occurred_at", "pk"))
        moments = [event.occurred_at for event in events]
        last_sale = max(payout.transactions.values_list("occurred_at", flat=True))
        assert (events[0].from_status, events[0].to_status) == ("", Payout.Status.SCHEDULED)
        assert moments == sorted(set(moments))
        assert last_sale < moments[0] and moments[-1] <= NOW
        assert events[-1].to_status == payout.status
        assert payout.acquirer_updated_at == moments[-1]
        for before, after in itertools.pairwise(events):
            assert after.from_status == before.to_status


def test_paid_payouts_arrive_around_their_expected_time_with_a_bank_reference(seeded):
    merchant, _result = seeded

    paid = Payout.objects.filter(merchant=merchant, status=Payout.Status.PAID)

    assert paid.count() >= 40
    for payout in paid:
        assert re.fullmatch(r"B\d{13}", payout.bank_reference)
        assert payout.bank_reference[1:9] == f"{payout.paid_at.astimezone(SHANGHAI):%Y%m%d}"
    usual = [payout for payout in paid if len(timeline(payout)) == 3]
    assert all(timedelta(0) < p.paid_at - p.expected_at < timedelta(hours=1) for p in usual)


def test_one_payout_was_returned_then_sent_again_and_paid(seeded):
    merchant, _result = seeded

    recovered = [
        payout
        for payout in Payout.objects.filter(merchant=merchant, status=Payout.Status.PAID)
        if Payout.Status.RETURNED in timeline(payout)
    ]

    assert len(recovered) == 1
    assert timeline(recovered[0]) == [
        Payout.Status.SCHEDULED,
        Payout.Status.PROCESSING,
        Payout.Status.RETURNED,
        Payout.Status.SCHEDULED,
        Payout.Status.PROCESSING,
        Payout.Status.PAID,
    ]
    assert recovered[0].expected_at < late_since(recovered[0].paid_at)


def test_the_same_seed_gives_two_merchants_the_same_traffic():
    first, second = active_merchant(), active_merchant()

    demo.seed_settlements(merchant=first, now=NOW, rng_seed=7)
    demo.seed_settlements(merchant=second, now=NOW, rng_seed=7)

    def traffic(merchant):
        return list(
            merchant.transactions.order_by("occurred_at", "pk").values_list(
                "occurred_at", "tid", "type", "channel", "amount", "fee", "status", "rrn"
            )
        )

    def payouts(merchant):
        return list(
            Payout.objects.filter(merchant=merchant)
            .order_by("settlement_date", "pk")
            .values_list("settlement_date", "status", "net_amount", "expected_at")
        )

    assert traffic(first) == traffic(second)
    assert payouts(first) == payouts(second)


def test_another_seed_gives_other_traffic():
    first, second = active_merchant(), active_merchant()

    demo.seed_settlements(merchant=first, now=NOW, days=5, rng_seed=1)
    demo.seed_settlements(merchant=second, now=NOW, days=5, rng_seed=2)

    assert list(first.transactions.values_list("amount", flat=True)) != list(
        second.transactions.values_list("amount", flat=True)
    )


def test_seeding_again_the_same_day_adds_nothing(seeded_here):
    merchant, _result = seeded_here
    before = (
        merchant.transactions.count(),
        list(Payout.objects.filter(merchant=merchant).values_list("pk", "status")),
        PayoutEvent.objects.filter(payout__merchant=merchant).count(),
    )

    again = demo.seed_settlements(merchant=merchant, now=NOW + timedelta(hours=6))

    assert (again["transactions"], again["payouts"]) == (0, 0)
    assert before == (
        merchant.transactions.count(),
        list(Payout.objects.filter(merchant=merchant).values_list("pk", "status")),
        PayoutEvent.objects.filter(payout__merchant=merchant).count(),
    )


def test_seeding_days_later_fills_in_only_the_days_since_and_moves_payouts_on(seeded_here):
    merchant, _result = seeded_here
    newest = merchant.transactions.order_by("-occurred_at").first().occurred_at
    troubled = dict(
        Payout.objects.filter(merchant=merchant)
        .exclude(status__in=[Payout.Status.PAID, Payout.Status.SCHEDULED])
        .exclude(status=Payout.Status.PROCESSING, reason_code="")
        .values_list("pk", "status")
    )
    was_due = list(
        Payout.objects.filter(
            merchant=merchant, status__in=[Payout.Status.SCHEDULED, Payout.Status.PROCESSING]
        ).filter(reason_code="")
    )
    later = NOW + timedelta(days=3)

    result = demo.seed_settlements(merchant=merchant, now=later)

    added = merchant.transactions.filter(occurred_at__gt=newest)
    assert result["transactions"] == added.count() > 3 * 20
    assert {local_date(moment) for moment in added.values_list("occurred_at", flat=True)} == {
        TODAY + timedelta(days=days) for days in range(4)
    }
    assert result["payouts"] >= 2
    payouts = Payout.objects.filter(merchant=merchant)
    assert set(payouts.values_list("status", flat=True)) == set(Payout.Status.values)
    assert dict(payouts.filter(pk__in=troubled).values_list("pk", "status")) == troubled
    for payout in was_due:
        payout.refresh_from_db()
        assert payout.status == Payout.Status.PAID
        assert timeline(payout)[-2:] == [Payout.Status.PROCESSING, Payout.Status.PAID]
    assert payouts.overdue(now=later).count() == len(troubled)
    assert not merchant.transactions.not_in_payout().filter(occurred_at__lte=newest).exists()


def one_by_one(planned) -> int:
    return sum(
        services.transaction_record(data=acquirer_data.parse_transaction(item.payload))[1]
        for item in planned
    )


def in_one_batch(planned) -> int:
    return demo.record_transactions(planned=planned)


def test_recording_many_at_once_writes_what_recording_one_by_one_writes():
    one_by_one_merchant, bulk = active_merchant(), active_merchant()

    def planned(merchant):
        return demo.demo_traffic(
            mid=merchant.mid,
            schedule=merchant.fee_schedule,
            # Nine days with a fee mismatch among them (13 November).
            days=[date(2026, 11, 10) + timedelta(days=day) for day in range(9)],
            tids=demo.DEFAULT_TIDS,
            seed=11,
        )

    one_by_one(planned(one_by_one_merchant))
    in_one_batch(planned(bulk))

    def rows(merchant):
        return list(
            merchant.transactions.order_by("occurred_at", "rrn").values_list(
                "acquirer",
                "tid",
                "type",
                "original__rrn",
                "channel",
                "amount",
                "fee",
                "acquirer_fee",
                "net",
                "fee_mismatch",
                "card_masked",
                "card_last4",
                "rrn",
                "trace_no",
                "batch_no",
                "auth_code",
                "status",
                "occurred_at",
                "settlement_cycle",
                "settlement_date",
                "payout",
                "acquirer_payout_id",
            )
        )

    assert rows(bulk) == rows(one_by_one_merchant)
    assert bulk.transactions.filter(fee_mismatch=True).exists()
    assert bulk.transactions.filter(type=Transaction.Type.REFUND).exists()


def test_a_d0_merchant_recorded_at_once_fills_its_daily_limit_in_order_as_one_by_one():
    def d0_merchant():
        return active_merchant(
            settlement_cycle=FeeSchedule.Cycle.D0,
            d0_surcharge_rate=Decimal("0.0005"),
            d0_daily_limit=Decimal("1500.00"),
            d0_window_end=time(21, 0),
        )

    one_by_one_merchant, bulk = d0_merchant(), d0_merchant()

    def planned(merchant):
        return demo.demo_traffic(
            mid=merchant.mid,
            schedule=merchant.fee_schedule,
            days=[TODAY - timedelta(days=2), TODAY - timedelta(days=1)],
            tids=demo.DEFAULT_TIDS,
            seed=3,
        )

    one_by_one(planned(one_by_one_merchant))
    in_one_batch(planned(bulk))

    def rows(merchant):
        return list(
            merchant.transactions.order_by("occurred_at", "rrn").values_list(
                "rrn", "amount", "fee", "settlement_cycle", "settlement_date"
            )
        )

    assert rows(bulk) == rows(one_by_one_merchant)
    assert {cycle for *_rest, cycle, _date in rows(bulk)} == {"d0", "t1"}


def test_a_d0_merchant_gets_same_day_payouts_through_transaction_record():
    merchant = active_merchant(
        settlement_cycle=FeeSchedule.Cycle.D0,
        d0_surcharge_rate=Decimal("0.0005"),
        d0_daily_limit=Decimal("1500.00"),
        d0_window_end=time(21, 0),
    )

    result = demo.seed_settlements(merchant=merchant, now=NOW, days=12)

    payouts = Payout.objects.filter(merchant=merchant)
    assert set(payouts.values_list("cycle", flat=True)) == {"d0", "t1"}
    assert result["transactions"] == merchant.transactions.count() > 12 * 20
    for payout in payouts:
        rows = list(payout.transactions.values_list("net", "settlement_cycle"))
        assert payout.net_amount == sum(net for net, _cycle in rows)
        assert {cycle for _net, cycle in rows} == {payout.cycle}
        assert payout.expected_at == calendar.expected_arrival(payout.settlement_date, payout.cycle)


def test_recording_at_once_skips_what_is_already_recorded():
    merchant = active_merchant()
    planned = demo.demo_traffic(
        mid=merchant.mid,
        schedule=merchant.fee_schedule,
        days=[TODAY - timedelta(days=1), TODAY],
        tids=demo.DEFAULT_TIDS,
        seed=3,
    )
    one_by_one(planned[:10])

    created = in_one_batch(planned)

    assert created == len(planned) - 10
    assert merchant.transactions.count() == len(planned)


@pytest.fixture
def development_mode(settings):
    # pytest-django runs tests with DEBUG off; seeding is for development installations.
    settings.DEBUG = True


def test_seed_demo_gives_the_demo_merchant_three_terminals_and_traffic_once(development_mode):
    first = StringIO()
    call_command("seed_demo", stdout=first)
    merchant = Merchant.objects.get(user__mobile=DEMO_MERCHANT_MOBILE)
    recorded = merchant.transactions.count()
    payouts = list(Payout.objects.filter(merchant=merchant).values_list("pk", "status"))

    second = StringIO()
    call_command("seed_demo", stdout=second)

    assert recorded >= 20 * 90
    assert set(merchant.terminals.values_list("tid", "status")) == {
        (tid, Terminal.Status.ACTIVE) for tid in demo.DEFAULT_TIDS
    }
    assert set(merchant.transactions.values_list("tid", flat=True)) == set(demo.DEFAULT_TIDS)
    assert f"demo traffic: {recorded:,} transactions, {len(payouts)} payouts" in first.getvalue()
    assert merchant.transactions.count() == recorded
    assert list(Payout.objects.filter(merchant=merchant).values_list("pk", "status")) == payouts
    assert "up to date" in second.getvalue()
    assert Payout.objects.filter(merchant=merchant).overdue().count() >= 2


def test_recording_at_once_links_a_void_that_arrived_before_its_sale():
    merchant = active_merchant()
    traffic = demo.demo_traffic(
        mid=merchant.mid,
        schedule=merchant.fee_schedule,
        days=[TODAY - timedelta(days=back) for back in range(90)],
        tids=demo.DEFAULT_TIDS,
        seed=2026,
    )
    void = next(item for item in traffic if item.payload["type"] == Transaction.Type.VOID)
    that_day = [
        item for item in traffic if local_date(item.occurred_at) == local_date(void.occurred_at)
    ]
    one_by_one([void])

    in_one_batch(that_day)

    recorded = merchant.transactions.select_related("original").get(acquirer_id=void.payload["id"])
    assert recorded.original.acquirer_id == void.payload["original_id"]
    assert recorded.fee == -recorded.original.fee
    assert merchant.transactions.count() == len(that_day)
