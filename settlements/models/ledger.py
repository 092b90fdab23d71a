"""The ledger: transactions, payouts and their timelines, the business-day calendar, and the
reconciliation of the acquirer's daily files against what the portal holds.

Amounts are signed from the merchant's point of view: a sale is positive, a refund, void or
reversal negative, and so are the fees they return. Sums are therefore plain SUMs.
"""

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from core.models import Source, StatusEvent
from portal.models import FeeSchedule, Merchant, User
from portal.models.onboarding import localized

MONEY = {"max_digits": 14, "decimal_places": 2}
# SQLite keeps decimals as binary floats, so 1234.56 - 7.41 is 1227.1499999999999 there; two
# amounts of whole fen are equal when they are this close, and on PostgreSQL (exact numeric)
# this is plain equality.
FEN_TOLERANCE = Decimal("0.001")


def within_a_fen(field: str, expected) -> Q:
    return Q(
        **{f"{field}__gte": expected - FEN_TOLERANCE, f"{field}__lte": expected + FEN_TOLERANCE}
    )


class Channel(models.TextChoices):
    DEBIT_CARD = "debit_card", _("Debit card")
    CREDIT_CARD = "credit_card", _("Credit card")
    UNIONPAY_QR = "unionpay_qr", _("UnionPay QR")
    WECHAT_PAY = "wechat_pay", _("WeChat Pay")
    ALIPAY = "alipay", _("Alipay")


CARD_CHANNELS = frozenset({Channel.DEBIT_CARD, Channel.CREDIT_CARD})

Cycle = FeeSchedule.Cycle


class TransactionQuerySet(models.QuerySet):
    def approved(self):
        return self.filter(status=Transaction.Status.APPROVED)

    def not_in_payout(self):
        return self.filter(status=Transaction.Status.APPROVED, payout__isnull=True)


class Transaction(models.Model):
    """One card or QR payment, refund, void or reversal, as the acquirer reported it, with the
    fee the portal computes from the merchant's fee schedule beside the acquirer's."""

    class Type(models.TextChoices):
        SALE = "sale", _("Sale")
        REFUND = "refund", _("Refund")
        REVERSAL = "reversal", _("Reversal")
        VOID = "void", _("Void")

    UNDOING_TYPES = frozenset({Type.REFUND, Type.REVERSAL, Type.VOID})

    class Status(models.TextChoices):
        # A card payment's result reads 成功/失败 in Chinese, not an application's 已批准/已拒绝.
        APPROVED = "approved", pgettext_lazy("transaction result", "Approved")
        DECLINED = "declined", pgettext_lazy("transaction result", "Declined")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    acquirer = models.CharField(_("acquirer"), max_length=20)
    acquirer_id = models.CharField(_("acquirer transaction ID"), max_length=64)
    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.PROTECT,
        related_name="transactions",
        verbose_name=_("merchant"),
    )
    tid = models.CharField(_("terminal ID (TID)"), max_length=8)
    type = models.CharField(_("type"), max_length=10, choices=Type.choices)
    original = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="undone_by",
        verbose_name=_("original transaction"),
    )
    original_acquirer_id = models.CharField(_("original transaction ID"), max_length=64, blank=True)
    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices)
    amount = models.DecimalField(_("amount"), **MONEY)
    fee = models.DecimalField(_("fee"), **MONEY)
    acquirer_fee = models.DecimalField(_("fee charged by the acquirer"), **MONEY)
    net = models.DecimalField(_("net"), **MONEY)
    fee_mismatch = models.BooleanField(_("fee differs from the acquirer's"), default=False)
    card_masked = models.CharField(_("card"), max_length=19, blank=True)
    card_last4 = models.CharField(_("card last four"), max_length=4, blank=True)
    rrn = models.CharField(_("reference number (RRN)"), max_length=12, blank=True)
    trace_no = models.CharField(_("voucher number"), max_length=6, blank=True)
    batch_no = models.CharField(_("batch number"), max_length=6, blank=True)
    auth_code = models.CharField(_("authorisation code"), max_length=6, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    occurred_at = models.DateTimeField(_("time"))
    settlement_cycle = models.CharField(
        _("settlement cycle"), max_length=2, choices=Cycle.choices, default=Cycle.T1
    )
    settlement_date = models.DateField(_("settlement date"), null=True, blank=True)
    payout = models.ForeignKey(
        "settlements.Payout",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transactions",
        verbose_name=_("payout"),
    )
    acquirer_payout_id = models.CharField(_("acquirer payout ID"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = TransactionQuerySet.as_manager()

    class Meta:
        verbose_name = _("transaction")
        verbose_name_plural = _("transactions")
        ordering = ["-occurred_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["acquirer", "acquirer_id"], name="settlements_transaction_acquirer_id"
            ),
            models.CheckConstraint(
                condition=within_a_fen("net", F("amount") - F("fee")),
                name="settlements_transaction_net",
            ),
            models.CheckConstraint(
                condition=Q(fee_mismatch=True, fee__lt=F("acquirer_fee"))
                | Q(fee_mismatch=True, fee__gt=F("acquirer_fee"))
                | Q(fee_mismatch=False, fee=F("acquirer_fee")),
                name="settlements_transaction_fee_mismatch",
            ),
            models.CheckConstraint(
                condition=Q(type="sale", amount__gte=0)
                | Q(type__in=["refund", "reversal", "void"], amount__lte=0),
                name="settlements_transaction_amount_sign",
            ),
            models.CheckConstraint(
                condition=Q(status="declined") | Q(settlement_date__isnull=False),
                name="settlements_transaction_approved_has_settlement_date",
            ),
        ]
        indexes = [
            # The merchant's list, newest first, and every date-range filter and total.
            models.Index(
                fields=["merchant", "-occurred_at", "-id"], name="settlements_txn_merchant_time"
            ),
            models.Index(fields=["merchant", "rrn"], name="settlements_txn_merchant_rrn"),
            models.Index(fields=["merchant", "card_last4"], name="settlements_txn_merchant_card"),
            models.Index(
                fields=["merchant", "tid", "-occurred_at"], name="settlements_txn_merchant_tid"
            ),
            # Money not yet in a payout: small, and read on every dashboard.
            models.Index(
                fields=["merchant", "settlement_date"],
                condition=Q(payout__isnull=True, status="approved"),
                name="settlements_txn_unsettled",
            ),
            models.Index(fields=["acquirer", "settlement_date"], name="settlements_txn_settle_day"),
        ]

    def __str__(self):
        return f"{self.get_type_display()} {self.amount} ({self.acquirer_id})"

    @property
    def is_approved(self) -> bool:
        return self.status == self.Status.APPROVED


def late_since(now: datetime | None = None) -> datetime:
    """The moment before which an unpaid payout's expected arrival makes it late: a payout is
    late ("24 小时未到账") when it is not paid ``PAYOUT_LATE_AFTER`` after its expected arrival.

    Lateness is derived, never stored, and defined here alone: ``Payout.late()`` turns this
    into the condition every query, page and job uses.
    """
    return (now or timezone.now()) - settings.PAYOUT_LATE_AFTER


class PayoutQuerySet(models.QuerySet):
    def overdue(self, now=None):
        """Late payouts. The partial index on unpaid payouts' ``expected_at`` keeps this cheap
        however many paid payouts pile up."""
        return self.filter(Payout.late(now))

    def not_overdue(self, now=None):
        return self.exclude(Payout.late(now))

    def with_lateness(self, now=None):
        """Each payout annotated with ``is_late``, for pages and the API."""
        return self.annotate(
            is_late=Case(
                When(Payout.late(now), then=Value(True)),
                default=Value(False),
                output_field=models.BooleanField(),
            )
        )

    def unpaid(self):
        return self.exclude(status=Payout.Status.PAID)


class Payout(models.Model):
    """The money sent to a merchant's settlement account for one settlement date."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        PROCESSING = "processing", _("Processing")
        PAID = "paid", _("Paid")
        RETURNED = "returned", _("Returned by the bank")
        HELD = "held", _("Held for review")
        FAILED = "failed", _("Failed")

    # The acquirer is the source of truth and a poll can miss steps, so forward jumps are
    # allowed; going back to scheduled or processing only after a bounce, hold or failure.
    ALLOWED_TRANSITIONS = {
        Status.SCHEDULED: {
            Status.PROCESSING,
            Status.PAID,
            Status.RETURNED,
            Status.HELD,
            Status.FAILED,
        },
        Status.PROCESSING: {Status.PAID, Status.RETURNED, Status.HELD, Status.FAILED},
        Status.HELD: {
            Status.SCHEDULED,
            Status.PROCESSING,
            Status.PAID,
            Status.RETURNED,
            Status.FAILED,
        },
        Status.FAILED: {Status.SCHEDULED, Status.PROCESSING, Status.PAID},
        Status.RETURNED: {Status.SCHEDULED, Status.PROCESSING, Status.PAID},
        # A bank can bounce a transfer (退票) a day after the acquirer reported it paid.
        Status.PAID: {Status.RETURNED},
    }

    class ReasonCode(models.TextChoices):
        BANK_PROCESSING_DELAY = "BANK_PROCESSING_DELAY", _("Bank processing delay")
        BANK_HOLIDAY = "BANK_HOLIDAY", _("Bank holiday")
        ACCOUNT_NAME_MISMATCH = "ACCOUNT_NAME_MISMATCH", _("Account name does not match")
        ACCOUNT_CLOSED = "ACCOUNT_CLOSED", _("Account closed")
        INVALID_ACCOUNT_NUMBER = "INVALID_ACCOUNT_NUMBER", _("Invalid account number")
        CHANNEL_UNAVAILABLE = "CHANNEL_UNAVAILABLE", _("Payment channel unavailable")
        RISK_REVIEW = "RISK_REVIEW", _("Risk review")
        FRAUD_SUSPECTED = "FRAUD_SUSPECTED", _("Suspected fraud")
        LIMIT_EXCEEDED = "LIMIT_EXCEEDED", _("Limit exceeded")
        UNKNOWN = "UNKNOWN", _("Unknown")

    class Cause(models.TextChoices):
        BANK_DELAY = "bank_delay", _("Bank processing delay")
        ACCOUNT_ERROR = "account_error", _("Account information error")
        CHANNEL_FAULT = "channel_fault", _("Payment channel fault")
        RISK_HOLD = "risk_hold", _("Risk hold")
        UNKNOWN = "unknown", _("Unknown")

    CAUSE_OF_REASON = {
        ReasonCode.BANK_PROCESSING_DELAY: Cause.BANK_DELAY,
        ReasonCode.BANK_HOLIDAY: Cause.BANK_DELAY,
        ReasonCode.ACCOUNT_NAME_MISMATCH: Cause.ACCOUNT_ERROR,
        ReasonCode.ACCOUNT_CLOSED: Cause.ACCOUNT_ERROR,
        ReasonCode.INVALID_ACCOUNT_NUMBER: Cause.ACCOUNT_ERROR,
        ReasonCode.CHANNEL_UNAVAILABLE: Cause.CHANNEL_FAULT,
        ReasonCode.RISK_REVIEW: Cause.RISK_HOLD,
        ReasonCode.FRAUD_SUSPECTED: Cause.RISK_HOLD,
        ReasonCode.LIMIT_EXCEEDED: Cause.RISK_HOLD,
        ReasonCode.UNKNOWN: Cause.UNKNOWN,
    }

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    acquirer = models.CharField(_("acquirer"), max_length=20)
    acquirer_id = models.CharField(_("acquirer payout ID"), max_length=64)
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="payouts", verbose_name=_("merchant")
    )
    settlement_date = models.DateField(_("settlement date"))
    cycle = models.CharField(
        _("settlement cycle"), max_length=2, choices=Cycle.choices, default=Cycle.T1
    )
    gross_amount = models.DecimalField(_("gross"), **MONEY)
    fee_amount = models.DecimalField(_("fees"), **MONEY)
    adjustment_amount = models.DecimalField(_("adjustments"), default=0, **MONEY)
    net_amount = models.DecimalField(_("net"), **MONEY)
    transaction_count = models.PositiveIntegerField(_("transactions"), default=0)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.SCHEDULED
    )
    # Kept as the acquirer sent it: a code this portal does not know yet is still evidence.
    reason_code = models.CharField(_("reason code"), max_length=40, blank=True)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    expected_at = models.DateTimeField(_("expected arrival"))
    bank_reference = models.CharField(_("bank reference"), max_length=64, blank=True)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    account_masked = models.CharField(_("settlement account"), max_length=40, blank=True)
    bank_name = models.CharField(_("bank"), max_length=100, blank=True)
    acquirer_updated_at = models.DateTimeField(_("acquirer's last change"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = PayoutQuerySet.as_manager()

    class Meta:
        verbose_name = _("payout")
        verbose_name_plural = _("payouts")
        ordering = ["-settlement_date", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["acquirer", "acquirer_id"], name="settlements_payout_acquirer_id"
            ),
            models.CheckConstraint(
                condition=within_a_fen(
                    "net_amount", F("gross_amount") - F("fee_amount") + F("adjustment_amount")
                ),
                name="settlements_payout_net",
            ),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(paid_at__isnull=False),
                name="settlements_payout_paid_has_time",
            ),
        ]
        indexes = [
            models.Index(
                fields=["merchant", "-settlement_date", "-id"],
                name="settlements_payout_merchant",
            ),
            # overdue(): unpaid payouts by expected arrival. Paid ones, the vast majority, are
            # not in this index at all.
            models.Index(
                fields=["expected_at"],
                condition=~Q(status="paid"),
                name="settlements_payout_unpaid_due",
            ),
            models.Index(
                fields=["merchant", "expected_at"],
                condition=~Q(status="paid"),
                name="settlements_payout_m_unpaid",
            ),
        ]

    def __str__(self):
        return f"{self.acquirer_id} ({self.settlement_date})"

    @property
    def known_reason_code(self) -> str:
        """The reason code, or UNKNOWN for one this portal has not heard of."""
        if not self.reason_code:
            return ""
        if self.reason_code in self.ReasonCode.values:
            return self.reason_code
        return self.ReasonCode.UNKNOWN

    @property
    def cause(self) -> str:
        code = self.known_reason_code
        return self.CAUSE_OF_REASON[code] if code else ""

    def get_cause_display(self) -> str:
        return self.Cause(self.cause).label if self.cause else ""

    def get_reason_code_display(self) -> str:
        code = self.known_reason_code
        return self.ReasonCode(code).label if code else ""

    @classmethod
    def late(cls, now=None) -> Q:
        """The condition of a late payout (see ``late_since``)."""
        return ~Q(status=cls.Status.PAID) & Q(expected_at__lt=late_since(now))

    @classmethod
    def reason_codes_for_cause(cls, cause: str) -> list[str]:
        return [code for code, of in cls.CAUSE_OF_REASON.items() if of == cause]


class PayoutEvent(StatusEvent):
    """A payout's status change: from, to, why, who or what reported it, and when the acquirer
    saw it (``occurred_at``; ``created_at`` is when the portal learnt it)."""

    Source = Source

    payout = models.ForeignKey(Payout, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=12, choices=Payout.Status.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=Payout.Status.choices)
    reason_code = models.CharField(max_length=40, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)

    class Meta(StatusEvent.Meta):
        ordering = ["occurred_at", "pk"]
        verbose_name = _("payout event")
        verbose_name_plural = _("payout events")


class CalendarYear(models.Model):
    """A year the business-day calendar has official data for.

    A year without a row falls back to "weekends are off", with a warning in the logs and on
    the calendar's admin page, until staff enter the State Council's schedule.
    """

    class Source(models.TextChoices):
        LIBRARY = "library", _("Holiday library")
        STAFF = "staff", _("Entered by staff")

    year = models.PositiveSmallIntegerField(_("year"), unique=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    created_at = models.DateTimeField(_("added"), auto_now_add=True)

    class Meta:
        ordering = ["year"]
        verbose_name = _("calendar year")
        verbose_name_plural = _("calendar years")

    def __str__(self):
        return str(self.year)


class CalendarDay(models.Model):
    """A day that breaks the weekday rule: a public holiday, or a weekend working day (调休)."""

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("Holiday (banks closed)")
        WORKDAY = "workday", _("Adjusted working day (调休)")

    date = models.DateField(_("date"), unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("name (Chinese)"), max_length=60, blank=True)
    name_en = models.CharField(_("name (English)"), max_length=60, blank=True)
    source = models.CharField(
        _("source"),
        max_length=10,
        choices=CalendarYear.Source.choices,
        default=CalendarYear.Source.STAFF,
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["date"]
        verbose_name = _("calendar day")
        verbose_name_plural = _("business-day calendar")

    def __str__(self):
        return f"{self.date} {self.get_kind_display()}"

    @property
    def display_name(self) -> str:
        return localized(self.name, self.name_en)


class ReconciliationRunQuerySet(models.QuerySet):
    def current(self):
        """Runs not replaced by a later import of the same file."""
        return self.exclude(status=ReconciliationRun.Status.SUPERSEDED)


class ReconciliationRun(models.Model):
    """One import of an acquirer's reconciliation file and what matching it found."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        LOADING = "loading", _("Loading")
        MATCHING = "matching", _("Matching")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        SUPERSEDED = "superseded", _("Superseded by a later import")

    # Loading and matching happen in one database transaction per attempt, so a killed worker
    # leaves the run "loading"; the next attempt starts over from there, and a failed run may
    # be tried again. An operator may import a file again on purpose: the run it replaces is
    # superseded (its discrepancies stay, for the record).
    ALLOWED_TRANSITIONS = {
        Status.PENDING: {Status.LOADING, Status.FAILED},
        Status.LOADING: {Status.LOADING, Status.MATCHING, Status.FAILED},
        Status.MATCHING: {Status.DONE, Status.FAILED},
        Status.DONE: {Status.SUPERSEDED},
        Status.FAILED: {Status.LOADING, Status.SUPERSEDED},
        Status.SUPERSEDED: set(),
    }

    acquirer = models.CharField(_("acquirer"), max_length=20)
    settlement_date = models.DateField(_("settlement date"))
    file_name = models.CharField(_("file"), max_length=255)
    # Where the file waits for the worker (private storage); emptied once it is imported.
    stored_file = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    line_count = models.PositiveIntegerField(_("lines"), default=0)
    matched_count = models.PositiveIntegerField(_("matched"), default=0)
    discrepancy_count = models.PositiveIntegerField(_("discrepancies"), default=0)
    malformed_count = models.PositiveIntegerField(_("malformed lines"), default=0)
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("started by"),
    )
    created_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = ReconciliationRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("reconciliation run")
        verbose_name_plural = _("reconciliation runs")
        constraints = [
            # Importing the same file twice finds this row instead of matching again (unless an
            # operator forces a new import, which supersedes it).
            models.UniqueConstraint(
                fields=["acquirer", "sha256"],
                condition=~Q(status="superseded"),
                name="settlements_reconciliation_file_once",
            ),
        ]

    def __str__(self):
        return f"{self.settlement_date} · {self.file_name}"

    @property
    def duration(self) -> timedelta | None:
        return self.finished_at - self.created_at if self.finished_at else None


class ReconciliationRunEvent(StatusEvent):
    """A reconciliation run's status change: each attempt, its outcome and why it failed."""

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(
        max_length=10, choices=ReconciliationRun.Status.choices, blank=True
    )
    to_status = models.CharField(max_length=10, choices=ReconciliationRun.Status.choices)

    class Meta(StatusEvent.Meta):
        verbose_name = _("reconciliation run event")
        verbose_name_plural = _("reconciliation run events")


class ReconciliationLine(models.Model):
    """A well-formed line of a reconciliation file, staged for matching in SQL.

    Staging rows live only while their run matches; on PostgreSQL they arrive by COPY.
    """

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="+")
    line_no = models.PositiveIntegerField()
    transaction_id = models.CharField(max_length=64)
    merchant_id = models.CharField(max_length=15)
    terminal_id = models.CharField(max_length=8)
    type = models.CharField(max_length=10)
    channel = models.CharField(max_length=12)
    amount = models.DecimalField(**MONEY)
    fee = models.DecimalField(**MONEY)
    net = models.DecimalField(**MONEY)
    rrn = models.CharField(max_length=12, blank=True)
    trace_no = models.CharField(max_length=6, blank=True)
    occurred_at = models.DateTimeField()
    payout_id = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["run", "transaction_id"], name="settlements_recline_txn"),
        ]

    def __str__(self):
        return f"{self.run_id}:{self.line_no} {self.transaction_id}"


class Discrepancy(models.Model):
    """A difference between the acquirer's file and the portal's ledger, for finance to clear."""

    class Kind(models.TextChoices):
        MISSING_HERE = "missing_here", _("In the acquirer's file, not in the portal")
        MISSING_THERE = "missing_there", _("In the portal, not in the acquirer's file")
        AMOUNT = "amount", _("Amount differs")
        FEE = "fee", _("Fee differs")
        MALFORMED = "malformed", _("Malformed line")

    run = models.ForeignKey(
        ReconciliationRun,
        on_delete=models.CASCADE,
        related_name="discrepancies",
        verbose_name=_("reconciliation run"),
    )
    kind = models.CharField(_("kind"), max_length=15, choices=Kind.choices)
    line_no = models.PositiveIntegerField(_("line"), null=True, blank=True)
    acquirer_transaction_id = models.CharField(_("transaction ID"), max_length=64, blank=True)
    transaction = models.ForeignKey(
        Transaction,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="discrepancies",
        verbose_name=_("transaction"),
    )
    ours = models.CharField(_("portal's value"), max_length=64, blank=True)
    theirs = models.CharField(_("acquirer's value"), max_length=64, blank=True)
    detail = models.TextField(_("detail"), blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    resolution_note = models.TextField(_("resolution"), blank=True)

    class Meta:
        ordering = ["run", "kind", "line_no", "pk"]
        verbose_name = _("discrepancy")
        verbose_name_plural = _("discrepancies")
        indexes = [
            models.Index(
                fields=["run", "kind"],
                condition=Q(resolved_at__isnull=True),
                name="settlements_discrepancy_open",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.acquirer_transaction_id or self.line_no}"
