"""Parsing what an acquirer sends (ACQUIRER_API.md) into checked values.

Everything an acquirer sends is untrusted input: each parser either returns clean values or
raises ``AcquirerDataError`` naming the field and what is wrong with it, so a bad record is
refused as a whole and never half-stored.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.utils.dateparse import parse_datetime

from settlements.models import Channel, Cycle, Payout, Transaction

MAX_AMOUNT = Decimal("999999999999.99")
AMOUNT_RE = re.compile(r"^-?[0-9]{1,12}(\.[0-9]{1,2})?$")
MID_RE = re.compile(r"^[0-9]{15}$")
TID_RE = re.compile(r"^[0-9]{8}$")
ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
CARD_MASKED_RE = re.compile(r"^[0-9]{6}\*{2,9}[0-9]{4}$")


class AcquirerDataError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_amount(value, field: str) -> Decimal:
    text = str(value).strip() if value is not None else ""
    if not AMOUNT_RE.match(text):
        raise AcquirerDataError(field, f"not a CNY amount with at most two decimals: {text!r}")
    return Decimal(text)


def parse_time(value, field: str) -> datetime:
    text = str(value).strip() if value is not None else ""
    try:
        moment = parse_datetime(text)
    except ValueError:
        moment = None
    if moment is None:
        raise AcquirerDataError(field, f"not an RFC 3339 time: {text!r}")
    if moment.tzinfo is None:
        raise AcquirerDataError(field, f"a time without its UTC offset is ambiguous: {text!r}")
    return moment


def parse_pattern(
    value, field: str, pattern: re.Pattern, what: str, *, required=True, echo=True
) -> str:
    """``echo=False`` for a field that may hold a full card number when it is wrong: the
    error then says how long the value was, never what it was (PANs stay out of logs)."""
    text = "" if value is None else str(value).strip()
    if not text and not required:
        return ""
    if not pattern.match(text):
        shown = repr(text[:80]) if echo else f"{len(text)} characters"
        raise AcquirerDataError(field, f"not {what}: {shown}")
    return text


def parse_choice(value, field: str, choices) -> str:
    text = "" if value is None else str(value).strip()
    if text not in choices:
        raise AcquirerDataError(field, f"{text[:40]!r} is not one of {', '.join(choices)}")
    return text


@dataclass(frozen=True)
class TransactionData:
    id: str
    merchant_id: str
    terminal_id: str
    type: str
    original_id: str
    channel: str
    amount: Decimal
    fee: Decimal
    card_masked: str
    rrn: str
    trace_no: str
    batch_no: str
    auth_code: str
    status: str
    occurred_at: datetime
    payout_id: str

    @property
    def card_last4(self) -> str:
        return self.card_masked[-4:] if self.card_masked else ""


# [0-9], not \d: \d also takes full-width and Arabic-Indic digits, which no search would find.
DIGITS = {n: re.compile(rf"^[0-9]{{{n}}}$") for n in (6, 12)}
AUTH_CODE_RE = re.compile(r"^[A-Za-z0-9]{1,6}$")


def parse_transaction(payload) -> TransactionData:
    """A transaction as ACQUIRER_API.md describes it, checked field by field."""
    if not isinstance(payload, dict):
        raise AcquirerDataError("transaction", "not a JSON object")
    kind = parse_choice(payload.get("type"), "type", Transaction.Type.values)
    original_id = parse_pattern(
        payload.get("original_id"), "original_id", ID_RE, "a transaction ID", required=False
    )
    if kind != Transaction.Type.SALE and not original_id:
        raise AcquirerDataError("original_id", f"a {kind} must name the transaction it undoes")
    channel = parse_choice(payload.get("channel"), "channel", Channel.values)
    card_masked = parse_pattern(
        payload.get("card_masked"),
        "card_masked",
        CARD_MASKED_RE,
        "a masked card number",
        required=False,
        echo=False,
    )
    if channel in (Channel.DEBIT_CARD, Channel.CREDIT_CARD) and not card_masked:
        raise AcquirerDataError("card_masked", "a card payment needs its masked card number")
    amount = parse_amount(payload.get("amount"), "amount")
    if amount == 0:
        raise AcquirerDataError("amount", "a transaction of ¥0.00 is not a transaction")
    return TransactionData(
        id=parse_pattern(payload.get("id"), "id", ID_RE, "a transaction ID"),
        merchant_id=parse_pattern(
            payload.get("merchant_id"), "merchant_id", MID_RE, "a 15-digit MID"
        ),
        terminal_id=parse_pattern(
            payload.get("terminal_id"), "terminal_id", TID_RE, "an 8-digit TID"
        ),
        type=kind,
        original_id=original_id,
        channel=channel,
        amount=amount,
        fee=parse_amount(payload.get("fee"), "fee"),
        card_masked=card_masked,
        rrn=parse_pattern(
            payload.get("rrn"), "rrn", DIGITS[12], "a 12-digit reference", required=False
        ),
        trace_no=parse_pattern(
            payload.get("trace_no"),
            "trace_no",
            DIGITS[6],
            "a 6-digit voucher number",
            required=False,
        ),
        batch_no=parse_pattern(
            payload.get("batch_no"), "batch_no", DIGITS[6], "a 6-digit batch number", required=False
        ),
        auth_code=parse_pattern(
            payload.get("auth_code"),
            "auth_code",
            AUTH_CODE_RE,
            "an authorisation code",
            required=False,
        ),
        status=parse_choice(payload.get("status"), "status", Transaction.Status.values),
        occurred_at=parse_time(payload.get("occurred_at"), "occurred_at"),
        payout_id=parse_pattern(
            payload.get("payout_id"), "payout_id", ID_RE, "a payout ID", required=False
        ),
    )


@dataclass(frozen=True)
class PayoutData:
    id: str
    merchant_id: str
    settlement_date: date
    gross_amount: Decimal
    fee_amount: Decimal
    adjustment_amount: Decimal
    net_amount: Decimal
    transaction_count: int
    status: str
    reason_code: str
    reason: str
    expected_at: datetime
    bank_reference: str
    paid_at: datetime | None
    account_masked: str
    bank_name: str
    updated_at: datetime
    # An extension (docs/acquirer-api.md): T+1 unless the acquirer says D0.
    cycle: str = "t1"


REASON_CODE_RE = re.compile(r"^[A-Z0-9_]{1,40}$")
ACCOUNT_MASKED_RE = re.compile(r"^[0-9]{0,6}\*{2,30}[0-9]{0,4}$")


def parse_date(value, field: str) -> date:
    text = "" if value is None else str(value).strip()
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise AcquirerDataError(field, f"not a date like 2026-11-26: {text[:40]!r}") from None


def parse_count(value, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10_000_000:
        raise AcquirerDataError(field, f"not a count: {str(value)[:40]!r}")
    return value


def parse_text(value, field: str, *, max_length: int) -> str:
    """Free text from the acquirer (a bank's reason): kept as sent, without control
    characters, cut to what the column holds."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise AcquirerDataError(field, "not a text")
    return "".join(c for c in value if c.isprintable()).strip()[:max_length]


def parse_payout(payload) -> PayoutData:
    """A payout as docs/acquirer-api.md describes it, checked field by field. Its net must
    be gross − fee + adjustment to the fen. A reason code this portal does not know is kept
    as sent (it is evidence); an unknown status is refused."""
    if not isinstance(payload, dict):
        raise AcquirerDataError("payout", "not a JSON object")
    amounts = {
        name: parse_amount(payload.get(name), name)
        for name in ("gross_amount", "fee_amount", "adjustment_amount", "net_amount")
    }
    expected = amounts["gross_amount"] - amounts["fee_amount"] + amounts["adjustment_amount"]
    if amounts["net_amount"] != expected:
        raise AcquirerDataError(
            "net_amount",
            f"{amounts['net_amount']} is not gross − fee + adjustment ({expected})",
        )
    status = parse_choice(payload.get("status"), "status", Payout.Status.values)
    paid_at = payload.get("paid_at")
    data = PayoutData(
        id=parse_pattern(payload.get("id"), "id", ID_RE, "a payout ID"),
        merchant_id=parse_pattern(
            payload.get("merchant_id"), "merchant_id", MID_RE, "a 15-digit MID"
        ),
        settlement_date=parse_date(payload.get("settlement_date"), "settlement_date"),
        transaction_count=parse_count(payload.get("transaction_count"), "transaction_count"),
        status=status,
        reason_code=parse_pattern(
            payload.get("reason_code"),
            "reason_code",
            REASON_CODE_RE,
            "a reason code",
            required=False,
        ),
        reason=parse_text(payload.get("reason"), "reason", max_length=255),
        expected_at=parse_time(payload.get("expected_at"), "expected_at"),
        bank_reference=parse_pattern(
            payload.get("bank_reference"),
            "bank_reference",
            ID_RE,
            "a bank reference",
            required=False,
        ),
        paid_at=parse_time(paid_at, "paid_at") if paid_at is not None else None,
        account_masked=parse_pattern(
            payload.get("account_masked"),
            "account_masked",
            ACCOUNT_MASKED_RE,
            "a masked account number",
            required=False,
            echo=False,
        ),
        bank_name=parse_text(payload.get("bank_name"), "bank_name", max_length=100),
        updated_at=parse_time(payload.get("updated_at"), "updated_at"),
        cycle=parse_choice(
            payload.get("settlement_cycle") or Cycle.T1, "settlement_cycle", Cycle.values
        ),
        **amounts,
    )
    if status == Payout.Status.PAID and data.paid_at is None:
        raise AcquirerDataError("paid_at", "a paid payout needs the time it was paid")
    return data
