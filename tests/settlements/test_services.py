"""Recording transactions, assembling payouts and moving them through their statuses
(``settlements.services``), the acquirer payload parser, and the ledger's database invariants.

Dates are fixed in 2026, whose official calendar the test database holds: a sale at 14:00 on
Wed Sep 30 settles T+1 on Thu Oct 8, after the National Day holiday.
"""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.transitions import TransitionNotAllowed
from settlements import calendar
from settlements.acquirer_data import AcquirerDataError, parse_transaction
from settlements.models import Payout, PayoutEvent, Transaction
from settlements.services import (
    payout_apply_status,
    payout_assemble,
    transaction_record,
)
from tests.factories import (
    FeeScheduleFactory,
    MerchantFactory,
    PayoutFactory,
    StaffFactory,
    TransactionFactory,
    transaction_payload,
)
from tests.helpers import run_at_once

D = Decimal
SEP30 = "2026-09-30T14:00:00+08:00"
OCT8 = date(2026, 10, 8)


def record(merchant, **overrides):
    payload = transaction_payload(merchant, **{"occurred_at": SEP30, **overrides})
    return transaction_record(data=parse_transaction(payload))


def d0_merchant(**overrides):
    values = {
        "settlement_cycle": "d0",
        "d0_surcharge_rate": D("0.0010"),
        "d0_daily_limit": D("1000.00"),
        "d0_window_start": time(8, 0),
        "d0_window_end": time(22, 0),
    }
    values.update(overrides)
    return MerchantFactory(fee_schedule=FeeScheduleFactory(**values))


def payout_row(payout):
    return Payout.objects.filter(pk=payout.pk).values().get()


# -- transaction_record -------------------------------------------------------------------------


@pytest.mark.django_db
def test_transaction_record_stores_the_sale_with_the_fee_the_portal_computes(merchant):
    txn, created = record(merchant, id="TXA1", channel="credit_card", amount="100.00")

    txn.refresh_from_db()
    assert created is True
    assert (txn.acquirer, txn.acquirer_id, txn.merchant, txn.type, txn.channel) == (
        django_settings.ACQUIRER_CODE,
        "TXA1",
        merchant,
        "sale",
        "credit_card",
    )
    assert (txn.amount, txn.fee, txn.acquirer_fee, txn.net, txn.fee_mismatch) == (
        D("100.00"),
        D("0.60"),
        D("0.60"),
        D("99.40"),
        False,
    )
    assert (txn.settlement_cycle, txn.settlement_date, txn.payout) == ("t1", OCT8, None)
    assert (txn.card_masked, txn.card_last4) == ("622202******0123", "0123")
    assert txn.occurred_at == datetime(2026, 9, 30, 6, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_transaction_record_flags_a_fee_that_differs_from_the_acquirers(merchant):
    txn, _created = record(merchant, amount="100.00", fee="0.65")

    txn.refresh_from_db()
    assert (txn.fee, txn.acquirer_fee, txn.net, txn.fee_mismatch) == (
        D("0.60"),
        D("0.65"),
        D("99.40"),
        True,
    )


@pytest.mark.django_db
def test_transaction_record_flags_a_card_refund_the_acquirer_returned_a_fee_for(merchant):
    record(merchant, id="TXS1", amount="100.00")

    refund, _created = record(
        merchant, type="refund", original_id="TXS1", amount="-100.00", fee="0.60"
    )

    refund.refresh_from_db()
    assert (refund.fee, refund.acquirer_fee, refund.fee_mismatch) == (
        D("0.00"),
        D("-0.60"),
        True,
    )


@pytest.mark.django_db
def test_transaction_record_does_not_flag_a_qr_refund_whose_fee_agrees(merchant):
    record(merchant, id="TXW1", channel="wechat_pay", amount="75.00")

    refund, _created = record(
        merchant, type="refund", original_id="TXW1", channel="wechat_pay", amount="-75.00"
    )

    refund.refresh_from_db()
    assert (refund.amount, refund.fee, refund.acquirer_fee, refund.net) == (
        D("-75.00"),
        D("-0.29"),
        D("-0.29"),
        D("-74.71"),
    )
    assert refund.fee_mismatch is False
    assert refund.original.acquirer_id == "TXW1"


@pytest.mark.django_db
def test_transaction_record_twice_keeps_one_row(merchant):
    payload = transaction_payload(merchant, occurred_at=SEP30)

    first, first_created = transaction_record(data=parse_transaction(payload))
    again, again_created = transaction_record(data=parse_transaction(payload))

    assert (first_created, again_created) == (True, False)
    assert again.pk == first.pk
    assert Transaction.objects.count() == 1


@pytest.mark.django_db
def test_transaction_record_attaches_the_payout_on_a_later_repeat(merchant):
    payout = PayoutFactory(
        merchant=merchant, acquirer=django_settings.ACQUIRER_CODE, acquirer_id="PO777"
    )
    payload = transaction_payload(merchant, occurred_at=SEP30)
    txn, _created = transaction_record(data=parse_transaction(payload))
    assert txn.payout is None

    _again, created = transaction_record(data=parse_transaction({**payload, "payout_id": "PO777"}))

    txn.refresh_from_db()
    assert created is False
    assert (txn.payout, txn.acquirer_payout_id) == (payout, "PO777")
    assert Transaction.objects.count() == 1


@pytest.mark.django_db
def test_transaction_record_repeat_returns_the_transaction_with_its_payout(merchant):
    payout = PayoutFactory(
        merchant=merchant, acquirer=django_settings.ACQUIRER_CODE, acquirer_id="PO778"
    )
    payload = transaction_payload(merchant, occurred_at=SEP30)
    transaction_record(data=parse_transaction(payload))

    again, _created = transaction_record(data=parse_transaction({**payload, "payout_id": "PO778"}))

    assert (again.payout_id, again.acquirer_payout_id) == (payout.pk, "PO778")


@pytest.mark.django_db
def test_transaction_record_never_moves_a_transaction_to_another_payout(merchant):
    first = PayoutFactory(merchant=merchant, acquirer=django_settings.ACQUIRER_CODE)
    other = PayoutFactory(merchant=merchant, acquirer=django_settings.ACQUIRER_CODE)
    payload = transaction_payload(merchant, occurred_at=SEP30, payout_id=first.acquirer_id)
    txn, _created = transaction_record(data=parse_transaction(payload))

    transaction_record(data=parse_transaction({**payload, "payout_id": other.acquirer_id}))

    txn.refresh_from_db()
    assert (txn.payout, txn.acquirer_payout_id) == (first, first.acquirer_id)


@pytest.mark.django_db
def test_transaction_record_refuses_an_unknown_merchant_and_stores_nothing(merchant):
    payload = transaction_payload(merchant, merchant_id="898310099999999")

    with pytest.raises(AcquirerDataError) as refused:
        transaction_record(data=parse_transaction(payload))

    assert refused.value.field == "merchant_id"
    assert "898310099999999" in str(refused.value)
    assert Transaction.objects.count() == 0


@pytest.mark.django_db
def test_transaction_record_refuses_a_merchant_without_a_fee_schedule():
    merchant = MerchantFactory(fee_schedule=None)
    payload = transaction_payload(merchant, fee="0.60")

    with pytest.raises(AcquirerDataError) as refused:
        transaction_record(data=parse_transaction(payload))

    assert refused.value.field == "merchant_id"
    assert Transaction.objects.count() == 0


@pytest.mark.django_db
def test_void_arriving_before_its_sale_is_linked_when_the_sale_arrives(merchant):
    void, _created = record(merchant, id="TXV1", type="void", original_id="TXS9", amount="-100.00")
    assert (void.original, void.original_acquirer_id) == (None, "TXS9")

    sale, _created = record(merchant, id="TXS9", amount="100.00")

    void.refresh_from_db()
    assert void.original == sale
    assert (sale.fee, void.fee) == (D("0.60"), D("-0.60"))
    assert sale.net + void.net == 0


@pytest.mark.django_db
def test_void_of_another_merchant_is_never_linked_to_this_merchants_sale(merchant):
    # A void names its original by the acquirer's id; only the same merchant's sale is its
    # original, as it is when the sale is already there (the lookup is scoped by merchant).
    stranger = MerchantFactory()
    void, _created = record(stranger, type="void", original_id="TXS7", amount="-100.00")

    record(merchant, id="TXS7", amount="100.00")

    void.refresh_from_db()
    assert void.original is None


@pytest.mark.django_db
def test_void_after_its_sale_returns_exactly_the_sales_fee(merchant):
    sale, _created = record(merchant, id="TXS2", amount="100.00")
    # The merchant's rate changes between the sale and the void.
    merchant.fee_schedule.credit_rate = D("0.0070")
    merchant.fee_schedule.save()

    void, _created = record(merchant, type="void", original_id="TXS2", amount="-100.00", fee="0.60")

    void.refresh_from_db()
    assert (void.amount, void.fee, void.net, void.fee_mismatch) == (
        D("-100.00"),
        D("-0.60"),
        D("-99.40"),
        False,
    )
    assert void.original == sale
    assert sale.net + void.net == 0


@pytest.mark.django_db
def test_reversal_of_a_d0_sale_outside_the_window_returns_the_surcharge_too():
    merchant = d0_merchant()
    sale, _created = record(
        merchant, id="TXD1", amount="1000.00", fee="7.00", occurred_at="2026-11-26T10:00:00+08:00"
    )
    assert (sale.settlement_cycle, sale.fee) == ("d0", D("7.00"))

    reversal, _created = record(
        merchant,
        type="reversal",
        original_id="TXD1",
        amount="-1000.00",
        fee="7.00",
        occurred_at="2026-11-26T22:30:00+08:00",
    )

    assert (reversal.settlement_cycle, reversal.fee) == ("t1", D("-7.00"))
    assert sale.net + reversal.net == 0


@pytest.mark.django_db
def test_void_arriving_before_its_d0_sale_still_undoes_it_completely():
    # Webhooks arrive out of order. The void (22:30, outside the D0 window) is recorded first,
    # when its sale's fee is not known; the sale (10:00, D0) paid a surcharge the void must
    # return as well ("a void undoes its original completely, fee included").
    merchant = d0_merchant()
    void, _created = record(
        merchant,
        id="TXV3",
        type="void",
        original_id="TXD3",
        amount="-1000.00",
        fee="7.00",
        occurred_at="2026-11-26T22:30:00+08:00",
    )

    sale, _created = record(
        merchant, id="TXD3", amount="1000.00", fee="7.00", occurred_at="2026-11-26T10:00:00+08:00"
    )

    void.refresh_from_db()
    assert void.original == sale
    assert (sale.fee, void.fee) == (D("7.00"), D("-7.00"))
    assert sale.net + void.net == 0


@pytest.mark.django_db
def test_declined_sale_has_no_fee_and_no_settlement_date(merchant):
    txn, created = record(merchant, status="declined", amount="100.00")

    txn.refresh_from_db()
    assert created is True
    assert (txn.status, txn.amount, txn.fee, txn.acquirer_fee, txn.net) == (
        "declined",
        D("100.00"),
        D("0.00"),
        D("0.00"),
        D("100.00"),
    )
    assert (txn.settlement_cycle, txn.settlement_date, txn.fee_mismatch) == ("t1", None, False)


@pytest.mark.django_db
def test_d0_sales_within_the_limit_settle_d0_and_the_one_crossing_it_falls_back_to_t1():
    merchant = d0_merchant(d0_daily_limit=D("1000.00"))
    sunday = "2026-10-04T10:0{}:00+08:00"  # a Sunday in the National Day holiday

    first, _c = record(merchant, amount="600.00", fee="4.20", occurred_at=sunday.format(0))
    second, _c = record(merchant, amount="300.00", fee="2.10", occurred_at=sunday.format(1))
    crossing, _c = record(merchant, amount="200.00", fee="1.20", occurred_at=sunday.format(2))
    fitting, _c = record(merchant, amount="100.00", fee="0.70", occurred_at=sunday.format(3))

    rows = [
        (t.settlement_cycle, t.settlement_date, t.fee, t.fee_mismatch)
        for t in Transaction.objects.filter(
            pk__in=[first.pk, second.pk, crossing.pk, fitting.pk]
        ).order_by("occurred_at")
    ]
    assert rows == [
        ("d0", date(2026, 10, 4), D("4.20"), False),  # 3.60 + 0.60 surcharge
        ("d0", date(2026, 10, 4), D("2.10"), False),  # 1.80 + 0.30
        ("t1", OCT8, D("1.20"), False),  # 900 + 200 > 1000: T+1, no surcharge
        ("d0", date(2026, 10, 4), D("0.70"), False),  # 900 + 100 = 1000: exactly at the limit
    ]


@pytest.mark.django_db
def test_qr_refund_inside_the_d0_window_settles_d0_and_returns_the_channel_fee():
    merchant = d0_merchant(d0_daily_limit=D("1000.00"))
    record(
        merchant,
        id="TXQ1",
        channel="alipay",
        amount="1000.00",
        fee="4.80",
        occurred_at="2026-11-26T10:00:00+08:00",
    )

    refund, _c = record(
        merchant,
        type="refund",
        original_id="TXQ1",
        channel="alipay",
        amount="-100.00",
        occurred_at="2026-11-26T11:00:00+08:00",
    )

    assert (refund.settlement_cycle, refund.settlement_date) == ("d0", date(2026, 11, 26))
    assert refund.fee == D("-0.38")


@pytest.mark.django_db(transaction=True)
def test_transaction_recorded_twice_at_once_is_stored_once():
    merchant = MerchantFactory()
    data = parse_transaction(transaction_payload(merchant, occurred_at=SEP30))

    outcomes = run_at_once(lambda _: transaction_record(data=data), [1, 2])

    assert [type(o).__name__ for o in outcomes] == ["tuple", "tuple"]
    assert sorted(created for _txn, created in outcomes) == [False, True]
    assert outcomes[0][0].pk == outcomes[1][0].pk
    assert Transaction.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("channel", "amount", "fee", "net"),
    [
        # Each of these nets is exact in decimal but not in binary floating point
        # (0.94 - 0.01 == 0.9299999999999999 as doubles).
        ("credit_card", "0.94", "0.01", "0.93"),
        ("credit_card", "2.01", "0.01", "2.00"),
        ("wechat_pay", "20.01", "0.08", "19.93"),
        ("credit_card", "1234.56", "7.41", "1227.15"),
    ],
)
def test_transaction_record_stores_a_net_that_binary_floats_cannot_represent(
    merchant, channel, amount, fee, net
):
    assert float(amount) - float(fee) != float(net)

    txn, created = record(merchant, channel=channel, amount=amount)

    txn.refresh_from_db()
    assert created is True
    assert (txn.amount, txn.fee, txn.net) == (D(amount), D(fee), D(net))


# -- parse_transaction --------------------------------------------------------------------------


def payload_for_parsing(**overrides):
    # Built at collection time: a stand-in merchant, no database and no password hashing.
    merchant = SimpleNamespace(mid="898310054110001", fee_schedule=FeeScheduleFactory.build())
    return transaction_payload(merchant, **{"occurred_at": SEP30, "fee": "0.60", **overrides})


def test_parse_transaction_reads_a_good_payload():
    data = parse_transaction(payload_for_parsing(id="TX42", amount="1234.50", fee="7.41"))

    assert (data.id, data.merchant_id, data.terminal_id, data.type, data.channel) == (
        "TX42",
        "898310054110001",
        "10000001",
        "sale",
        "credit_card",
    )
    assert (data.amount, data.fee, data.card_last4) == (D("1234.50"), D("7.41"), "0123")
    assert data.occurred_at == datetime(2026, 9, 30, 6, 0, tzinfo=UTC)
    assert (data.original_id, data.payout_id) == ("", "")


def test_parse_transaction_reads_a_qr_payment_without_a_card():
    data = parse_transaction(payload_for_parsing(channel="alipay", amount="-5"))

    assert (data.channel, data.card_masked, data.card_last4, data.amount) == (
        "alipay",
        "",
        "",
        D("-5"),
    )


def without(key):
    payload = payload_for_parsing()
    del payload[key]
    return payload


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param(without("id"), "id", id="missing id"),
        pytest.param(payload_for_parsing(id=""), "id", id="empty id"),
        pytest.param(payload_for_parsing(id="TX 1"), "id", id="id with a space"),
        pytest.param(payload_for_parsing(merchant_id="89831005411000"), "merchant_id", id="MID14"),
        pytest.param(payload_for_parsing(merchant_id=None), "merchant_id", id="no MID"),
        pytest.param(payload_for_parsing(terminal_id="1000000A"), "terminal_id", id="TID letters"),
        pytest.param(payload_for_parsing(type="capture"), "type", id="type capture"),
        pytest.param(without("type"), "type", id="missing type"),
        pytest.param(payload_for_parsing(channel="paypal"), "channel", id="channel paypal"),
        pytest.param(payload_for_parsing(amount="1,000.00"), "amount", id="amount 1,000.00"),
        pytest.param(payload_for_parsing(amount="1e3"), "amount", id="amount 1e3"),
        pytest.param(payload_for_parsing(amount="12.345"), "amount", id="amount 12.345"),
        pytest.param(payload_for_parsing(amount="NaN"), "amount", id="amount NaN"),
        pytest.param(payload_for_parsing(amount="Infinity"), "amount", id="amount Infinity"),
        pytest.param(payload_for_parsing(amount=""), "amount", id="amount empty"),
        pytest.param(payload_for_parsing(amount=None), "amount", id="amount null"),
        pytest.param(payload_for_parsing(amount="0.00"), "amount", id="amount zero"),
        pytest.param(payload_for_parsing(amount="1234567890123.00"), "amount", id="13 digits"),
        pytest.param(payload_for_parsing(fee="0.6.0"), "fee", id="fee malformed"),
        pytest.param(
            payload_for_parsing(occurred_at="2026-11-26T09:30:00"),
            "occurred_at",
            id="occurred_at without offset",
        ),
        pytest.param(payload_for_parsing(occurred_at="yesterday"), "occurred_at", id="not a time"),
        pytest.param(
            payload_for_parsing(occurred_at="2026-02-30T09:30:00+08:00"),
            "occurred_at",
            id="Feb 30",
        ),
        pytest.param(
            payload_for_parsing(type="refund", amount="-1.00"),
            "original_id",
            id="refund without original_id",
        ),
        pytest.param(
            payload_for_parsing(type="void", original_id=""),
            "original_id",
            id="void with empty original_id",
        ),
        pytest.param(
            payload_for_parsing(channel="debit_card", card_masked=None),
            "card_masked",
            id="card payment without card_masked",
        ),
        pytest.param(
            payload_for_parsing(card_masked="6222020200112233445"),
            "card_masked",
            id="full PAN",
        ),
        pytest.param(payload_for_parsing(status="pending"), "status", id="status pending"),
        pytest.param(payload_for_parsing(rrn="12345"), "rrn", id="short rrn"),
        pytest.param(payload_for_parsing(trace_no="12345A"), "trace_no", id="trace_no letters"),
        pytest.param(payload_for_parsing(payout_id="PO/1"), "payout_id", id="payout_id slash"),
        pytest.param(["not", "an", "object"], "transaction", id="not an object"),
    ],
)
def test_parse_transaction_refuses_a_bad_field_and_names_it(payload, field):
    with pytest.raises(AcquirerDataError) as refused:
        parse_transaction(payload)

    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ")


def test_parse_transaction_error_does_not_repeat_a_full_card_number():
    # Errors go to the logs and to error records; a PAN is never stored (DESIGN.md §7).
    with pytest.raises(AcquirerDataError) as refused:
        parse_transaction(payload_for_parsing(card_masked="6222020200112233445"))

    assert refused.value.field == "card_masked"
    assert "6222020200112233445" not in str(refused.value)


# -- payout_assemble ----------------------------------------------------------------------------


def record_mixed_day(merchant):
    """Sales, a refund, a void and a decline on every channel, all settling on Oct 8."""
    record(merchant, channel="credit_card", amount="100.00")  # fee 0.60
    record(merchant, channel="debit_card", amount="10000.00")  # fee 25.00, capped
    record(merchant, id="MXW1", channel="wechat_pay", amount="75.00")  # fee 0.29
    record(merchant, type="refund", original_id="MXW1", channel="wechat_pay", amount="-25.00")
    record(merchant, id="MXC2", channel="credit_card", amount="50.00")  # fee 0.30
    record(merchant, type="void", original_id="MXC2", channel="credit_card", amount="-50.00")
    record(merchant, channel="unionpay_qr", amount="125.00")  # fee 0.475 → 0.48
    record(merchant, channel="alipay", amount="30.00", status="declined")


@pytest.mark.django_db
def test_payout_assemble_nets_exactly_the_sum_of_its_transactions(merchant):
    record_mixed_day(merchant)

    payout = payout_assemble(merchant=merchant, settlement_date=OCT8)

    payout.refresh_from_db()
    included = list(payout.transactions.all())
    assert (payout.gross_amount, payout.fee_amount, payout.adjustment_amount) == (
        D("10275.00"),
        D("26.27"),
        D("0.00"),
    )
    assert payout.net_amount == D("10248.73")
    assert payout.net_amount == sum(t.net for t in included)
    assert payout.transaction_count == len(included) == 7
    assert (payout.status, payout.cycle, payout.settlement_date) == ("scheduled", "t1", OCT8)
    assert (payout.merchant, payout.acquirer) == (merchant, django_settings.ACQUIRER_CODE)


@pytest.mark.django_db
def test_payout_assemble_attaches_every_transaction_it_carries(merchant):
    record_mixed_day(merchant)

    payout = payout_assemble(merchant=merchant, settlement_date=OCT8)

    approved = Transaction.objects.filter(merchant=merchant, status="approved")
    assert {(t.payout_id, t.acquirer_payout_id) for t in approved} == {
        (payout.pk, payout.acquirer_id)
    }
    declined = Transaction.objects.get(merchant=merchant, status="declined")
    assert (declined.payout_id, declined.acquirer_payout_id) == (None, "")


@pytest.mark.django_db
def test_payout_assemble_adds_the_adjustment(merchant):
    record(merchant, amount="100.00")
    record(merchant, amount="200.00")

    payout = payout_assemble(merchant=merchant, settlement_date=OCT8, adjustment=D("-5.50"))

    payout.refresh_from_db()
    assert (payout.gross_amount, payout.fee_amount, payout.adjustment_amount) == (
        D("300.00"),
        D("1.80"),
        D("-5.50"),
    )
    assert payout.net_amount == D("292.70")


@pytest.mark.django_db
def test_payout_assemble_leaves_other_dates_cycles_merchants_and_payouts_out(merchant):
    mine, _c = record(merchant, amount="100.00")
    other_merchant, _c = record(MerchantFactory(), amount="100.00")
    next_day, _c = record(merchant, amount="100.00", occurred_at="2026-10-08T14:00:00+08:00")
    d0_same_date = TransactionFactory(
        merchant=merchant,
        acquirer=django_settings.ACQUIRER_CODE,
        settlement_cycle="d0",
        settlement_date=OCT8,
    )
    already_paid = TransactionFactory(
        merchant=merchant,
        acquirer=django_settings.ACQUIRER_CODE,
        settlement_date=OCT8,
        payout=PayoutFactory(merchant=merchant),
    )

    payout = payout_assemble(merchant=merchant, settlement_date=OCT8)

    assert list(payout.transactions.all()) == [mine]
    assert payout.transaction_count == 1
    for untouched in (other_merchant, next_day, d0_same_date):
        untouched.refresh_from_db()
        assert untouched.payout is None
    already_paid_payout = already_paid.payout
    already_paid.refresh_from_db()
    assert already_paid.payout == already_paid_payout


@pytest.mark.django_db
def test_payout_assemble_again_finds_nothing_left(merchant):
    record(merchant, amount="100.00")
    first = payout_assemble(merchant=merchant, settlement_date=OCT8)

    second = payout_assemble(merchant=merchant, settlement_date=OCT8)

    assert second is None
    assert Payout.objects.filter(merchant=merchant).count() == 1
    assert first.transactions.count() == 1


@pytest.mark.django_db
def test_payout_assemble_with_nothing_to_pay_creates_nothing(merchant):
    record(merchant, amount="100.00", status="declined")

    assert payout_assemble(merchant=merchant, settlement_date=OCT8) is None
    assert Payout.objects.count() == 0
    assert PayoutEvent.objects.count() == 0


@pytest.mark.django_db
def test_payout_assemble_takes_a_late_transaction_into_a_second_payout(merchant):
    record(merchant, amount="100.00")
    first = payout_assemble(merchant=merchant, settlement_date=OCT8)
    late, _c = record(merchant, amount="50.00")

    second = payout_assemble(merchant=merchant, settlement_date=OCT8)

    assert second.acquirer_id != first.acquirer_id
    assert list(second.transactions.all()) == [late]
    assert (second.gross_amount, second.net_amount) == (D("50.00"), D("49.70"))


@pytest.mark.django_db
def test_payout_assemble_expects_arrival_from_the_calendar_and_starts_a_timeline(merchant):
    record(merchant, amount="100.00")
    now = timezone.now()

    payout = payout_assemble(merchant=merchant, settlement_date=OCT8, now=now)

    payout.refresh_from_db()
    assert payout.expected_at == datetime(2026, 10, 8, 2, 0, tzinfo=UTC)  # 10:00 Beijing
    assert payout.expected_at == calendar.expected_arrival(OCT8, "t1")
    assert payout.acquirer_updated_at == now
    events = list(payout.events.values_list("from_status", "to_status", "source", "occurred_at"))
    assert events == [("", "scheduled", "portal", now)]


@pytest.mark.django_db
def test_payout_assemble_of_d0_sales_expects_arrival_the_same_evening():
    merchant = d0_merchant(d0_daily_limit=None)
    record(merchant, amount="1000.00", fee="7.00", occurred_at="2026-10-04T10:00:00+08:00")

    payout = payout_assemble(merchant=merchant, settlement_date=date(2026, 10, 4), cycle="d0")

    assert (payout.cycle, payout.gross_amount, payout.fee_amount) == (
        "d0",
        D("1000.00"),
        D("7.00"),
    )
    assert payout.expected_at == datetime(2026, 10, 4, 15, 30, tzinfo=UTC)  # 23:30 Beijing


# -- payout_apply_status ------------------------------------------------------------------------


@pytest.fixture
def scheduled_payout(db):
    return PayoutFactory(status=Payout.Status.SCHEDULED)


def later(minutes: int) -> datetime:
    # PayoutFactory stamps acquirer_updated_at with now: reports must be newer to count.
    return timezone.now() + timedelta(minutes=minutes)


def timeline(payout):
    return list(payout.events.values_list("from_status", "to_status", "source"))


def test_payout_goes_scheduled_processing_paid_with_a_timeline(scheduled_payout):
    payout = scheduled_payout
    processing_at, paid_at = later(1), later(2)

    moved = payout_apply_status(payout=payout, status="processing", seen_at=processing_at)
    paid = payout_apply_status(
        payout=payout, status="paid", seen_at=paid_at, bank_reference="BANK-20261008-1"
    )

    assert (moved, paid) == (True, True)
    stored = Payout.objects.get(pk=payout.pk)
    assert (stored.status, stored.paid_at, stored.bank_reference) == (
        "paid",
        paid_at,
        "BANK-20261008-1",
    )
    assert stored.acquirer_updated_at == paid_at
    assert (payout.status, payout.paid_at) == ("paid", paid_at)  # the caller's copy follows
    assert timeline(payout) == [
        ("", "scheduled", "acquirer"),
        ("scheduled", "processing", "acquirer"),
        ("processing", "paid", "acquirer"),
    ]
    assert list(payout.events.order_by("pk").values_list("occurred_at", flat=True))[1:] == [
        processing_at,
        paid_at,
    ]


def test_payout_paid_keeps_the_paid_time_the_acquirer_reports(scheduled_payout):
    bank_time = later(-30)

    payout_apply_status(payout=scheduled_payout, status="paid", seen_at=later(1), paid_at=bank_time)

    assert Payout.objects.get(pk=scheduled_payout.pk).paid_at == bank_time


def test_payout_event_records_staff_actor_and_reason(scheduled_payout):
    staff = StaffFactory()

    payout_apply_status(
        payout=scheduled_payout,
        status="held",
        seen_at=later(1),
        source=PayoutEvent.Source.STAFF,
        actor=staff,
        reason_code="RISK_REVIEW",
        reason="人工复核",
    )

    event = scheduled_payout.events.order_by("pk").last()
    assert (event.from_status, event.to_status, event.source, event.actor) == (
        "scheduled",
        "held",
        "staff",
        staff,
    )
    assert (event.reason_code, event.reason) == ("RISK_REVIEW", "人工复核")
    stored = Payout.objects.get(pk=scheduled_payout.pk)
    assert (stored.reason_code, stored.cause) == ("RISK_REVIEW", "risk_hold")


def test_payout_ignores_a_report_older_than_the_one_applied(scheduled_payout):
    payout_apply_status(payout=scheduled_payout, status="processing", seen_at=later(10))
    before, events = payout_row(scheduled_payout), scheduled_payout.events.count()

    applied = payout_apply_status(payout=scheduled_payout, status="paid", seen_at=later(5))

    assert applied is False
    assert payout_row(scheduled_payout) == before
    assert scheduled_payout.events.count() == events


def test_payout_ignores_a_report_as_old_as_the_one_applied(scheduled_payout):
    seen_at = later(10)
    payout_apply_status(payout=scheduled_payout, status="processing", seen_at=seen_at)
    before = payout_row(scheduled_payout)

    applied = payout_apply_status(payout=scheduled_payout, status="failed", seen_at=seen_at)

    assert applied is False
    assert payout_row(scheduled_payout) == before


def test_payout_repeating_its_status_adds_nothing_to_the_timeline(scheduled_payout):
    payout_apply_status(payout=scheduled_payout, status="processing", seen_at=later(1))
    events = scheduled_payout.events.count()

    repeated = payout_apply_status(payout=scheduled_payout, status="processing", seen_at=later(2))

    assert repeated is False
    assert scheduled_payout.events.count() == events
    assert Payout.objects.get(pk=scheduled_payout.pk).status == "processing"


@pytest.mark.django_db
def test_payout_cannot_go_from_paid_back_to_processing():
    payout = PayoutFactory(status=Payout.Status.PAID)
    before, events = payout_row(payout), payout.events.count()

    with pytest.raises(TransitionNotAllowed):
        payout_apply_status(payout=payout, status="processing", seen_at=later(1))

    assert payout_row(payout) == before
    assert payout.events.count() == events


@pytest.mark.parametrize("status", ["lost", "PAID", ""])
def test_payout_refuses_an_unknown_status(scheduled_payout, status):
    before, events = payout_row(scheduled_payout), scheduled_payout.events.count()

    with pytest.raises(TransitionNotAllowed):
        payout_apply_status(payout=scheduled_payout, status=status, seen_at=later(1))

    assert payout_row(scheduled_payout) == before
    assert scheduled_payout.events.count() == events


@pytest.mark.django_db
def test_paid_payout_can_be_returned_by_the_bank():
    payout = PayoutFactory(status=Payout.Status.PAID)

    returned = payout_apply_status(
        payout=payout, status="returned", seen_at=later(1), reason_code="ACCOUNT_CLOSED"
    )

    stored = Payout.objects.get(pk=payout.pk)
    assert returned is True
    assert (stored.status, stored.reason_code, stored.cause) == (
        "returned",
        "ACCOUNT_CLOSED",
        "account_error",
    )
    assert timeline(payout)[-1] == ("paid", "returned", "acquirer")


@pytest.mark.django_db(transaction=True)
def test_payout_moved_twice_at_once_records_one_event():
    payout = PayoutFactory(status=Payout.Status.SCHEDULED)
    seen_at = later(1)

    outcomes = run_at_once(
        lambda _: payout_apply_status(
            payout=Payout.objects.get(pk=payout.pk), status="processing", seen_at=seen_at
        ),
        [1, 2],
    )

    assert sorted(outcomes) == [False, True]
    assert timeline(payout) == [
        ("", "scheduled", "acquirer"),
        ("scheduled", "processing", "acquirer"),
    ]


# -- Overdue, reason codes, database invariants -------------------------------------------------


@pytest.mark.django_db
def test_overdue_is_unpaid_past_expected_arrival_plus_the_grace(settings):
    settings.PAYOUT_LATE_AFTER = timedelta(hours=24)
    now = timezone.now()
    threshold = now - timedelta(hours=24)
    late = PayoutFactory(expected_at=threshold - timedelta(seconds=1))
    held_late = PayoutFactory(expected_at=threshold - timedelta(days=3), status="held")
    PayoutFactory(expected_at=threshold - timedelta(days=3), status="paid")
    PayoutFactory(expected_at=threshold + timedelta(minutes=1))
    PayoutFactory(expected_at=threshold)

    overdue = set(Payout.objects.overdue(now=now))

    assert overdue == {late, held_late}
    assert {p for p in Payout.objects.with_lateness(now) if p.is_late} == overdue


@pytest.mark.django_db
def test_overdue_follows_the_late_after_setting(settings):
    settings.PAYOUT_LATE_AFTER = timedelta(hours=2)
    now = timezone.now()
    payout = PayoutFactory(expected_at=now - timedelta(hours=3))

    assert list(Payout.objects.overdue(now=now)) == [payout]
    assert list(Payout.objects.not_overdue(now=now)) == []


@pytest.mark.django_db
def test_unknown_reason_code_is_kept_but_its_cause_is_unknown(scheduled_payout):
    payout_apply_status(
        payout=scheduled_payout, status="held", seen_at=later(1), reason_code="NEW_CODE_X"
    )

    stored = Payout.objects.get(pk=scheduled_payout.pk)
    assert stored.reason_code == "NEW_CODE_X"
    assert (stored.known_reason_code, stored.cause) == ("UNKNOWN", "unknown")
    assert scheduled_payout.events.order_by("pk").last().reason_code == "NEW_CODE_X"


@pytest.mark.django_db
def test_database_refuses_a_payout_whose_net_is_not_gross_minus_fee_plus_adjustment(merchant):
    with pytest.raises(IntegrityError), transaction.atomic():
        PayoutFactory(
            merchant=merchant,
            gross_amount=D("1000.00"),
            fee_amount=D("6.00"),
            adjustment_amount=D("-1.00"),
            net_amount=D("994.00"),
        )

    assert Payout.objects.count() == 0


@pytest.mark.django_db
def test_database_refuses_a_transaction_whose_net_is_not_amount_minus_fee(merchant):
    with pytest.raises(IntegrityError), transaction.atomic():
        TransactionFactory(merchant=merchant, gross=D("100.00"), net=D("99.41"))

    assert Transaction.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("gross", "fee", "adjustment", "net"),
    [
        ("0.30", "0.10", "0.00", "0.20"),
        ("1.13", "0.01", "0.00", "1.12"),
        ("10248.73", "26.27", "-0.10", "10222.36"),
    ],
)
def test_database_accepts_a_payout_whose_net_is_exact_in_decimal(
    merchant, gross, fee, adjustment, net
):
    payout = PayoutFactory(
        merchant=merchant,
        gross_amount=D(gross),
        fee_amount=D(fee),
        adjustment_amount=D(adjustment),
        net_amount=D(net),
    )

    payout.refresh_from_db()
    assert payout.net_amount == D(net)
