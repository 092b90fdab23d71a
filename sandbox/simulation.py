"""The acquirer at work: traffic, settlement, payouts on their way to the bank, disputes.

Everything here runs on the sandbox's clock and is deterministic for a seed: the traffic of an
hour comes from a generator seeded by (seed, merchant, hour), a payout's fate from one seeded by
its id. The simulation moves each merchant forward hour by hour in time order, so catching up
a day in one step or second by second ends in the same state:

1. At the first moment of an hour, that hour's sales are drawn (with their declines, late
   arrivals, fee mistakes and follow-ups: reversals and voids minutes later, refunds hours or
   days later). A transaction exists from then on but is *recorded* — visible in the feed,
   announced by ``transaction.created`` — only once the clock reaches its ``recorded_at``.
2. At a merchant's D0 window end, its D0 transactions of the day form a D0 payout; at 23:00
   (the cut-off) every approved transaction of the trade date not yet paid out goes into the
   T+1 payout of the next business day, which collects a weekend's or a holiday's days too.
3. Each payout follows a plan drawn when it was created: processing on its settlement morning,
   paid around 10:00 — or delayed, returned, failed, held, as ``Settings.incident_rate`` says.
"""

import hashlib
import json
import math
import random
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal

from sandbox.accounts import Account, bank_name
from sandbox.calendar import (
    CUTOFF,
    D0_ARRIVAL,
    DAY,
    HOUR,
    MINUTE,
    PRC_CALENDAR,
    SECOND,
    T1_ARRIVAL,
    BusinessCalendar,
    at_beijing,
    beijing,
    beijing_date,
    cutoff_of,
    parse_time,
    trade_date,
)
from sandbox.clock import Clock
from sandbox.config import Settings
from sandbox.money import (
    CARD_CHANNELS,
    CHANNELS,
    TYPES,
    UNDO_TYPES,
    FeeSchedule,
    InvalidField,
    fen_of,
    parse_money,
    refund_fee,
    sale_fee,
    signed,
)
from sandbox.records import dispute_record, payout_record, transaction_record
from sandbox.store import Store, next_number
from sandbox.webhooks import Outbox

# What the bank or the acquirer says, as the merchant's bank statement would word it.
REASONS = {
    "BANK_PROCESSING_DELAY": "银行处理中，资金延迟入账",
    "BANK_HOLIDAY": "节假日银行暂停处理，顺延入账",
    "ACCOUNT_NAME_MISMATCH": "户名不符",
    "ACCOUNT_CLOSED": "账户已销户",
    "INVALID_ACCOUNT_NUMBER": "联行号错误",
    "LIMIT_EXCEEDED": "超过II类户限额",
    "CHANNEL_UNAVAILABLE": "系统繁忙请稍后",
    "RISK_REVIEW": "风控审核中",
    "FRAUD_SUSPECTED": "疑似欺诈交易冻结",
}
# A code the contract does not list: the portal must keep it and treat it as UNKNOWN.
UNLISTED_REASON = ("SETTLE_SUSPENDED", "结算暂停，原因待查")
ALL_REASONS = {**REASONS, UNLISTED_REASON[0]: UNLISTED_REASON[1]}
# scenario → (status the payout takes, reason codes it may carry, the first the default)
SCENARIOS = {
    "bank_delay": ("processing", ("BANK_PROCESSING_DELAY", "BANK_HOLIDAY")),
    "account_error": (
        "returned",
        ("ACCOUNT_NAME_MISMATCH", "ACCOUNT_CLOSED", "INVALID_ACCOUNT_NUMBER", "LIMIT_EXCEEDED"),
    ),
    "channel_fault": ("failed", ("CHANNEL_UNAVAILABLE",)),
    "risk_hold": ("held", ("RISK_REVIEW", "FRAUD_SUSPECTED")),
    "unknown_reason": ("held", (UNLISTED_REASON[0],)),
    "paid": ("paid", ()),
}
DISPUTE_REASONS = {
    "retrieval": ("4501", "4502"),  # 请求调阅签购单, 持卡人对交易有疑问
    "chargeback": ("4508", "4512", "4515"),  # 否认交易, 重复扣款, 未收到商品或服务
}
EVIDENCE_DAYS = {"retrieval": 7, "chargeback": 10}
ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

# How busy each Beijing hour is, relative to a busy hour (lunch, evening). Nothing between
# midnight and 07:00; a little after the 23:00 cut-off, which counts for the next day.
HOUR_WEIGHTS = (
    (0.0,) * 7 + (0.2, 0.5, 0.8, 0.9, 1.2, 1.5, 1.1, 0.8, 0.7, 0.8, 1.0, 1.4, 1.5, 1.2, 0.9, 0.5)
) + (0.25,)
CHANNEL_WEIGHTS = (20, 14, 6, 35, 25)  # debit, credit, UnionPay QR, WeChat Pay, Alipay
DECLINE_RATE = {"card": 0.03, "qr": 0.01}
DEBIT_BINS = ("622202", "621700", "622848", "621226", "622588", "621483")
CREDIT_BINS = ("625807", "622575", "628288", "524091", "438088", "625965")
REVERSAL_RATE = 0.01
VOID_RATE = 0.015
REFUND_RATE = 0.03
LARGE_DEBIT_RATE = 0.03


class SimulationError(Exception):
    """A request the simulation refuses: ``status`` and ``code`` become the error body."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class Merchant:
    """What the simulation needs of a merchant, loaded once per pass."""

    mid: str
    key_id: str
    schedule: FeeSchedule
    account: Account
    terminals: list[str]
    traffic_from: int
    simulated_until: int
    generated_until: int

    @classmethod
    def load(cls, db: sqlite3.Connection, row: sqlite3.Row) -> "Merchant":
        terminals = [
            t["terminal_id"]
            for t in db.execute(
                "SELECT terminal_id FROM terminals WHERE merchant_id = ? ORDER BY terminal_id",
                (row["merchant_id"],),
            )
        ]
        return cls(
            mid=row["merchant_id"],
            key_id=row["key_id"],
            schedule=FeeSchedule.parse(json.loads(row["fee_schedule"])),
            account=Account(**json.loads(row["account"])),
            terminals=terminals,
            traffic_from=row["traffic_from"],
            simulated_until=row["simulated_until"],
            generated_until=row["generated_until"],
        )


@dataclass(frozen=True)
class PlannedSale:
    """One sale and everything the dice said about it, drawn whether or not it is kept, so
    that the generator's sequence does not depend on which part of an hour is wanted."""

    number: int
    at: int
    channel: str
    terminal: str
    amount: Decimal
    card_masked: str | None
    approved: bool
    late: float  # a draw against late_arrival_rate
    lag_seconds: float
    fee_draw: float
    fee_step: int  # +1 or -1 fen when the acquirer gets the fee wrong
    follow: float  # a draw against the reversal, void and refund rates
    follow_delay: float
    refund_days: int
    refund_seconds: float
    partial: float
    partial_percent: int
    rrn: int
    auth: int


def floor_hour(micros: int) -> int:
    return micros - micros % HOUR


def seeded(*parts) -> random.Random:
    return random.Random(":".join(str(part) for part in parts))


def money_draw(value: float) -> Decimal:
    return Decimal(str(round(value, 1))).quantize(Decimal("0.01"))


class Simulation:
    """The acquirer's work over time, for every merchant in the store."""

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        settings: Callable[[], Settings],
        outbox: Outbox,
        seed: int,
        calendar: BusinessCalendar = PRC_CALENDAR,
    ):
        self.store = store
        self.clock = clock
        self.settings = settings
        self.outbox = outbox
        self.seed = seed
        self.calendar = calendar
        # Seeding may ask for history without incidents; None means the setting applies.
        self._incident_rate: float | None = None

    # -- Moving time on ---------------------------------------------------------------------

    def run_until(self, now: int | None = None) -> None:
        """Everything every merchant's acquirer would have done up to ``now``."""
        now = self.clock.now() if now is None else now
        with self.store.write() as db:
            for row in db.execute("SELECT * FROM merchants ORDER BY merchant_id").fetchall():
                merchant = Merchant.load(db, row)
                if merchant.simulated_until < now:
                    self._advance(db, merchant, now)
            self._progress_payouts(db, now)
            self._progress_disputes(db, now)

    def _advance(self, db, merchant: Merchant, target: int) -> None:
        rate = self.settings().traffic_rate
        t = merchant.simulated_until
        while t < target:
            slot = floor_hour(t)
            if slot >= merchant.generated_until:
                self._generate_hour(
                    db,
                    merchant,
                    slot,
                    lo=max(slot, merchant.traffic_from),
                    hi=slot + HOUR,
                    rate=rate,
                )
                merchant.generated_until = slot + HOUR
            end = min(slot + HOUR, target)
            self._sweep(db, merchant, t, end)
            t = end
        db.execute(
            "UPDATE merchants SET simulated_until = ?, generated_until = ? WHERE merchant_id = ?",
            (target, merchant.generated_until, merchant.mid),
        )
        merchant.simulated_until = target

    def _sweep(self, db, merchant: Merchant, start: int, end: int) -> None:
        """Record what is due in (start, end], closing each batch whose moment falls there."""
        for moment, close in self._closings(merchant, start, end):
            self._record_due(db, merchant, moment)
            close(db, merchant, moment)
        self._record_due(db, merchant, end)

    def _closings(self, merchant: Merchant, start: int, end: int):
        """The D0 batch closings and cut-offs in (start, end], in time order."""
        found = []
        day = beijing_date(start)
        while at_beijing(day, time(0)) <= end:
            if merchant.schedule.settlement_cycle == "d0":
                closing = min(merchant.schedule.d0_window_end, CUTOFF)
                moment = at_beijing(day, closing)
                found.append((moment, 0, self._close_d0))
            found.append((cutoff_of(day), 1, self._close_t1))
            day += timedelta(days=1)
        found.sort(key=lambda item: (item[0], item[1]))
        return [(moment, close) for moment, _, close in found if start < moment <= end]

    # -- Traffic ----------------------------------------------------------------------------

    def _generate_hour(self, db, merchant: Merchant, slot: int, *, lo: int, hi: int, rate):
        """The sales of the hour starting at ``slot`` that fall in [lo, hi), with their
        follow-ups."""
        if rate <= 0 or not merchant.terminals or lo >= hi:
            return
        local = beijing(slot)
        weight = HOUR_WEIGHTS[local.hour] * self._day_factor(local.date())
        if weight <= 0:
            return
        per_hour = rate * weight
        rng = seeded(self.seed, "traffic", merchant.mid, slot)
        moment, number = slot, 0
        while True:
            moment += int(rng.expovariate(per_hour) * HOUR)
            if moment >= slot + HOUR:
                return
            number += 1
            sale = self._draw_sale(rng, merchant, moment, number)
            if lo <= moment < hi:
                self._insert_sale(db, merchant, sale, slot)

    def _day_factor(self, day: date) -> float:
        if self.calendar.is_public_holiday(day):
            return 1.3
        return 1.15 if day.weekday() >= 5 else 1.0

    def _draw_sale(self, rng: random.Random, merchant: Merchant, at: int, number: int):
        channel = rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
        terminal = merchant.terminals[rng.randrange(len(merchant.terminals))]
        amount = self._draw_amount(rng, channel)
        bins = DEBIT_BINS if channel == "debit_card" else CREDIT_BINS
        card_bin, last4 = rng.choice(bins), rng.randrange(10_000)
        card = f"{card_bin}******{last4:04d}" if channel in CARD_CHANNELS else None
        kind = "card" if channel in CARD_CHANNELS else "qr"
        return PlannedSale(
            number=number,
            at=at,
            channel=channel,
            terminal=terminal,
            amount=amount,
            card_masked=card,
            approved=rng.random() >= DECLINE_RATE[kind],
            late=rng.random(),
            lag_seconds=rng.uniform(120, 2700),
            fee_draw=rng.random(),
            fee_step=rng.choice((1, -1)),
            follow=rng.random(),
            follow_delay=rng.random(),
            refund_days=rng.choice((0, 0, 0, 1, 1, 2, 3, 5, 7)),
            refund_seconds=rng.uniform(9 * 3600, 21 * 3600),
            partial=rng.random(),
            partial_percent=rng.randrange(20, 80),
            rrn=rng.randrange(1_000_000),
            auth=rng.randrange(1_000_000),
        )

    @staticmethod
    def _draw_amount(rng: random.Random, channel: str) -> Decimal:
        if channel == "debit_card" and rng.random() < LARGE_DEBIT_RATE:
            # A carton of cigarettes and a case of baijiu: past the debit-card fee cap.
            return Decimal(rng.randrange(42, 99) * 100).quantize(Decimal("0.01"))
        if channel == "debit_card":
            return money_draw(min(max(rng.lognormvariate(math.log(150), 0.9), 20), 3000))
        if channel == "credit_card":
            return money_draw(min(max(rng.lognormvariate(math.log(220), 0.85), 20), 3000))
        return money_draw(min(max(rng.lognormvariate(math.log(18), 0.8), 3), 380))

    def _insert_sale(self, db, merchant: Merchant, sale: PlannedSale, slot: int) -> None:
        settings = self.settings()
        digest = hashlib.sha256(f"{self.seed}:{merchant.mid}:{slot}:{sale.number}".encode())
        sale_id = f"tx_{beijing(slot):%Y%m%d%H}_{digest.hexdigest()[:10]}"
        cycle = self._cycle(db, merchant, "sale", sale.at, sale.amount if sale.approved else None)
        fee = Decimal("0.00")
        if sale.approved:
            fee = sale_fee(merchant.schedule, sale.channel, sale.amount, d0=cycle == "d0")
            mistake = Decimal(sale.fee_step) / 100
            if sale.fee_draw < settings.fee_error_rate and fee + mistake >= 0:
                fee += mistake  # acquirers make mistakes
        recorded = sale.at
        if sale.late < settings.late_arrival_rate:
            # A late arrival still beats the batch it belongs to: it never crosses a closing.
            recorded = min(
                sale.at + int(sale.lag_seconds * SECOND),
                self._closing_after(merchant, sale.at, cycle) - SECOND,
            )
            recorded = max(recorded, sale.at)
        local = beijing(sale.at)
        self._insert(
            db,
            id=sale_id,
            merchant=merchant,
            terminal=sale.terminal,
            type_="sale",
            original_id=None,
            channel=sale.channel,
            amount=sale.amount,
            fee=fee,
            card_masked=sale.card_masked,
            rrn=f"{local:%y%m%d}{sale.rrn:06d}",
            trace_no=f"{(local.hour * 1000 + sale.number) % 1_000_000:06d}",
            auth_code=f"{sale.auth:06d}" if sale.approved and sale.card_masked else None,
            status="approved" if sale.approved else "declined",
            occurred_at=sale.at,
            recorded_at=recorded,
            cycle=cycle,
        )
        if sale.approved:
            self._follow_up(db, merchant, sale, sale_id, fee)

    def _follow_up(self, db, merchant: Merchant, sale: PlannedSale, sale_id: str, fee: Decimal):
        local = beijing(sale.at)
        left_today = (at_beijing(local.date(), time(22, 30)) - sale.at) // SECOND
        kind, at, amount, returned_fee = None, 0, sale.amount, fee
        if sale.follow < REVERSAL_RATE and sale.channel in CARD_CHANNELS and left_today > 600:
            # 冲正: the terminal never heard back and cancelled the sale itself.
            kind, at = "reversal", sale.at + int((20 + sale.follow_delay * 70) * SECOND)
        elif (
            sale.follow < REVERSAL_RATE + VOID_RATE
            and sale.channel in ("debit_card", "credit_card", "unionpay_qr")
            and left_today > 3600
        ):
            # 撤销: the cashier cancels the sale the same day, before the batch closes.
            kind, at = "void", sale.at + int((120 + sale.follow_delay * 2880) * SECOND)
        elif sale.follow < REVERSAL_RATE + VOID_RATE + REFUND_RATE:
            kind = "refund"
            if sale.refund_days == 0 and local.hour < 20:
                start = sale.at + 30 * MINUTE
                end = at_beijing(local.date(), time(22, 0))
                at = start + int((end - start) * sale.follow_delay)
            else:
                day = local.date() + timedelta(days=max(sale.refund_days, 1))
                at = at_beijing(day, time(0)) + int(sale.refund_seconds * SECOND)
            if sale.partial < 0.4 and sale.amount >= Decimal("2.00"):
                amount = max(
                    (sale.amount * sale.partial_percent / 100).quantize(Decimal("0.01")),
                    Decimal("1.00"),
                )
            returned_fee = refund_fee(merchant.schedule, sale.channel, amount)
        if kind is None:
            return
        suffix = {"reversal": "X", "void": "V", "refund": "R"}[kind]
        local_at = beijing(at)
        self._insert(
            db,
            id=f"{sale_id}{suffix}",
            merchant=merchant,
            terminal=sale.terminal,
            type_=kind,
            original_id=sale_id,
            channel=sale.channel,
            amount=amount,
            fee=returned_fee,
            card_masked=sale.card_masked,
            rrn=f"{local_at:%y%m%d}{(sale.rrn + 500_000) % 1_000_000:06d}",
            trace_no=f"{(local_at.hour * 1000 + sale.number + 500) % 1_000_000:06d}",
            auth_code=None,
            status="approved",
            occurred_at=at,
            recorded_at=at,
            cycle=self._cycle(db, merchant, kind, at, None),
        )

    def _cycle(self, db, merchant: Merchant, type_: str, at: int, amount: Decimal | None) -> str:
        """D0 when the schedule has it, inside the window and, for a sale, within the daily
        limit given the day's D0 so far (net of what undid it); T+1 otherwise. Anything that
        gives money back settles with the D0 batch when it happens inside the window."""
        schedule = merchant.schedule
        if schedule.settlement_cycle != "d0" or (type_ == "sale" and amount is None):
            return "t1"
        used = Decimal(0)
        if type_ == "sale":
            day_start = at_beijing(beijing_date(at), time(0))
            fen = db.execute(
                "SELECT COALESCE(SUM(CASE WHEN type = 'sale' THEN amount ELSE -amount END), 0) "
                "FROM transactions WHERE merchant_id = ? AND status = 'approved' "
                "AND cycle = 'd0' AND occurred_at >= ? AND occurred_at <= ?",
                (merchant.mid, day_start, at),
            ).fetchone()[0]
            used = Decimal(fen) / 100
        applies = schedule.d0_applies(
            beijing(at).time(), amount=amount or Decimal(0), used=used, cutoff=CUTOFF
        )
        return "d0" if applies else "t1"

    def _closing_after(self, merchant: Merchant, at: int, cycle: str) -> int:
        """The moment the batch a transaction at ``at`` belongs to closes."""
        if cycle == "d0":
            closing = min(merchant.schedule.d0_window_end, CUTOFF)
            return at_beijing(beijing_date(at), closing)
        return cutoff_of(trade_date(at))

    def _insert(
        self,
        db,
        *,
        id,
        merchant,
        terminal,
        type_,
        original_id,
        channel,
        amount,
        fee,
        card_masked,
        rrn,
        trace_no,
        auth_code,
        status,
        occurred_at,
        recorded_at,
        cycle,
    ):
        local = beijing(occurred_at)
        db.execute(
            "INSERT OR IGNORE INTO transactions (id, merchant_id, terminal_id, type, original_id,"
            " channel, amount, fee, card_masked, rrn, trace_no, batch_no, auth_code, status,"
            " occurred_at, recorded_at, trade_date, cycle) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                id,
                merchant.mid,
                terminal,
                type_,
                original_id,
                channel,
                fen_of(amount),
                fen_of(abs(fee)),
                card_masked,
                rrn,
                trace_no,
                f"{local.date().toordinal() % 999_999 + 1:06d}",
                auth_code,
                status,
                occurred_at,
                recorded_at,
                trade_date(occurred_at).isoformat(),
                cycle,
            ),
        )

    def _record_due(self, db, merchant: Merchant, up_to: int) -> None:
        """Transactions whose recording time has come enter the feed and are announced."""
        rows = db.execute(
            "SELECT * FROM transactions WHERE merchant_id = ? AND emitted = 0 "
            "AND recorded_at <= ? ORDER BY recorded_at, id",
            (merchant.mid, up_to),
        ).fetchall()
        for row in rows:
            db.execute("UPDATE transactions SET emitted = 1 WHERE id = ?", (row["id"],))
            self.outbox.queue(
                db,
                key_id=merchant.key_id,
                type_="transaction.created",
                data=transaction_record(row),
                at=row["recorded_at"],
            )

    # -- Settlement -------------------------------------------------------------------------

    def _close_d0(self, db, merchant: Merchant, moment: int) -> None:
        day = beijing_date(moment)
        rows = db.execute(
            "SELECT * FROM transactions WHERE merchant_id = ? AND emitted = 1 "
            "AND status = 'approved' AND payout_id IS NULL AND cycle = 'd0' "
            "AND occurred_at >= ? AND occurred_at < ? ORDER BY occurred_at, id",
            (merchant.mid, at_beijing(day, time(0)), moment),
        ).fetchall()
        self._settle(db, merchant, rows, settlement_date=day, cycle="d0", at=moment)

    def _close_t1(self, db, merchant: Merchant, moment: int) -> None:
        day = trade_date(moment - SECOND)
        # Everything of this trade date, and anything older a closing could not take
        # (a D0 leftover, a batch whose net was not positive, a late refund).
        rows = db.execute(
            "SELECT * FROM transactions WHERE merchant_id = ? AND emitted = 1 "
            "AND status = 'approved' AND payout_id IS NULL AND trade_date <= ? "
            "ORDER BY occurred_at, id",
            (merchant.mid, day.isoformat()),
        ).fetchall()
        settlement_date = self.calendar.next_business_day(day)
        self._settle(db, merchant, rows, settlement_date=settlement_date, cycle="t1", at=moment)
        self._maybe_dispute(db, merchant, day, moment)

    def _settle(self, db, merchant, rows, *, settlement_date: date, cycle: str, at: int):
        """Put ``rows`` into the merchant's payout for that date and cycle, a new one unless
        one is still open (a T+1 payout collects a weekend's batches). A batch whose net is
        not positive waits for the next closing: acquirers never send a negative transfer."""
        if not rows:
            return
        gross = sum(signed(row["type"], row["amount"]) for row in rows)
        fee = sum(signed(row["type"], row["fee"]) for row in rows)
        existing = db.execute(
            "SELECT * FROM payouts WHERE merchant_id = ? AND settlement_date = ? AND cycle = ? "
            "AND open = 1 AND status = 'scheduled' AND scenario IS NULL "
            "ORDER BY created_at DESC, id DESC LIMIT 1",
            (merchant.mid, settlement_date.isoformat(), cycle),
        ).fetchone()
        base = existing["gross"] - existing["fee"] + existing["adjustment"] if existing else 0
        if base + gross - fee <= 0:
            return
        if existing is None:
            payout_id = self._create_payout(
                db, merchant, settlement_date=settlement_date, cycle=cycle, at=at
            )
        else:
            payout_id = existing["id"]
        self._attach(db, payout_id, rows)
        totals = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN type = 'sale' THEN amount ELSE -amount END),"
            " 0), COALESCE(SUM(CASE WHEN type = 'sale' THEN fee ELSE -fee END), 0) "
            "FROM transactions WHERE payout_id = ?",
            (payout_id,),
        ).fetchone()
        open_ = 1 if cycle == "t1" else 0
        self.payout_update(
            db, payout_id, at, count=totals[0], gross=totals[1], fee=totals[2], open=open_
        )

    def _attach(self, db, payout_id: str, rows) -> None:
        db.executemany(
            "UPDATE transactions SET payout_id = ? WHERE id = ?",
            [(payout_id, row["id"]) for row in rows],
        )

    def _create_payout(self, db, merchant: Merchant, *, settlement_date, cycle, at, plan=True):
        number = next_number(db, f"payout:{settlement_date.isoformat()}")
        payout_id = f"po_{settlement_date:%Y%m%d}_{number:06d}"
        if cycle == "d0":
            expected = at_beijing(settlement_date, D0_ARRIVAL)
        else:
            expected = at_beijing(settlement_date, T1_ARRIVAL)
        steps = self._plan(payout_id, cycle, settlement_date, at, expected) if plan else []
        db.execute(
            "INSERT INTO payouts (id, merchant_id, settlement_date, cycle, gross, fee, adjustment,"
            " count, status, expected_at, account_masked, bank_name, created_at, updated_at,"
            " plan, next_step_at) "
            "VALUES (?, ?, ?, ?, 0, 0, 0, 0, 'scheduled', ?, ?, ?, ?, ?, ?, ?)",
            (
                payout_id,
                merchant.mid,
                settlement_date.isoformat(),
                cycle,
                expected,
                merchant.account.masked,
                bank_name(merchant.account.bank_code),
                at,
                at - 1,  # payout_update moves it to `at`, the moment it is announced
                json.dumps(steps),
                steps[0]["at"] if steps else None,
            ),
        )
        return payout_id

    # -- A payout's fate --------------------------------------------------------------------

    def _plan(self, payout_id: str, cycle: str, day: date, created: int, expected: int):
        """The steps a payout will take: normally processing then paid around the expected
        arrival; with ``incident_rate`` a delay, a return, a channel fault or a risk hold."""
        rng = seeded(self.seed, "payout", payout_id)
        if cycle == "t1":
            processing = at_beijing(day, time(8, 30)) + int(rng.uniform(0, 30) * MINUTE)
            paid = expected + int(rng.uniform(-25, 20) * MINUTE)
            near_holiday = self.calendar.after_holiday(day)
        else:
            processing = created + int(rng.uniform(5, 15) * MINUTE)
            earliest = max(processing + 10 * MINUTE, at_beijing(day, time(23, 0)))
            paid = earliest + int(rng.uniform(0, 1) * max(expected + 5 * MINUTE - earliest, 0))
            near_holiday = not self.calendar.is_business_day(day)
        processing = max(processing, created + SECOND)
        paid = max(paid, processing + MINUTE)
        rate = self.settings().incident_rate if self._incident_rate is None else self._incident_rate
        incident, kind, x, y = rng.random(), rng.random(), rng.random(), rng.random()
        if near_holiday:
            rate = min(rate * 3, 1.0)

        # Banks stamp whole seconds.
        def step(at, status, code=None):
            return {"at": at - at % SECOND, "status": status, "reason_code": code}

        if incident >= rate:
            return [step(processing, "processing"), step(paid, "paid")]
        if kind < 0.35:
            code = "BANK_HOLIDAY" if near_holiday else "BANK_PROCESSING_DELAY"
            late = expected + int((6 + x * 24) * HOUR)
            return [
                step(processing, "processing"),
                step(max(expected + 15 * MINUTE, processing + MINUTE), "processing", code),
                step(late, "paid"),
            ]
        if kind < 0.55:
            code = ("ACCOUNT_NAME_MISMATCH", "ACCOUNT_CLOSED", "INVALID_ACCOUNT_NUMBER")[int(x * 3)]
            if y < 0.25:  # 退票: the bank bounces the transfer a day after it was paid
                bounced = paid + int((18 + x * 12) * HOUR)
                return [
                    step(processing, "processing"),
                    step(paid, "paid"),
                    step(bounced, "returned", code),
                ]
            return [step(processing, "processing"), step(paid, "returned", code)]
        if kind < 0.60:
            return [step(processing, "processing"), step(paid, "returned", "LIMIT_EXCEEDED")]
        if kind < 0.80:
            again = processing + int((2 + x * 4) * HOUR)
            return [
                step(processing, "failed", "CHANNEL_UNAVAILABLE"),
                step(again, "processing"),
                step(again + int((30 + y * 30) * MINUTE), "paid"),
            ]
        code = "RISK_REVIEW" if x < 0.7 else "FRAUD_SUSPECTED"
        held = max(processing - 20 * MINUTE, created + SECOND)
        days = (1 + y) if code == "RISK_REVIEW" else (5 + 5 * y)
        released = held + int(days * DAY)
        return [
            step(held, "held", code),
            step(released, "scheduled"),
            step(released + 30 * MINUTE, "processing"),
            step(released + 90 * MINUTE, "paid"),
        ]

    def _progress_payouts(self, db, now: int, merchant_id: str | None = None) -> None:
        """Take every payout step whose time has come, in time order."""
        where = "next_step_at IS NOT NULL AND next_step_at <= ?"
        params: list = [now]
        if merchant_id:
            where += " AND merchant_id = ?"
            params.append(merchant_id)
        while True:
            rows = db.execute(
                f"SELECT * FROM payouts WHERE {where} ORDER BY next_step_at, id LIMIT 200",  # noqa: S608
                params,
            ).fetchall()
            if not rows:
                return
            for row in rows:
                plan = json.loads(row["plan"])
                step, rest = plan[0], plan[1:]
                self.payout_update(
                    db,
                    row["id"],
                    step["at"],
                    plan=rest,
                    **self._status_fields(row, step["status"], step["reason_code"], step["at"]),
                )

    def _status_fields(self, row, status: str, code: str | None, at: int) -> dict:
        """The columns a move to ``status`` sets: the reason and the bank's words for it, the
        bank reference and time once paid, the time of a return."""
        fields = {"status": status, "open": 0, "reason_code": code, "reason": None}
        if code:
            fields["reason"] = ALL_REASONS.get(code, "")
        if status == "paid":
            digest = hashlib.sha256(f"{self.seed}:bank:{row['id']}:{at}".encode()).hexdigest()
            fields.update(
                bank_reference=f"HVPS{beijing(at):%Y%m%d}{int(digest[:8], 16) % 10**8:08d}",
                paid_at=at,
            )
        if status == "returned":
            fields["returned_at"] = at
        return fields

    def payout_update(self, db, payout_id: str, at: int, *, plan=None, **fields) -> dict:
        """Change a payout, moving ``updated_at`` strictly forward, keep the version it was,
        and announce it. ``plan`` replaces the steps still to come."""
        row = db.execute("SELECT * FROM payouts WHERE id = ?", (payout_id,)).fetchone()
        if plan is not None:
            fields["plan"] = json.dumps(plan)
            fields["next_step_at"] = plan[0]["at"] if plan else None
        fields["updated_at"] = max(at, row["updated_at"] + 1)
        assignments = ", ".join(f"{name} = ?" for name in fields)
        db.execute(
            f"UPDATE payouts SET {assignments} WHERE id = ?",  # noqa: S608 - our own column names
            [*fields.values(), payout_id],
        )
        row = db.execute("SELECT * FROM payouts WHERE id = ?", (payout_id,)).fetchone()
        record = payout_record(row)
        db.execute(
            "INSERT OR REPLACE INTO payout_versions (payout_id, updated_at, record) "
            "VALUES (?, ?, ?)",
            (payout_id, row["updated_at"], json.dumps(record, ensure_ascii=False)),
        )
        key_id = self._key_of(db, row["merchant_id"])
        self.outbox.queue(
            db, key_id=key_id, type_="payout.updated", data=record, at=row["updated_at"]
        )
        return record

    @staticmethod
    def _key_of(db, merchant_id: str) -> str:
        return db.execute(
            "SELECT key_id FROM merchants WHERE merchant_id = ?", (merchant_id,)
        ).fetchone()[0]

    # -- Disputes ---------------------------------------------------------------------------

    def _maybe_dispute(self, db, merchant: Merchant, day: date, at: int) -> None:
        rng = seeded(self.seed, "disputes", merchant.mid, day)
        if rng.random() >= self.settings().dispute_rate:
            return
        candidates = db.execute(
            "SELECT * FROM transactions WHERE merchant_id = ? AND type = 'sale' "
            "AND status = 'approved' AND emitted = 1 AND channel IN ('debit_card', 'credit_card')"
            " AND trade_date BETWEEN ? AND ? "
            "AND id NOT IN (SELECT transaction_id FROM disputes) ORDER BY id",
            (
                merchant.mid,
                (day - timedelta(days=20)).isoformat(),
                (day - timedelta(days=3)).isoformat(),
            ),
        ).fetchall()
        if not candidates:
            return
        sale = candidates[rng.randrange(len(candidates))]
        kind = "retrieval" if rng.random() < 0.6 else "chargeback"
        reason = rng.choice(DISPUTE_REASONS[kind])
        self.open_dispute(db, sale, kind=kind, reason_code=reason, at=at)

    def open_dispute(self, db, sale, *, kind: str, reason_code: str, at: int, amount=None):
        """A retrieval request (调单) or chargeback (拒付) on ``sale``, open for evidence."""
        number = next_number(db, f"dispute:{beijing_date(at).isoformat()}")
        dispute_id = f"dp_{beijing(at):%Y%m%d}_{number:06d}"
        due = at + EVIDENCE_DAYS[kind] * DAY
        db.execute(
            "INSERT INTO disputes (id, merchant_id, transaction_id, kind, reason_code, amount,"
            " evidence_due_at, status, created_at, updated_at, next_step_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?)",
            (
                dispute_id,
                sale["merchant_id"],
                sale["id"],
                kind,
                reason_code,
                sale["amount"] if amount is None else amount,
                due,
                at,
                at,
                due,
            ),
        )
        row = db.execute("SELECT * FROM disputes WHERE id = ?", (dispute_id,)).fetchone()
        self.outbox.queue(
            db,
            key_id=self._key_of(db, sale["merchant_id"]),
            type_="dispute.created",
            data=dispute_record(row),
            at=at,
        )
        return dispute_record(row)

    def dispute_update(self, db, dispute_id: str, at: int, **fields) -> dict:
        row = db.execute("SELECT * FROM disputes WHERE id = ?", (dispute_id,)).fetchone()
        fields["updated_at"] = max(at, row["updated_at"] + 1)
        assignments = ", ".join(f"{name} = ?" for name in fields)
        db.execute(
            f"UPDATE disputes SET {assignments} WHERE id = ?",  # noqa: S608 - our own columns
            [*fields.values(), dispute_id],
        )
        row = db.execute("SELECT * FROM disputes WHERE id = ?", (dispute_id,)).fetchone()
        record = dispute_record(row)
        self.outbox.queue(
            db,
            key_id=self._key_of(db, row["merchant_id"]),
            type_="dispute.updated",
            data=record,
            at=row["updated_at"],
        )
        return record

    def _progress_disputes(self, db, now: int, merchant_id: str | None = None) -> None:
        """Decide disputes whose time has come: no evidence by the deadline loses; evidence
        wins three times in four."""
        where = "next_step_at IS NOT NULL AND next_step_at <= ?"
        params: list = [now]
        if merchant_id:
            where += " AND merchant_id = ?"
            params.append(merchant_id)
        rows = db.execute(
            f"SELECT * FROM disputes WHERE {where} ORDER BY next_step_at, id",  # noqa: S608
            params,
        ).fetchall()
        for row in rows:
            if row["status"] == "open":
                outcome = "lost"
            else:
                outcome = (
                    "won" if seeded(self.seed, "verdict", row["id"]).random() < 0.75 else "lost"
                )
            self.dispute_update(
                db, row["id"], row["next_step_at"], status=outcome, next_step_at=None
            )

    def submit_evidence(self, db, dispute_id: str, *, files: list[dict], note: str) -> dict:
        row = db.execute("SELECT * FROM disputes WHERE id = ?", (dispute_id,)).fetchone()
        now = self.clock.now()
        if row["status"] != "open":
            raise SimulationError(409, "dispute_not_open", f"the dispute is {row['status']}")
        if now > row["evidence_due_at"]:
            raise SimulationError(409, "evidence_too_late", "the deadline for evidence has passed")
        evidence = [*json.loads(row["evidence"]), {"note": note, "files": files, "at": now}]
        decide = now + int(seeded(self.seed, "decide", dispute_id).uniform(3, 10) * DAY)
        return self.dispute_update(
            db,
            dispute_id,
            now,
            status="evidence_submitted",
            evidence=json.dumps(evidence, ensure_ascii=False),
            next_step_at=decide,
        )

    # -- What the API and the control API ask for -------------------------------------------

    def retry_payout(self, db, payout_id: str) -> dict:
        """Send a returned payout again, to the account now in force. Only after a verified
        account change made after the return."""
        row = db.execute("SELECT * FROM payouts WHERE id = ?", (payout_id,)).fetchone()
        if row["status"] != "returned":
            raise SimulationError(
                409,
                "payout_not_returned",
                f"only a returned payout can be retried: {row['status']}",
            )
        merchant_row = db.execute(
            "SELECT * FROM merchants WHERE merchant_id = ?", (row["merchant_id"],)
        ).fetchone()
        if merchant_row["account_verified_at"] <= (row["returned_at"] or 0):
            raise SimulationError(
                409,
                "account_not_changed",
                "the settlement account needs a verified change after the return",
            )
        now = self.clock.now()
        account = Account(**json.loads(merchant_row["account"]))
        rng = seeded(self.seed, "retry", payout_id, now)
        processing = now + int(rng.uniform(2, 5) * MINUTE)
        paid = processing + int(rng.uniform(20, 40) * MINUTE)
        plan = [
            {"at": processing, "status": "processing", "reason_code": None},
            {"at": paid, "status": "paid", "reason_code": None},
        ]
        return self.payout_update(
            db,
            payout_id,
            now,
            plan=plan,
            status="scheduled",
            reason_code=None,
            reason=None,
            open=0,
            scenario=None,
            expected_at=paid,
            bank_reference=None,
            paid_at=None,
            account_masked=account.masked,
            bank_name=bank_name(account.bank_code),
        )

    def apply_scenario(
        self, merchant_id: str, scenario: str, *, reason_code=None, payout_id=None
    ) -> dict:
        """Make the merchant's most recent unpaid payout (or ``payout_id``, or a new one when
        it has none) take the scenario's status now and keep it until told otherwise."""
        if scenario not in SCENARIOS:
            raise SimulationError(422, "invalid_field", f"scenario: one of {', '.join(SCENARIOS)}")
        status, codes = SCENARIOS[scenario]
        if reason_code is not None and reason_code not in codes:
            raise SimulationError(
                422, "invalid_field", f"reason_code: for {scenario} one of {', '.join(codes)}"
            )
        code = reason_code or (codes[0] if codes else None)
        self.run_until()
        now = self.clock.now()
        with self.store.write() as db:
            merchant = self._merchant(db, merchant_id)
            if payout_id is not None:
                row = db.execute(
                    "SELECT * FROM payouts WHERE id = ? AND merchant_id = ?",
                    (payout_id, merchant_id),
                ).fetchone()
                if row is None:
                    raise SimulationError(404, "not_found", "no such payout for this merchant")
            else:
                row = db.execute(
                    "SELECT * FROM payouts WHERE merchant_id = ? AND status != 'paid' "
                    "ORDER BY settlement_date DESC, created_at DESC, id DESC LIMIT 1",
                    (merchant_id,),
                ).fetchone()
            if row is None:
                row = self._scenario_payout(db, merchant, now)
            fields = self._status_fields(row, status, code, now)
            return self.payout_update(db, row["id"], now, plan=[], scenario=scenario, **fields)

    def _scenario_payout(self, db, merchant: Merchant, now: int):
        """A payout made now for a scenario: the merchant's transactions not yet paid out,
        or three new sales when there are none."""
        rows = self._unsettled(db, merchant.mid)
        if not rows:
            if not merchant.terminals:
                raise SimulationError(409, "no_terminals", "register a terminal first")
            for minutes, channel, amount in (
                (35, "wechat_pay", "68.00"),
                (21, "alipay", "25.50"),
                (8, "debit_card", "312.40"),
            ):
                self._record_manual(
                    db,
                    merchant,
                    {"channel": channel, "amount": amount},
                    occurred_at=now - minutes * MINUTE,
                    recorded_at=now,
                )
            self._record_due(db, merchant, now)
            rows = self._unsettled(db, merchant.mid)
        settlement_date = self.calendar.next_business_day(trade_date(now))
        payout_id = self._create_payout(
            db, merchant, settlement_date=settlement_date, cycle="t1", at=now, plan=False
        )
        self._attach(db, payout_id, rows)
        gross = sum(signed(row["type"], row["amount"]) for row in rows)
        fee = sum(signed(row["type"], row["fee"]) for row in rows)
        self.payout_update(db, payout_id, now, count=len(rows), gross=gross, fee=fee, open=0)
        return db.execute("SELECT * FROM payouts WHERE id = ?", (payout_id,)).fetchone()

    @staticmethod
    def _unsettled(db, merchant_id: str):
        return db.execute(
            "SELECT * FROM transactions WHERE merchant_id = ? AND emitted = 1 "
            "AND status = 'approved' AND payout_id IS NULL ORDER BY occurred_at, id",
            (merchant_id,),
        ).fetchall()

    def _merchant(self, db, merchant_id: str) -> Merchant:
        row = db.execute("SELECT * FROM merchants WHERE merchant_id = ?", (merchant_id,)).fetchone()
        if row is None:
            raise SimulationError(404, "not_found", "no such merchant")
        return Merchant.load(db, row)

    def record_transaction(self, payload: dict) -> dict:
        """A transaction the caller describes (control API): the fee from the schedule unless
        given, recorded now unless ``recorded_at`` says later."""
        if not isinstance(payload, dict):
            raise SimulationError(422, "invalid_field", "an object is needed")
        self.run_until()
        now = self.clock.now()
        with self.store.write() as db:
            merchant = self._merchant(db, str(payload.get("merchant_id", "")))
            occurred = self._time_field(payload, "occurred_at", now)
            recorded = self._time_field(payload, "recorded_at", max(now, occurred))
            if occurred > now or recorded < occurred:
                raise SimulationError(
                    422, "invalid_field", "occurred_at: not in the future, nor after recorded_at"
                )
            transaction_id = self._record_manual(
                db, merchant, payload, occurred_at=occurred, recorded_at=recorded
            )
            self._record_due(db, merchant, now)
            row = db.execute("SELECT * FROM transactions WHERE id = ?", (transaction_id,))
            return transaction_record(row.fetchone())

    @staticmethod
    def _time_field(payload: dict, name: str, default: int) -> int:
        value = payload.get(name)
        if value is None:
            return default
        try:
            return parse_time(value)
        except ValueError:
            raise SimulationError(422, "invalid_field", f"{name}: an RFC 3339 time") from None

    def _record_manual(self, db, merchant: Merchant, payload, *, occurred_at, recorded_at) -> str:
        type_ = payload.get("type", "sale")
        channel = payload.get("channel", "wechat_pay")
        status = payload.get("status", "approved")
        if type_ not in TYPES or channel not in CHANNELS or status not in ("approved", "declined"):
            raise SimulationError(
                422, "invalid_field", "type, channel or status is not a value of the contract"
            )
        try:
            amount = parse_money(payload.get("amount"), "amount")
            fee_given = parse_money(payload.get("fee"), "fee", allow_null=True)
        except InvalidField as error:
            raise SimulationError(422, "invalid_field", str(error)) from None
        if amount <= 0:
            raise SimulationError(422, "invalid_field", "amount: must be positive")
        terminal = payload.get("terminal_id") or (merchant.terminals[:1] or [None])[0]
        if terminal not in merchant.terminals:
            raise SimulationError(409, "no_terminals", "the merchant has no such terminal")
        original_id = payload.get("original_id")
        original = None
        if type_ != "sale":
            original = db.execute(
                "SELECT * FROM transactions WHERE id = ? AND merchant_id = ? AND type = 'sale'",
                (original_id, merchant.mid),
            ).fetchone()
            if original is None:
                raise SimulationError(
                    422, "invalid_field", "original_id: a sale of this merchant is needed"
                )
            channel = original["channel"]
        approved = status == "approved"
        cycle = self._cycle(db, merchant, type_, occurred_at, amount if approved else None)
        if not approved:
            fee = Decimal("0.00")
        elif type_ == "sale":
            fee = sale_fee(merchant.schedule, channel, amount, d0=cycle == "d0")
        elif type_ in UNDO_TYPES:
            fee = Decimal(original["fee"]) / 100
        else:
            fee = refund_fee(merchant.schedule, channel, amount)
        if fee_given is not None:
            fee = fee_given
        card = payload.get("card_masked")
        if card is None and channel in CARD_CHANNELS:
            card = original["card_masked"] if original else "622202******0018"
        local = beijing(occurred_at)
        number = next_number(db, "manual-transaction")
        transaction_id = payload.get("id") or f"tx_{local:%Y%m%d%H}_m{number:09d}"
        if not isinstance(transaction_id, str) or not ID_RE.match(transaction_id):
            raise SimulationError(422, "invalid_field", "id: 1 to 64 of A-Z a-z 0-9 _ . : -")
        if db.execute("SELECT 1 FROM transactions WHERE id = ?", (transaction_id,)).fetchone():
            raise SimulationError(409, "duplicate_id", "a transaction with this id exists")
        self._insert(
            db,
            id=transaction_id,
            merchant=merchant,
            terminal=terminal,
            type_=type_,
            original_id=original_id if type_ != "sale" else None,
            channel=channel,
            amount=amount,
            fee=fee,
            card_masked=card if channel in CARD_CHANNELS else None,
            rrn=f"{local:%y%m%d}{number % 10**6:06d}",
            trace_no=f"{number % 10**6:06d}",
            auth_code="A1B2C3" if approved and channel in CARD_CHANNELS else None,
            status=status,
            occurred_at=occurred_at,
            recorded_at=recorded_at,
            cycle=cycle,
        )
        return transaction_id

    def seed_history(self, merchant_id: str, *, days: int, rate=None, incidents=True) -> dict:
        """``days`` of past traffic before the merchant's earliest, settled and paid out as
        the simulation would have done, without webhooks (the portal reads history by
        polling). The same seed gives the same history; asking again adds nothing."""
        self.run_until()
        now = self.clock.now()
        rate = self.settings().traffic_rate if rate is None else rate
        with self.store.write() as db:
            merchant = self._merchant(db, merchant_id)
            if not merchant.terminals:
                raise SimulationError(409, "no_terminals", "register a terminal first")
            start = at_beijing(beijing_date(now) - timedelta(days=days), time(0))
            end = merchant.traffic_from
            before = db.execute(
                "SELECT COUNT(*) FROM transactions WHERE merchant_id = ?", (merchant_id,)
            ).fetchone()[0]
            if start < end:
                self.outbox.quiet = True
                self._incident_rate = None if incidents else 0.0
                try:
                    t = start
                    while t < end:
                        slot = floor_hour(t)
                        self._generate_hour(
                            db,
                            merchant,
                            slot,
                            lo=max(slot, start),
                            hi=min(slot + HOUR, end),
                            rate=rate,
                        )
                        stop = min(slot + HOUR, end)
                        self._sweep(db, merchant, t, stop)
                        t = stop
                    self._record_due(db, merchant, merchant.simulated_until)
                    self._progress_payouts(db, now, merchant_id)
                    self._progress_disputes(db, now, merchant_id)
                finally:
                    self.outbox.quiet = False
                    self._incident_rate = None
                db.execute(
                    "UPDATE merchants SET traffic_from = ? WHERE merchant_id = ?",
                    (start, merchant_id),
                )
            counts = db.execute(
                "SELECT (SELECT COUNT(*) FROM transactions WHERE merchant_id = ?),"
                " (SELECT COUNT(*) FROM payouts WHERE merchant_id = ?)",
                (merchant_id, merchant_id),
            ).fetchone()
        return {
            "merchant_id": merchant_id,
            "from": beijing(min(start, end)).isoformat(),
            "transactions_added": counts[0] - before,
            "transactions": counts[0],
            "payouts": counts[1],
        }
