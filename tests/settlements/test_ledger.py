"""The fee and payout arithmetic of ``settlements.ledger``: exact amounts worked out by hand for
every channel and rule, then properties over random schedules and amounts.

Schedules here are unsaved ``FeeSchedule`` instances: the ledger is pure and never touches the
database. The standard schedule (tests.factories) is debit 0.50% capped at ¥25, credit 0.60%,
QR channels 0.38%.
"""

from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from settlements import calendar, ledger
from tests.factories import FeeScheduleFactory

D = Decimal
QR_CHANNELS = ["unionpay_qr", "wechat_pay", "alipay"]
CHANNELS = ["debit_card", "credit_card", *QR_CHANNELS]


def standard(**overrides):
    return FeeScheduleFactory.build(**overrides)


def d0_schedule(**overrides):
    values = {
        "settlement_cycle": "d0",
        "d0_surcharge_rate": D("0.0010"),
        "d0_daily_limit": D("50000.00"),
        "d0_window_start": time(0, 0),
        "d0_window_end": time(22, 0),
    }
    values.update(overrides)
    return FeeScheduleFactory.build(**values)


# -- Sales: exact fees, rounded half-up at the half fen ------------------------------------------


@pytest.mark.parametrize(
    ("channel", "amount", "exact", "fee"),
    [
        # debit 0.50%: any odd whole yuan lands exactly on a half fen
        ("debit_card", "1.00", "0.005", "0.01"),
        ("debit_card", "9.00", "0.045", "0.05"),
        ("debit_card", "0.99", "0.00495", "0.00"),
        ("debit_card", "100.00", "0.5", "0.50"),
        # credit 0.60%: 7.50 and 17.50 land on .xx5 after an even digit
        ("credit_card", "7.50", "0.045", "0.05"),
        ("credit_card", "17.50", "0.105", "0.11"),
        ("credit_card", "0.75", "0.0045", "0.00"),
        ("credit_card", "2.25", "0.0135", "0.01"),
        ("credit_card", "10.75", "0.0645", "0.06"),
        ("credit_card", "100.00", "0.6", "0.60"),
        # QR 0.38%: multiples of ¥25 land on a half fen
        ("unionpay_qr", "75.00", "0.285", "0.29"),
        ("unionpay_qr", "1.25", "0.00475", "0.00"),
        ("wechat_pay", "175.00", "0.665", "0.67"),
        ("wechat_pay", "1.32", "0.005016", "0.01"),
        ("alipay", "75.00", "0.285", "0.29"),
        ("alipay", "131.57", "0.499966", "0.50"),
    ],
)
def test_sale_fee_is_the_channel_rate_rounded_half_up_to_the_fen(channel, amount, exact, fee):
    schedule = standard()
    assert D(amount) * ledger.channel_rate(schedule, channel) == D(exact)

    result = ledger.transaction_amounts(schedule, type="sale", channel=channel, amount=D(amount))

    assert (result.amount, result.fee, result.net) == (D(amount), D(fee), D(amount) - D(fee))


@pytest.mark.parametrize(
    ("channel", "amount", "half_up"),
    [
        ("debit_card", "9.00", "0.05"),
        ("credit_card", "7.50", "0.05"),
        ("credit_card", "27.50", "0.17"),
        ("unionpay_qr", "75.00", "0.29"),
        ("wechat_pay", "175.00", "0.67"),
        ("alipay", "75.00", "0.29"),
    ],
)
def test_sale_fee_rounds_half_up_where_bankers_rounding_would_round_down(channel, amount, half_up):
    schedule = standard()
    exact = D(amount) * ledger.channel_rate(schedule, channel)
    assert exact.quantize(ledger.FEN, rounding=ROUND_HALF_EVEN) == D(half_up) - ledger.FEN

    assert ledger.sale_fee(schedule, channel, D(amount)) == D(half_up)


def test_each_channel_uses_its_own_rate():
    schedule = standard(
        debit_rate=D("0.0010"),
        debit_cap=None,
        credit_rate=D("0.0020"),
        unionpay_qr_rate=D("0.0030"),
        wechat_pay_rate=D("0.0040"),
        alipay_rate=D("0.0050"),
    )

    fees = {channel: ledger.sale_fee(schedule, channel, D("1000.00")) for channel in CHANNELS}

    assert fees == {
        "debit_card": D("1.00"),
        "credit_card": D("2.00"),
        "unionpay_qr": D("3.00"),
        "wechat_pay": D("4.00"),
        "alipay": D("5.00"),
    }


def test_an_unknown_channel_is_refused():
    with pytest.raises(KeyError):
        ledger.sale_fee(standard(), "paypal", D("10.00"))


# -- Debit cap ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "fee"),
    [
        ("4998.00", "24.99"),  # 24.99 exactly: below the cap
        ("4998.99", "24.99"),  # 24.99495: rounds down, below the cap
        ("4999.00", "25.00"),  # 24.995: rounds up onto the cap
        ("5000.00", "25.00"),  # exactly the cap
        ("5000.01", "25.00"),  # 25.00005: above, capped
        ("1000000.00", "25.00"),
    ],
)
def test_debit_fee_stops_at_the_cap(amount, fee):
    assert ledger.sale_fee(standard(), "debit_card", D(amount)) == D(fee)


def test_debit_without_a_cap_pays_the_full_rate():
    schedule = standard(debit_cap=None)

    assert ledger.sale_fee(schedule, "debit_card", D("1000000.00")) == D("5000.00")


def test_a_zero_debit_cap_means_no_debit_fee():
    schedule = standard(debit_cap=D("0.00"))

    assert ledger.sale_fee(schedule, "debit_card", D("1000.00")) == D("0.00")


def test_the_cap_applies_to_debit_cards_only():
    schedule = standard(credit_rate=D("0.0050"), unionpay_qr_rate=D("0.0050"))

    assert ledger.sale_fee(schedule, "credit_card", D("10000.00")) == D("50.00")
    assert ledger.sale_fee(schedule, "unionpay_qr", D("10000.00")) == D("50.00")


# -- D0 surcharge -------------------------------------------------------------------------------


def test_d0_sale_adds_the_surcharge_on_top_of_the_capped_debit_fee():
    result = ledger.transaction_amounts(
        d0_schedule(), type="sale", channel="debit_card", amount=D("10000.00"), cycle="d0"
    )

    # 25.00 capped + 10.00 surcharge, which no cap limits
    assert (result.amount, result.fee, result.net) == (D("10000.00"), D("35.00"), D("9965.00"))


def test_d0_surcharge_is_rounded_on_its_own():
    # 7.50 × 0.60% = 0.045 → 0.05 and 7.50 × 0.10% = 0.0075 → 0.01; rounding the sum of the
    # rates instead (7.50 × 0.70% = 0.0525 → 0.05) would lose a fen.
    result = ledger.transaction_amounts(
        d0_schedule(), type="sale", channel="credit_card", amount=D("7.50"), cycle="d0"
    )

    assert result.fee == D("0.06")


def test_d0_surcharge_rounds_half_up():
    schedule = d0_schedule(d0_surcharge_rate=D("0.0005"))

    # 10.00 × 0.60% = 0.06, plus 10.00 × 0.05% = 0.005 → 0.01 (half-even would give 0.00)
    assert ledger.sale_fee(schedule, "credit_card", D("10.00"), d0=True) == D("0.07")


def test_sale_falling_back_to_t1_on_a_d0_schedule_pays_no_surcharge():
    result = ledger.transaction_amounts(
        d0_schedule(), type="sale", channel="credit_card", amount=D("1000.00"), cycle="t1"
    )

    assert result.fee == D("6.00")


def test_t1_schedule_has_no_surcharge_even_if_a_rate_is_set():
    schedule = standard(d0_surcharge_rate=D("0.0100"))

    result = ledger.transaction_amounts(
        schedule, type="sale", channel="wechat_pay", amount=D("100.00")
    )

    assert result.fee == D("0.38")


# -- Refunds, voids, reversals, declines --------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "amount", "fee"),
    [
        ("unionpay_qr", "75.00", "-0.29"),
        ("wechat_pay", "25.00", "-0.10"),  # 0.095 → 0.10
        ("alipay", "1.25", "0.00"),  # 0.00475 → 0.00
        ("alipay", "175.00", "-0.67"),
    ],
)
def test_qr_refund_returns_the_fee_on_the_refunded_amount(channel, amount, fee):
    result = ledger.transaction_amounts(
        standard(), type="refund", channel=channel, amount=D(amount)
    )

    assert (result.amount, result.fee, result.net) == (-D(amount), D(fee), -D(amount) - D(fee))


@pytest.mark.parametrize("channel", ["debit_card", "credit_card"])
def test_card_refund_returns_no_fee(channel):
    result = ledger.transaction_amounts(
        standard(), type="refund", channel=channel, amount=D("100.00")
    )

    assert (result.amount, result.fee, result.net) == (D("-100.00"), D("0.00"), D("-100.00"))


@pytest.mark.parametrize("type_", ["void", "reversal"])
def test_undo_with_the_original_fee_returns_exactly_that_fee(type_):
    # The sale paid 0.70 (say, before a rate change); the undo returns 0.70, not today's 0.60.
    result = ledger.transaction_amounts(
        standard(),
        type=type_,
        channel="credit_card",
        amount=D("-100.00"),
        original_fee=D("0.70"),
    )

    assert (result.amount, result.fee, result.net) == (D("-100.00"), D("-0.70"), D("-99.30"))


def test_undo_accepts_the_original_fee_signed_either_way():
    result = ledger.transaction_amounts(
        standard(), type="void", channel="credit_card", amount=D("100.00"), original_fee=D("-0.70")
    )

    assert result.fee == D("-0.70")


@pytest.mark.parametrize(
    ("type_", "channel", "amount", "fee"),
    [
        ("void", "credit_card", "7.50", "-0.05"),
        ("reversal", "debit_card", "10000.00", "-25.00"),
        ("void", "alipay", "75.00", "-0.29"),
    ],
)
def test_undo_without_the_original_fee_returns_the_sale_equivalent_fee(type_, channel, amount, fee):
    result = ledger.transaction_amounts(standard(), type=type_, channel=channel, amount=D(amount))

    assert (result.amount, result.fee) == (-D(amount), D(fee))


def test_d0_void_without_the_original_fee_returns_the_surcharge_too():
    result = ledger.transaction_amounts(
        d0_schedule(), type="void", channel="debit_card", amount=D("10000.00"), cycle="d0"
    )

    assert result.fee == D("-35.00")


@pytest.mark.parametrize("type_", ["sale", "refund", "void", "reversal"])
@pytest.mark.parametrize("channel", CHANNELS)
def test_declined_transaction_pays_and_returns_no_fee(type_, channel):
    result = ledger.transaction_amounts(
        d0_schedule(),
        type=type_,
        channel=channel,
        amount=D("100.00"),
        approved=False,
        cycle="d0",
        original_fee=D("0.60"),
    )

    assert result.fee == D("0.00")
    assert result.net == result.amount


@pytest.mark.parametrize(
    ("type_", "given", "signed"),
    [
        ("sale", "100.00", "100.00"),
        ("sale", "-100.00", "100.00"),
        ("refund", "100.00", "-100.00"),
        ("refund", "-100.00", "-100.00"),
        ("void", "100.00", "-100.00"),
        ("reversal", "-100.00", "-100.00"),
    ],
)
def test_amount_is_signed_from_the_merchants_side_whatever_sign_it_came_with(type_, given, signed):
    result = ledger.transaction_amounts(
        standard(), type=type_, channel="wechat_pay", amount=D(given)
    )

    assert result.amount == D(signed)
    assert (result.fee > 0) == (result.amount > 0)


def test_an_unknown_transaction_type_is_refused():
    with pytest.raises(ValueError, match="capture"):
        ledger.transaction_amounts(
            standard(), type="capture", channel="credit_card", amount=D("1.00")
        )


# -- Payout totals ------------------------------------------------------------------------------


def test_payout_totals_sum_amounts_and_fees_and_add_the_adjustment():
    rows = [
        (D("100.00"), D("0.60")),
        (D("10000.00"), D("25.00")),
        (D("-25.00"), D("-0.10")),
        (D("-100.00"), D("0.00")),
    ]

    totals = ledger.payout_totals(rows, D("-3.50"))

    assert (totals.gross, totals.fee, totals.adjustment, totals.count) == (
        D("9975.00"),
        D("25.50"),
        D("-3.50"),
        4,
    )
    assert totals.net == D("9946.00")


def test_payout_totals_of_nothing_are_zero():
    totals = ledger.payout_totals([])

    assert (totals.gross, totals.fee, totals.adjustment, totals.net, totals.count) == (
        D("0.00"),
        D("0.00"),
        D("0.00"),
        D("0.00"),
        0,
    )


def test_payout_totals_accept_a_generator_once():
    totals = ledger.payout_totals((D("10.00"), D("0.06")) for _ in range(3))

    assert (totals.gross, totals.fee, totals.net, totals.count) == (
        D("30.00"),
        D("0.18"),
        D("29.82"),
        3,
    )


# -- Properties ---------------------------------------------------------------------------------

rates = st.decimals(min_value=0, max_value=D("0.05"), places=4)
caps = st.none() | st.decimals(min_value=0, max_value=100, places=2)
amounts = st.decimals(min_value=D("0.01"), max_value=D("10000000"), places=2)
channels = st.sampled_from(CHANNELS)


@st.composite
def schedules(draw):
    return FeeScheduleFactory.build(
        debit_rate=draw(rates),
        debit_cap=draw(caps),
        credit_rate=draw(rates),
        unionpay_qr_rate=draw(rates),
        wechat_pay_rate=draw(rates),
        alipay_rate=draw(rates),
        settlement_cycle="d0",
        d0_surcharge_rate=draw(rates),
    )


def half_up_fen(amount: Decimal, rate: Decimal) -> Decimal:
    """amount × rate rounded half-up to the fen in integer arithmetic: an oracle that shares
    no code with the ledger (fen × rate in ten-thousandths, halves rounded away from zero)."""
    fen = int(amount * 100)
    ten_thousandths = int(rate * 10000)
    return D((fen * ten_thousandths * 2 + 10000) // 20000) / 100


@settings(max_examples=300, deadline=None)
@given(schedule=schedules(), channel=channels, amount=amounts, d0=st.booleans())
def test_property_sale_fee_is_fen_exact_bounded_and_half_up(schedule, channel, amount, d0):
    fee = ledger.sale_fee(schedule, channel, amount, d0=d0)
    rate = ledger.channel_rate(schedule, channel)
    surcharge = half_up_fen(amount, schedule.d0_surcharge_rate) if d0 else D("0")

    assert fee == fee.quantize(ledger.FEN)
    assert fee.as_tuple().exponent == -2
    assert (
        D("0")
        <= fee
        <= amount * rate
        + D("0.005")
        + (amount * schedule.d0_surcharge_rate + D("0.005") if d0 else D("0"))
    )
    base = half_up_fen(amount, rate)
    if channel == "debit_card" and schedule.debit_cap is not None:
        base = min(base, schedule.debit_cap)
    assert fee == base + surcharge


@settings(max_examples=300, deadline=None)
@given(schedule=schedules(), amount=amounts)
def test_property_t1_debit_fee_never_exceeds_the_cap(schedule, amount):
    fee = ledger.sale_fee(schedule, "debit_card", amount)

    if schedule.debit_cap is not None:
        assert fee <= schedule.debit_cap
        assert fee == min(half_up_fen(amount, schedule.debit_rate), schedule.debit_cap)


@settings(max_examples=300, deadline=None)
@given(
    schedule=schedules(),
    channel=channels,
    amount=amounts,
    cycle=st.sampled_from(["t1", "d0"]),
    undo=st.sampled_from(["void", "reversal"]),
    with_original_fee=st.booleans(),
)
def test_property_undoing_a_sale_nets_exactly_zero(
    schedule, channel, amount, cycle, undo, with_original_fee
):
    sale = ledger.transaction_amounts(
        schedule, type="sale", channel=channel, amount=amount, cycle=cycle
    )
    undone = ledger.transaction_amounts(
        schedule,
        type=undo,
        channel=channel,
        amount=-amount,
        cycle=cycle,
        original_fee=sale.fee if with_original_fee else None,
    )

    assert sale.amount + undone.amount == 0
    assert sale.fee + undone.fee == 0
    assert sale.net + undone.net == 0


@settings(max_examples=300, deadline=None)
@given(schedule=schedules(), channel=channels, amount=amounts)
def test_property_refund_never_returns_more_fee_than_the_sale_paid(schedule, channel, amount):
    sale = ledger.transaction_amounts(schedule, type="sale", channel=channel, amount=amount)
    refund = ledger.transaction_amounts(schedule, type="refund", channel=channel, amount=amount)

    assert refund.amount == -sale.amount
    if channel in ("debit_card", "credit_card"):
        assert refund.fee == 0
    else:
        assert refund.fee == -sale.fee


@st.composite
def transactions(draw):
    kind = draw(st.sampled_from(["sale", "refund", "void", "reversal"]))
    return {
        "type": kind,
        "channel": draw(channels),
        "amount": draw(amounts),
        "cycle": draw(st.sampled_from(["t1", "d0"])),
        "approved": draw(st.booleans()),
        "original_fee": draw(st.none() | st.decimals(min_value=0, max_value=100, places=2))
        if kind in ("void", "reversal")
        else None,
    }


@settings(max_examples=200, deadline=None)
@given(
    schedule=schedules(),
    batch=st.lists(transactions(), max_size=60),
    adjustment=st.decimals(min_value=-1000, max_value=1000, places=2),
)
def test_property_payout_net_is_the_sum_of_transaction_nets(schedule, batch, adjustment):
    results = [ledger.transaction_amounts(schedule, **row) for row in batch]

    totals = ledger.payout_totals([(r.amount, r.fee) for r in results], adjustment)

    assert totals.count == len(batch)
    assert totals.gross == sum((r.amount for r in results), D("0.00"))
    assert totals.fee == sum((r.fee for r in results), D("0.00"))
    assert totals.net == sum((r.net for r in results), D("0.00")) + adjustment
    assert totals.net == totals.net.quantize(ledger.FEN)


# Across year ends and holidays: a D0 sale carries the surcharge exactly when it settles D0,
# whatever the day, and a T+1 sale settles on a later business day without it.
HOLIDAYS = frozenset(
    [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)]
    + [date(2026, 10, d) for d in range(1, 8)]
    + [date(2026, 12, 31)]  # made up: a year end that is a holiday
)
WORKDAYS = frozenset([date(2026, 1, 4), date(2026, 9, 20), date(2026, 10, 10)])
TEST_CALENDAR = calendar.BusinessCalendar(HOLIDAYS, WORKDAYS, frozenset([2025, 2026, 2027]))
BEIJING = timedelta(hours=8)


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(2025, 12, 20), max_value=datetime(2027, 1, 10)),
    amount=amounts,
    channel=channels,
    used=st.decimals(min_value=0, max_value=60000, places=2),
)
def test_property_d0_surcharge_follows_the_settlement_cycle_across_year_ends_and_holidays(
    moment, amount, channel, used
):
    schedule = d0_schedule(d0_window_start=time(8, 0), d0_window_end=time(22, 0))
    occurred_at = (moment - BEIJING).replace(tzinfo=UTC)  # moment is Beijing wall time

    cycle, settles_on = calendar.settlement_for(
        schedule, occurred_at, amount=amount, d0_used=used, calendar=TEST_CALENDAR
    )
    result = ledger.transaction_amounts(
        schedule, type="sale", channel=channel, amount=amount, cycle=cycle
    )

    without_surcharge = ledger.sale_fee(schedule, channel, amount)
    in_window = time(8, 0) <= moment.time() < time(22, 0)
    assert cycle == ("d0" if in_window and used + amount <= D("50000.00") else "t1")
    if cycle == "d0":
        assert settles_on == moment.date()
        assert result.fee == without_surcharge + half_up_fen(amount, D("0.0010"))
    else:
        assert settles_on > moment.date()
        assert TEST_CALENDAR.is_business_day(settles_on)
        assert result.fee == without_surcharge
