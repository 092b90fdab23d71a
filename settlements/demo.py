"""Demo traffic for `manage.py seed_demo`: ninety days of a convenience store's card and QR
payments on three terminals — refunds, voids, reversals, declines and a few fees the acquirer
charged differently — and the payouts that carried them, in every status, some of them late.

The ledger's own rules make every number: payouts are assembled and moved by
``payout_assemble`` and ``payout_apply_status``; the newest transactions, and all of them when
a run adds no more than a few hundred, are recorded by ``transaction_record``. Ninety days at
once are written in bulk, each field computed as ``transaction_record`` computes it (a test
holds the two to the same rows), because one by one they would take ``seed_demo`` far past its
time budget.

Running it again later fills in what happened since the last run. Each day's traffic is drawn
from a generator seeded with the seed and that date alone, so a day comes out the same
whichever run records it; payouts on the normal path move on as their age says, while a
payout in trouble (held, returned, failed, delayed) is left as it is, to be worked in the demo.
"""

import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from portal.models import Merchant
from settlements import acquirer_data, calendar, ledger, services
from settlements.models import (
    CalendarDay,
    Channel,
    Payout,
    PayoutEvent,
    Transaction,
    late_since,
)

# The counter POS (cards, and QR codes it scans), the smart POS (everything) and the QR stand
# the customer scans (QR only).
DEFAULT_TIDS = ("10000001", "10000002", "10000003")

DEBIT = Channel.DEBIT_CARD.value
CREDIT = Channel.CREDIT_CARD.value
UNIONPAY_QR = Channel.UNIONPAY_QR.value
WECHAT = Channel.WECHAT_PAY.value
ALIPAY = Channel.ALIPAY.value
CARDS = (DEBIT, CREDIT)
# A void (撤销) exists on UnionPay's rails; WeChat Pay and Alipay undo a payment by refunding.
UNIONPAY_RAILS = (DEBIT, CREDIT, UNIONPAY_QR)

CHANNELS = (WECHAT, ALIPAY, UNIONPAY_QR, DEBIT, CREDIT)
CHANNEL_WEIGHTS = (44, 31, 7, 11, 7)
# Which of the three terminals takes a payment, by kind of payment.
TERMINAL_WEIGHTS = {"card": (60, 40, 0), "qr": (20, 35, 45)}

# A neighbourhood store open round the clock: breakfast, lunch and a long evening peak; next
# to nothing between one and seven in the morning.
MORNING_WEIGHTS = (1.2, 0.3, 0.2, 0.1, 0.1, 0.2, 0.4, 2.0, 3.2, 2.2, 1.6, 2.2)  # 00:00–11:59
EVENING_WEIGHTS = (3.0, 2.4, 1.6, 1.6, 2.2, 3.2, 4.2, 4.6, 4.2, 3.6, 2.6, 1.6)  # 12:00–23:59
HOUR_WEIGHTS = (*MORNING_WEIGHTS, *EVENING_WEIGHTS)
WORKDAY_SALES = 28
DAY_OFF_SALES = 40
# Residents leave town for the long holidays; a short one barely shows.
HOLIDAY_FACTOR = {"Spring Festival": 0.4, "National Day": 0.5}
OTHER_HOLIDAY_FACTOR = 0.8

DECLINE_RATE = {"card": 0.015, "qr": 0.008}
REFUND_RATE = 0.02
VOID_RATE = 0.004
REVERSAL_RATE = 0.003
LARGE_DEBIT_RATE = 0.025
# A refund is taken on the counter's cash float: big sales are not refunded in the store.
REFUNDABLE_UP_TO = Decimal("800.00")
SMALLEST_PARTIAL_REFUND = Decimal("1.00")
# One sale on every 23rd day carries a fee the acquirer computed differently (about four in
# ninety days), so the dashboard's fee-mismatch marker has something to mark.
FEE_MISMATCH_EVERY = 23
FEE_MISMATCH_DELTAS = (Decimal("0.01"), Decimal("-0.01"), Decimal("0.02"))

DEBIT_BINS = (
    ("622202", 19),
    ("621700", 19),
    ("622848", 19),
    ("621226", 19),
    ("621483", 16),
    ("623052", 19),
    ("621661", 19),
    ("622262", 19),
)
CREDIT_BINS = (
    ("622575", 16),
    ("625802", 16),
    ("436742", 16),
    ("524047", 16),
    ("628288", 16),
    ("625965", 16),
)
REGULAR_CARDS = 150

ID_LETTERS = {"sale": "S", "refund": "R", "reversal": "C", "void": "V"}
# Days since each terminal's first batch: batch numbers go up by one a day per terminal.
BATCH_EPOCHS = (date(2025, 6, 1), date(2026, 3, 15), date(2026, 7, 1))

# The newest transactions stay out of every payout: the acquirer has not cut them off yet.
UNASSEMBLED_FOR = timedelta(hours=1)
UNASSEMBLED_AT_LEAST = 3
# A run finds traffic this recent and does nothing: `make run` twice in a row adds nothing.
FRESH_FOR = timedelta(hours=24)


# -- Transactions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedTransaction:
    occurred_at: datetime
    payload: dict

    @property
    def approved(self) -> bool:
        return self.payload["status"] == Transaction.Status.APPROVED


@dataclass(frozen=True)
class Card:
    masked: str
    channel: str


def regular_cards(seed: int) -> dict[str, list[Card]]:
    """The store's regular customers' cards: the same few cards come back again and again."""
    rng = random.Random(f"{seed}:cards")  # noqa: S311 - demo data, not secrets
    cards: dict[str, list[Card]] = {DEBIT: [], CREDIT: []}
    for channel, bins in ((DEBIT, DEBIT_BINS), (CREDIT, CREDIT_BINS)):
        for _ in range(REGULAR_CARDS):
            bin_, length = rng.choice(bins)
            stars = "*" * (length - 10)
            cards[channel].append(Card(f"{bin_}{stars}{rng.randrange(10_000):04d}", channel))
    return cards


def day_size(day: date, *, business_day: bool, holiday: str | None, rng: random.Random) -> int:
    base = DAY_OFF_SALES if not business_day else WORKDAY_SALES
    factor = 1.0
    if holiday is not None:
        factor = HOLIDAY_FACTOR.get(holiday, OTHER_HOLIDAY_FACTOR)
    return max(8, round(base * factor * rng.uniform(0.8, 1.2)))


def local_moment(day: date, seconds: int) -> datetime:
    return timezone.make_aware(datetime.combine(day, time()) + timedelta(seconds=seconds))


def money(value: float) -> Decimal:
    return ledger.to_fen(Decimal(str(round(value, 1))))


def sale_amount(channel: str, rng: random.Random) -> Decimal:
    if channel == DEBIT and rng.random() < LARGE_DEBIT_RATE:
        # A carton of cigarettes and a case of baijiu for a banquet: past the debit cap.
        return Decimal(rng.randrange(42, 99) * 100)
    if channel == DEBIT:
        return money(min(max(math.exp(rng.gauss(math.log(150), 0.9)), 20), 3000))
    if channel == CREDIT:
        return money(min(max(math.exp(rng.gauss(math.log(220), 0.85)), 20), 3000))
    return money(min(max(math.exp(rng.gauss(math.log(18), 0.8)), 3), 380))


@dataclass
class DayTraffic:
    """One day's transactions as the acquirer reports them, with their follow-ups."""

    day: date
    mid: str
    schedule: object
    tids: Sequence[str]
    rng: random.Random
    serials: itertools.count = field(default_factory=itertools.count)
    out: list[PlannedTransaction] = field(default_factory=list)

    def __post_init__(self):
        self.rrn_salt = self.rng.randrange(1_000_000)
        self.d0_used = ledger.ZERO

    def references(self) -> tuple[str, str, str]:
        """(id suffix, RRN, voucher number), unique for the day."""
        n = next(self.serials)
        rrn = f"{self.day:%y%m%d}{(n * 7919 + self.rrn_salt) % 1_000_000:06d}"
        trace = f"{(self.day.toordinal() % 5000) * 200 + n % 200:06d}"
        return f"{n:04d}", rrn, trace

    def batch_no(self, tid: str, day: date) -> str:
        epoch = BATCH_EPOCHS[self.tids.index(tid) % len(BATCH_EPOCHS)]
        return f"{(day - epoch).days % 999_999 + 1:06d}"

    def add(self, *, moment, tid, type, channel, amount, fee, card, status, original_id=""):
        suffix, rrn, trace = self.references()
        payload = {
            "id": f"T{self.day:%Y%m%d}{self.mid}{suffix}{ID_LETTERS[type]}",
            "merchant_id": self.mid,
            "terminal_id": tid,
            "type": type,
            "original_id": original_id or None,
            "channel": channel,
            "amount": f"{amount:.2f}",
            "fee": f"{abs(fee):.2f}",
            "card_masked": card.masked if card else None,
            "rrn": rrn,
            "trace_no": trace,
            "batch_no": self.batch_no(tid, calendar.local(moment).date()),
            "auth_code": f"{self.rng.randrange(1_000_000):06d}" if card else None,
            "status": status,
            "occurred_at": calendar.local(moment).isoformat(),
            "payout_id": None,
        }
        self.out.append(PlannedTransaction(moment, payload))
        return payload

    def sale(self, moment: datetime, *, cards: dict, mismatch: Decimal | None) -> bool:
        """A sale at ``moment``, perhaps declined, refunded, voided or reversed; returns whether
        the acquirer's fee on it is off by ``mismatch``."""
        rng = self.rng
        channel = rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
        kind = "card" if channel in CARDS else "qr"
        tid = rng.choices(self.tids, TERMINAL_WEIGHTS[kind])[0]
        amount = sale_amount(channel, rng)
        card = None
        if channel in CARDS:
            pool = cards[channel]
            card = pool[int(len(pool) * rng.random() ** 2)]
        approved = rng.random() >= DECLINE_RATE[kind]
        # The acquirer's own view of the D0 limit, sales only: where the portal's rule counts
        # differently (refunds free part of the limit), the fees disagree, as they would.
        cycle = "t1"
        if approved and calendar.d0_applies(
            self.schedule, moment, amount=amount, d0_used=self.d0_used
        ):
            cycle = "d0"
            self.d0_used += amount
        amounts = ledger.transaction_amounts(
            self.schedule,
            type=Transaction.Type.SALE,
            channel=channel,
            amount=amount,
            approved=approved,
            cycle=cycle,
        )
        acquirer_fee = amounts.fee
        if approved and mismatch is not None and acquirer_fee + mismatch > 0:
            acquirer_fee += mismatch
        sale = self.add(
            moment=moment,
            tid=tid,
            type=Transaction.Type.SALE,
            channel=channel,
            amount=amount,
            fee=acquirer_fee,
            card=card,
            status=Transaction.Status.APPROVED if approved else Transaction.Status.DECLINED,
        )
        if not approved or acquirer_fee != amounts.fee:
            return acquirer_fee != amounts.fee
        draw = rng.random()
        local = calendar.local(moment)
        same_day_left = (
            datetime.combine(local.date(), time(22, 30)) - local.replace(tzinfo=None)
        ).total_seconds()
        if draw < REVERSAL_RATE and channel in CARDS and same_day_left > 600:
            # 冲正: the terminal never heard back and cancelled the sale itself.
            later = moment + timedelta(seconds=rng.randrange(20, 90))
            self.undo(sale, Transaction.Type.REVERSAL, later, amount, amounts.fee, card)
        elif (
            draw < REVERSAL_RATE + VOID_RATE and channel in UNIONPAY_RAILS and same_day_left > 3600
        ):
            # 撤销: the cashier cancels a sale the same day, before the batch closes.
            later = moment + timedelta(seconds=rng.randrange(120, 3000))
            self.undo(sale, Transaction.Type.VOID, later, amount, amounts.fee, card)
        elif draw < REVERSAL_RATE + VOID_RATE + REFUND_RATE and amount <= REFUNDABLE_UP_TO:
            self.refund(sale, moment, amount, card)
        return False

    def undo(self, sale, type, moment, amount, original_fee, card) -> None:
        amounts = ledger.transaction_amounts(
            self.schedule,
            type=type,
            channel=sale["channel"],
            amount=-amount,
            original_fee=original_fee,
        )
        self.add(
            moment=moment,
            tid=sale["terminal_id"],
            type=type,
            channel=sale["channel"],
            amount=amounts.amount,
            fee=amounts.fee,
            card=card,
            status=Transaction.Status.APPROVED,
            original_id=sale["id"],
        )

    def refund(self, sale, moment, amount, card) -> None:
        rng = self.rng
        after_days = rng.choice((0, 0, 0, 1, 1, 2, 3, 5, 7))
        local = calendar.local(moment)
        if after_days == 0 and local.hour < 20:
            start = local.hour * 3600 + local.minute * 60 + 1800
            when = local_moment(local.date(), rng.randrange(start, 22 * 3600))
        else:
            when = local_moment(
                local.date() + timedelta(days=max(after_days, 1)),
                rng.randrange(9 * 3600, 21 * 3600),
            )
        refunded = amount
        if rng.random() < 0.4 and amount >= Decimal("2.00"):
            refunded = max(
                ledger.to_fen(amount * Decimal(rng.randrange(20, 80)) / 100),
                SMALLEST_PARTIAL_REFUND,
            )
        amounts = ledger.transaction_amounts(
            self.schedule, type=Transaction.Type.REFUND, channel=sale["channel"], amount=-refunded
        )
        self.add(
            moment=when,
            tid=sale["terminal_id"],
            type=Transaction.Type.REFUND,
            channel=sale["channel"],
            amount=amounts.amount,
            fee=amounts.fee,
            card=card,
            status=Transaction.Status.APPROVED,
            original_id=sale["id"],
        )


def day_traffic(
    day: date,
    *,
    mid: str,
    schedule,
    tids: Sequence[str],
    seed: int,
    cards: dict,
    business_day: bool,
    holiday: str | None,
) -> list[PlannedTransaction]:
    """Everything that happens on ``day`` and what follows from it (refunds come days later),
    the same for the same seed and day whenever it is computed."""
    rng = random.Random(f"{seed}:{day.isoformat()}")  # noqa: S311 - demo data, not secrets
    traffic = DayTraffic(day=day, mid=mid, schedule=schedule, tids=tids, rng=rng)
    size = day_size(day, business_day=business_day, holiday=holiday, rng=rng)
    moments = sorted(
        local_moment(day, rng.choices(range(24), HOUR_WEIGHTS)[0] * 3600 + rng.randrange(3600))
        for _ in range(size)
    )
    mismatch = None
    if day.toordinal() % FEE_MISMATCH_EVERY == 0:
        mismatch = FEE_MISMATCH_DELTAS[day.toordinal() // FEE_MISMATCH_EVERY % 3]
    for moment in moments:
        if traffic.sale(moment, cards=cards, mismatch=mismatch):
            mismatch = None
    return traffic.out


def demo_traffic(
    *, mid: str, schedule, days: Sequence[date], tids: Sequence[str], seed: int
) -> list[PlannedTransaction]:
    """The transactions of ``days`` and their follow-ups, in the order they happened."""
    business = calendar.business_calendar()
    holidays = dict(
        CalendarDay.objects.filter(
            kind=CalendarDay.Kind.HOLIDAY, date__range=(min(days), max(days))
        ).values_list("date", "name_en")
    )
    cards = regular_cards(seed)
    planned: list[PlannedTransaction] = []
    for day in days:
        planned += day_traffic(
            day,
            mid=mid,
            schedule=schedule,
            tids=tids,
            seed=seed,
            cards=cards,
            business_day=business.is_business_day(day),
            holiday=holidays.get(day),
        )
    planned.sort(key=lambda item: (item.occurred_at, item.payload["id"]))
    return planned


def record_transactions(*, planned: Sequence[PlannedTransaction]) -> int:
    """Record ``planned`` as the acquirer integration does, through
    ``services.transactions_record``; returns how many were new."""
    outcomes = services.transactions_record(
        items=[acquirer_data.parse_transaction(item.payload) for item in planned]
    )
    return sum(created for _row, created in outcomes)


def unassembled_from(planned: Sequence[PlannedTransaction], now: datetime) -> int:
    """Where the newest transactions start: those the acquirer has not put in a payout yet —
    the last hour's, and at least the last few approved ones."""
    approved = [index for index, item in enumerate(planned) if item.approved]
    recent = [index for index in approved if planned[index].occurred_at > now - UNASSEMBLED_FOR]
    chosen = recent if len(recent) >= UNASSEMBLED_AT_LEAST else approved[-UNASSEMBLED_AT_LEAST:]
    if not chosen or len(chosen) == len(approved):
        return len(planned)
    return chosen[0]


# -- Payouts ------------------------------------------------------------------------------------


def assemble_payouts(*, merchant: Merchant, now: datetime, seed: int) -> list[Payout]:
    """A payout for every settlement date with approved transactions no payout carries, made
    just after the cut-off of the last trade day it covers (or a moment ago, for one still
    open)."""
    pending = (
        Transaction.objects.not_in_payout()
        .filter(merchant=merchant)
        .values("settlement_date", "settlement_cycle")
        .annotate(last=Max("occurred_at"))
        .order_by("settlement_date", "settlement_cycle")
    )
    payouts = []
    for group in pending:
        day, cycle = group["settlement_date"], group["settlement_cycle"]
        rng = random.Random(f"{seed}:assemble:{day}:{cycle}")  # noqa: S311 - demo data
        cut_off = calendar.at_local_time(
            calendar.trade_date(group["last"]), settings.SETTLEMENT_CUTOFF
        ) + timedelta(minutes=rng.randrange(3, 25))
        payout = services.payout_assemble(
            merchant=merchant,
            settlement_date=day,
            cycle=cycle,
            now=min(cut_off, now - timedelta(minutes=2)),
        )
        if payout is not None:
            payouts.append(payout)
    return payouts


@dataclass(frozen=True)
class Step:
    status: str
    at: datetime
    reason_code: str = ""
    reason: str = ""
    bank_reference: str = ""
    paid_at: datetime | None = None


PROCESSING_DELAYED = "银行系统处理延迟，资金预计延后到账"
HELD_FOR_REVIEW = "交易风险核查中，资金暂缓结算"
ACCOUNT_NAME_MISMATCH = "收款账户户名与开户名不一致，银行退票"
CHANNEL_DOWN = "清算通道故障，等待重新发起"
INVALID_ACCOUNT = "收款账号有误，银行退票"
RESENT = "商户已更正收款账户，重新发起付款"


def paid_steps(payout: Payout, rng: random.Random, *, start: datetime) -> list[Step]:
    """Sent to the bank in the morning, in the account shortly after the expected time."""
    sent = start + timedelta(minutes=rng.randrange(-100, -40))
    paid_at = start + timedelta(minutes=rng.randrange(3, 55))
    reference = f"B{calendar.local(paid_at):%Y%m%d}{rng.randrange(100_000):05d}"
    return [
        Step(Payout.Status.PROCESSING, sent),
        Step(
            Payout.Status.PAID,
            paid_at + timedelta(minutes=rng.randrange(2, 15)),
            bank_reference=reference,
            paid_at=paid_at,
        ),
    ]


def delayed_steps(payout, rng, business) -> list[Step]:
    return [
        Step(
            Payout.Status.PROCESSING,
            payout.expected_at - timedelta(minutes=rng.randrange(30, 60)),
            Payout.ReasonCode.BANK_PROCESSING_DELAY,
            PROCESSING_DELAYED,
        )
    ]


def held_steps(payout, rng, business) -> list[Step]:
    return [
        Step(
            Payout.Status.HELD,
            payout.expected_at - timedelta(minutes=rng.randrange(80, 140)),
            Payout.ReasonCode.RISK_REVIEW,
            HELD_FOR_REVIEW,
        )
    ]


def returned_steps(payout, rng, business) -> list[Step]:
    sent = paid_steps(payout, rng, start=payout.expected_at)[0]
    return [
        sent,
        Step(
            Payout.Status.RETURNED,
            payout.expected_at + timedelta(minutes=rng.randrange(150, 240)),
            Payout.ReasonCode.ACCOUNT_NAME_MISMATCH,
            ACCOUNT_NAME_MISMATCH,
        ),
    ]


def failed_steps(payout, rng, business) -> list[Step]:
    return [
        Step(
            Payout.Status.FAILED,
            payout.expected_at - timedelta(minutes=rng.randrange(40, 70)),
            Payout.ReasonCode.CHANNEL_UNAVAILABLE,
            CHANNEL_DOWN,
        )
    ]


def recovered_steps(payout, rng, business) -> list[Step]:
    """Bounced, the merchant corrected the account, re-sent the next business day and paid."""
    sent = paid_steps(payout, rng, start=payout.expected_at)[0]
    bounced = payout.expected_at + timedelta(minutes=rng.randrange(120, 200))
    resend_day = business.next_business_day(calendar.local(payout.expected_at).date())
    resent = calendar.at_local_time(resend_day, time(9, rng.randrange(0, 40)))
    return [
        sent,
        Step(
            Payout.Status.RETURNED,
            bounced,
            Payout.ReasonCode.INVALID_ACCOUNT_NUMBER,
            INVALID_ACCOUNT,
        ),
        Step(Payout.Status.SCHEDULED, resent, reason=RESENT),
        *paid_steps(payout, rng, start=resent + timedelta(hours=3)),
    ]


@dataclass(frozen=True)
class Trouble:
    """A kind of trouble the demo always shows on one payout, unless one already shows it."""

    name: str
    steps: Callable[[Payout, random.Random, calendar.BusinessCalendar], list[Step]]
    preferred_age: int  # among payouts old enough to be late, 0 the newest

    def shown(self, merchant: Merchant) -> bool:
        payouts = Payout.objects.filter(merchant=merchant)
        if self.name == "delayed":
            return payouts.filter(
                status=Payout.Status.PROCESSING,
                reason_code=Payout.ReasonCode.BANK_PROCESSING_DELAY,
            ).exists()
        if self.name == "recovered":
            return PayoutEvent.objects.filter(
                payout__merchant=merchant,
                from_status=Payout.Status.RETURNED,
                to_status=Payout.Status.SCHEDULED,
            ).exists()
        return payouts.filter(status=self.name).exists()


TROUBLES = (
    Trouble("delayed", delayed_steps, 0),
    Trouble(Payout.Status.HELD, held_steps, 1),
    Trouble(Payout.Status.RETURNED, returned_steps, 2),
    Trouble(Payout.Status.FAILED, failed_steps, 4),
    Trouble("recovered", recovered_steps, 12),
)


def payout_rng(seed: int, payout: Payout) -> random.Random:
    return random.Random(f"{seed}:payout:{payout.acquirer_id}")  # noqa: S311 - demo data


def apply_steps(payout: Payout, steps: Sequence[Step], *, now: datetime) -> None:
    """Report ``steps`` to the payout in order, each strictly after the one before and never
    after ``now``; a step to the status the payout already has is skipped."""
    last = payout.acquirer_updated_at
    for step in steps:
        if step.status == payout.status and not step.reason_code:
            continue
        seen_at = max(step.at, last + timedelta(minutes=1)) if last else step.at
        if seen_at > now:
            return
        services.payout_apply_status(
            payout=payout,
            status=step.status,
            seen_at=seen_at,
            reason_code=step.reason_code,
            reason=step.reason,
            bank_reference=step.bank_reference,
            paid_at=min(max(step.paid_at, last), seen_at) if step.paid_at and last else None,
        )
        last = seen_at


def advance_payouts(*, merchant: Merchant, now: datetime, seed: int) -> None:
    """Move every payout still on the normal path (scheduled, or processing without a reason)
    as far as its age says: scheduled until its expected arrival, processing on the day, paid
    after — except a few old enough to be late, which get the trouble the demo shows."""
    business = calendar.business_calendar()
    late = late_since(now)
    on_path = list(
        Payout.objects.filter(merchant=merchant, expected_at__lte=now)
        .filter(status__in=[Payout.Status.SCHEDULED, Payout.Status.PROCESSING], reason_code="")
        .order_by("-expected_at", "-pk")
    )
    # Troubles go to payouts no run has touched yet, a margin past late so they stay late.
    candidates = [
        payout
        for payout in on_path
        if payout.status == Payout.Status.SCHEDULED
        and payout.expected_at < late - timedelta(hours=1)
    ]
    troubles: dict[int, Trouble] = {}
    for trouble in TROUBLES:
        if trouble.shown(merchant):
            continue
        by_closeness = sorted(
            range(len(candidates)), key=lambda i, t=trouble: (abs(i - t.preferred_age), i)
        )
        for index in by_closeness:
            payout = candidates[index]
            steps = trouble.steps(payout, payout_rng(seed, payout), business)
            if payout.pk not in troubles and steps[-1].at < now:
                troubles[payout.pk] = trouble
                break
    for payout in on_path:
        rng = payout_rng(seed, payout)
        if payout.pk in troubles:
            steps = troubles[payout.pk].steps(payout, rng, business)
        elif payout.expected_at >= late:
            steps = paid_steps(payout, rng, start=payout.expected_at)[:1]
        else:
            steps = paid_steps(payout, rng, start=payout.expected_at)
        apply_steps(payout, steps, now=now)


# -- The whole demo -----------------------------------------------------------------------------


def seed_settlements(
    *,
    merchant: Merchant,
    now: datetime | None = None,
    days: int = 90,
    rng_seed: int = 2026,
    tids: Sequence[str] = DEFAULT_TIDS,
) -> dict[str, int]:
    """Record ``days`` days of demo traffic up to ``now`` for ``merchant`` (who needs a fee
    schedule) and the payouts that carry it; returns what it added and how many payouts are
    late.

    Safe to repeat: a merchant with a transaction in the last 24 hours is left alone; otherwise
    only what happened after the newest transaction is added (at most ``days`` days), and
    payouts still on the normal path move on as their age says. All of it in one database
    transaction.
    """
    if merchant.fee_schedule is None or days < 1:
        raise ValueError("demo traffic needs a merchant with a fee schedule and at least a day")
    now = now or timezone.now()
    today = calendar.local(now).date()
    window = [today - timedelta(days=back) for back in range(days - 1, -1, -1)]
    result = {"transactions": 0, "payouts": 0}
    with transaction.atomic():
        latest = merchant.transactions.aggregate(latest=Max("occurred_at"))["latest"]
        if latest is None or latest <= now - FRESH_FOR:
            start = local_moment(window[0], 0)
            planned = [
                item
                for item in demo_traffic(
                    mid=merchant.mid,
                    schedule=merchant.fee_schedule,
                    days=window,
                    tids=tids,
                    seed=rng_seed,
                )
                if start <= item.occurred_at <= now
                and (latest is None or item.occurred_at > latest)
            ]
            split = unassembled_from(planned, now)
            head, tail = planned[:split], planned[split:]
            result["transactions"] = record_transactions(planned=head)
            result["payouts"] = len(assemble_payouts(merchant=merchant, now=now, seed=rng_seed))
            advance_payouts(merchant=merchant, now=now, seed=rng_seed)
            # The newest arrive as the acquirer reports them live.
            result["transactions"] += record_transactions(planned=tail)
    payouts = Payout.objects.filter(merchant=merchant)
    result["late"] = payouts.overdue(now).count()
    result["transactions_total"] = merchant.transactions.count()
    result["payouts_total"] = payouts.count()
    return result


def seed_demo(*, merchant: Merchant) -> list[str]:
    """The demo merchant's traffic, for ``manage.py seed_demo`` (which collects every app's
    ``seed_demo``); returns the lines it prints. Safe to repeat, as ``seed_settlements``."""
    traffic = seed_settlements(merchant=merchant)
    added = (
        f"this run added {traffic['transactions']:,} and {traffic['payouts']:,}"
        if traffic["transactions"] or traffic["payouts"]
        else "up to date"
    )
    return [
        f"  demo traffic: {traffic['transactions_total']:,} transactions, "
        f"{traffic['payouts_total']:,} payouts ({traffic['late']} late); {added}"
    ]
