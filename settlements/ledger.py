"""Fee and payout arithmetic: pure functions on Decimals, shared by everything that computes
money (the portal's ledger, the demo data, and a sandbox acquirer) so they cannot disagree.

The rules, as the merchant's contract states them:

- A sale pays its channel's rate on its amount, rounded half-up to the fen. A debit-card
  sale's fee stops at the schedule's cap (借记卡封顶).
- A sale settled D0 also pays the D0 surcharge rate on its amount, rounded on its own and
  never capped; a sale that falls back to T+1 pays no surcharge.
- A void or reversal (撤销 / 冲正) undoes its original completely, fee included.
- A refund (退货) on a QR channel returns the fee on the refunded amount; a bank-card refund
  returns none (银行卡退货手续费不退). The D0 surcharge paid for speed and is never returned.
- A declined transaction moves no money.

Amounts are signed from the merchant's side: sales positive, everything that gives money back
negative, and the fees they return negative too.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

FEN = Decimal("0.01")
ZERO = Decimal("0.00")

SALE = "sale"
REFUND = "refund"
UNDO_TYPES = frozenset({"void", "reversal"})
CARD_CHANNELS = frozenset({"debit_card", "credit_card"})
D0 = "d0"


def to_fen(value: Decimal) -> Decimal:
    return Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP)


def channel_rate(schedule, channel: str) -> Decimal:
    rates = {
        "debit_card": schedule.debit_rate,
        "credit_card": schedule.credit_rate,
        "unionpay_qr": schedule.unionpay_qr_rate,
        "wechat_pay": schedule.wechat_pay_rate,
        "alipay": schedule.alipay_rate,
    }
    return rates[channel]


def sale_fee(schedule, channel: str, amount: Decimal, *, d0: bool = False) -> Decimal:
    """The fee on a sale of ``amount`` (positive), cap and D0 surcharge included."""
    fee = to_fen(amount * channel_rate(schedule, channel))
    if channel == "debit_card" and schedule.debit_cap is not None:
        fee = min(fee, to_fen(schedule.debit_cap))
    if d0:
        fee += to_fen(amount * schedule.d0_surcharge_rate)
    return fee


@dataclass(frozen=True)
class Amounts:
    amount: Decimal
    fee: Decimal

    @property
    def net(self) -> Decimal:
        return self.amount - self.fee


def transaction_amounts(
    schedule,
    *,
    type: str,
    channel: str,
    amount: Decimal,
    approved: bool = True,
    cycle: str = "t1",
    original_fee: Decimal | None = None,
) -> Amounts:
    """Signed amount and fee of one transaction; ``amount`` may come signed either way.

    ``original_fee`` is the fee of the sale a void or reversal undoes, when known; without it
    the fee a sale of the same amount would have paid is returned.
    """
    magnitude = to_fen(abs(Decimal(amount)))
    if type == SALE:
        fee = sale_fee(schedule, channel, magnitude, d0=cycle == D0) if approved else ZERO
        return Amounts(magnitude, fee)
    if not approved:
        return Amounts(-magnitude, ZERO)
    if type in UNDO_TYPES:
        returned = (
            abs(original_fee)
            if original_fee is not None
            else sale_fee(schedule, channel, magnitude, d0=cycle == D0)
        )
        return Amounts(-magnitude, -returned)
    if type == REFUND:
        returned = (
            ZERO
            if channel in CARD_CHANNELS
            else to_fen(magnitude * channel_rate(schedule, channel))
        )
        return Amounts(-magnitude, -returned)
    raise ValueError(f"unknown transaction type {type!r}")


@dataclass(frozen=True)
class PayoutTotals:
    gross: Decimal
    fee: Decimal
    adjustment: Decimal
    count: int

    @property
    def net(self) -> Decimal:
        return self.gross - self.fee + self.adjustment


def payout_totals(
    rows: Iterable[tuple[Decimal, Decimal]], adjustment: Decimal = ZERO
) -> PayoutTotals:
    """Gross, fees and count of the (amount, fee) pairs a payout carries; net follows."""
    gross = fee = ZERO
    count = 0
    for amount, row_fee in rows:
        gross += amount
        fee += row_fee
        count += 1
    return PayoutTotals(gross=gross, fee=fee, adjustment=to_fen(adjustment), count=count)
