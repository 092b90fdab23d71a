"""Money and fees, the way the merchant's contract states them, computed by the sandbox on
its own (it must not import the portal's ledger, so the two can disagree when the contract is
misread on either side — that is what a real acquirer's figures can do too).

- A sale pays its channel's rate on its amount, rounded half-up to the fen; a debit-card
  sale's fee stops at the schedule's cap (借记卡封顶).
- A sale settled D0 also pays the D0 surcharge on its amount, rounded on its own, never capped.
- A void or reversal (撤销 / 冲正) returns its sale's whole fee.
- A refund (退货) on a QR channel returns the rate on the refunded amount; a bank-card refund
  returns no fee (银行卡退货手续费不退).
- A declined transaction moves no money.

Amounts are kept as whole fen (int) in the store and as ``Decimal`` in arithmetic; they leave
the sandbox as strings with exactly two decimals, never as floats.
"""

import re
from dataclasses import dataclass
from datetime import time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FEN = Decimal("0.01")
CHANNELS = ("debit_card", "credit_card", "unionpay_qr", "wechat_pay", "alipay")
CARD_CHANNELS = frozenset({"debit_card", "credit_card"})
TYPES = ("sale", "refund", "reversal", "void")
UNDO_TYPES = frozenset({"void", "reversal"})
CYCLES = ("t1", "d0")
RATE_FIELDS = {
    "debit_card": "debit_rate",
    "credit_card": "credit_rate",
    "unionpay_qr": "unionpay_qr_rate",
    "wechat_pay": "wechat_pay_rate",
    "alipay": "alipay_rate",
}
MAX_RATE = Decimal("0.05")
MONEY_RE = re.compile(r"^[0-9]{1,12}\.[0-9]{2}$")
RATE_RE = re.compile(r"^[0-9](\.[0-9]{1,4})?$")
CLOCK_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class InvalidField(ValueError):
    """A value a client sent that the sandbox refuses, naming the field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def to_fen(value: Decimal) -> Decimal:
    return Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP)


def fen_of(value: Decimal) -> int:
    return int(to_fen(value) * 100)


def decimal_of(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(FEN)


def format_fen(fen: int) -> str:
    """Whole fen as a CNY string with two decimals: 12345 → "123.45", -5 → "-0.05"."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def parse_money(value, field: str, *, allow_null: bool = False) -> Decimal | None:
    """A non-negative CNY amount sent as a string with exactly two decimals."""
    if value is None and allow_null:
        return None
    if not isinstance(value, str) or not MONEY_RE.match(value):
        raise InvalidField(field, 'a decimal string with two places is needed, e.g. "20.00"')
    return Decimal(value)


def parse_rate(value, field: str) -> Decimal:
    if not isinstance(value, str) or not RATE_RE.match(value):
        raise InvalidField(field, 'a rate is a decimal string with up to four places, "0.0060"')
    try:
        rate = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern only lets decimals through
        raise InvalidField(field, "not a decimal") from None
    if not Decimal(0) <= rate <= MAX_RATE:
        raise InvalidField(field, f"a rate must lie between 0 and {MAX_RATE}")
    return rate


def parse_clock(value, field: str) -> time:
    if not isinstance(value, str) or not CLOCK_RE.match(value):
        raise InvalidField(field, 'a Beijing time of day as "HH:MM" is needed')
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class FeeSchedule:
    """What a merchant pays per transaction and how fast it is settled (the registration's
    ``fee_schedule`` object)."""

    rates: dict[str, Decimal]
    debit_cap: Decimal | None
    settlement_cycle: str
    d0_surcharge_rate: Decimal
    d0_daily_limit: Decimal | None
    d0_window_start: time
    d0_window_end: time

    @classmethod
    def parse(cls, payload) -> "FeeSchedule":
        if not isinstance(payload, dict):
            raise InvalidField("fee_schedule", "an object is needed")
        rates = {
            channel: parse_rate(payload.get(name), f"fee_schedule.{name}")
            for channel, name in RATE_FIELDS.items()
        }
        cycle = payload.get("settlement_cycle", "t1")
        if cycle not in CYCLES:
            raise InvalidField("fee_schedule.settlement_cycle", 'must be "t1" or "d0"')
        start = parse_clock(payload.get("d0_window_start", "00:00"), "fee_schedule.d0_window_start")
        end = parse_clock(payload.get("d0_window_end", "22:00"), "fee_schedule.d0_window_end")
        if not start < end:
            raise InvalidField(
                "fee_schedule.d0_window_end", "the D0 window must end after it starts"
            )
        return cls(
            rates=rates,
            debit_cap=parse_money(
                payload.get("debit_cap"), "fee_schedule.debit_cap", allow_null=True
            ),
            settlement_cycle=cycle,
            d0_surcharge_rate=parse_rate(
                payload.get("d0_surcharge_rate", "0"), "fee_schedule.d0_surcharge_rate"
            ),
            d0_daily_limit=parse_money(
                payload.get("d0_daily_limit"), "fee_schedule.d0_daily_limit", allow_null=True
            ),
            d0_window_start=start,
            d0_window_end=end,
        )

    def as_json(self) -> dict:
        """The schedule as the sandbox shows it back: every value a string, or null."""
        data = {name: f"{self.rates[channel]:.4f}" for channel, name in RATE_FIELDS.items()}
        data.update(
            {
                "debit_cap": None if self.debit_cap is None else f"{self.debit_cap:.2f}",
                "settlement_cycle": self.settlement_cycle,
                "d0_surcharge_rate": f"{self.d0_surcharge_rate:.4f}",
                "d0_daily_limit": (
                    None if self.d0_daily_limit is None else f"{self.d0_daily_limit:.2f}"
                ),
                "d0_window_start": self.d0_window_start.strftime("%H:%M"),
                "d0_window_end": self.d0_window_end.strftime("%H:%M"),
            }
        )
        return data

    def d0_applies(self, local_time: time, *, amount: Decimal, used: Decimal, cutoff: time):
        """Whether a transaction at ``local_time`` (Beijing) settles the same day: a D0
        schedule, inside its window and before the cut-off, and within the daily limit given
        what already settles D0 that day (``used``)."""
        if self.settlement_cycle != "d0":
            return False
        if not (self.d0_window_start <= local_time < self.d0_window_end):
            return False
        if local_time >= cutoff:
            return False
        return self.d0_daily_limit is None or used + amount <= self.d0_daily_limit


def sale_fee(schedule: FeeSchedule, channel: str, amount: Decimal, *, d0: bool) -> Decimal:
    """The fee on a sale of ``amount`` (positive), cap and D0 surcharge included."""
    fee = to_fen(amount * schedule.rates[channel])
    if channel == "debit_card" and schedule.debit_cap is not None:
        fee = min(fee, to_fen(schedule.debit_cap))
    if d0:
        fee += to_fen(amount * schedule.d0_surcharge_rate)
    return fee


def refund_fee(schedule: FeeSchedule, channel: str, amount: Decimal) -> Decimal:
    """The fee a refund of ``amount`` gives back: the rate on QR channels, nothing on cards."""
    if channel in CARD_CHANNELS:
        return Decimal("0.00")
    return to_fen(amount * schedule.rates[channel])


def signed(type_: str, fen: int) -> int:
    """A magnitude in the merchant's sign: a sale adds, everything else gives back."""
    return abs(fen) if type_ == "sale" else -abs(fen)
