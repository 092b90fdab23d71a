"""Reads of the ledger for merchant pages and the API, always scoped to one merchant.

Every list and summary here runs a fixed number of queries however much data the merchant
has: aggregates are computed in the database, related rows are joined or prefetched.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.shortcuts import get_object_or_404
from django.utils import timezone

from portal.models import Merchant
from settlements import calendar
from settlements.models import Payout, PayoutEvent, Transaction

ZERO = Decimal("0.00")


def local_day_start(day: date) -> datetime:
    return calendar.at_local_time(day, datetime.min.time())


# -- Transactions -------------------------------------------------------------------------------


def with_anomalies(queryset: QuerySet[Transaction], *, today: date | None = None):
    """Annotate what a merchant should notice about each transaction: undone by a void or
    reversal, (partly) refunded, and approved but still in no payout after its settlement
    date."""
    today = today or timezone.localdate()
    undone = Transaction.objects.filter(original=OuterRef("pk"), status=Transaction.Status.APPROVED)
    return queryset.annotate(
        is_reversed=Exists(
            undone.filter(type__in=[Transaction.Type.REVERSAL, Transaction.Type.VOID])
        ),
        is_refunded=Exists(undone.filter(type=Transaction.Type.REFUND)),
        is_unsettled_late=Case(
            When(
                status=Transaction.Status.APPROVED,
                payout__isnull=True,
                settlement_date__lt=today,
                then=Value(True),
            ),
            default=Value(False),
            output_field=BooleanField(),
        ),
    )


def transaction_list(*, merchant: Merchant) -> QuerySet[Transaction]:
    """The merchant's transactions, newest first, with their payout and anomaly flags."""
    return with_anomalies(
        Transaction.objects.filter(merchant=merchant)
        .select_related("payout")
        .order_by("-occurred_at", "-pk")
    )


def transaction_get(*, merchant: Merchant, public_id) -> Transaction:
    """One of the merchant's transactions, or 404: another merchant's looks missing."""
    payouts = Payout.objects.with_lateness()
    return get_object_or_404(
        transaction_list(merchant=merchant)
        .select_related(None)
        .select_related("original")
        .prefetch_related(Prefetch("payout", queryset=payouts)),
        public_id=public_id,
    )


def transaction_undone_by(*, record: Transaction) -> list[Transaction]:
    return list(
        Transaction.objects.filter(original=record, merchant_id=record.merchant_id).order_by(
            "occurred_at", "pk"
        )
    )


@dataclass(frozen=True)
class Totals:
    count: int = 0
    approved_count: int = 0
    amount: Decimal = ZERO
    fee: Decimal = ZERO
    net: Decimal = ZERO


def transaction_totals(queryset: QuerySet[Transaction]) -> Totals:
    """Count of all rows and money of the approved ones, in one query."""
    approved = Q(status=Transaction.Status.APPROVED)
    row = queryset.order_by().aggregate(
        count=Count("pk"),
        approved_count=Count("pk", filter=approved),
        amount=Sum("amount", filter=approved),
        fee=Sum("fee", filter=approved),
        net=Sum("net", filter=approved),
    )
    return Totals(
        count=row["count"],
        approved_count=row["approved_count"],
        amount=row["amount"] or ZERO,
        fee=row["fee"] or ZERO,
        net=row["net"] or ZERO,
    )


# -- Payouts ------------------------------------------------------------------------------------


def payout_list(*, merchant: Merchant) -> QuerySet[Payout]:
    return (
        Payout.objects.filter(merchant=merchant).with_lateness().order_by("-settlement_date", "-pk")
    )


def payout_get(*, merchant: Merchant, public_id) -> Payout:
    """One of the merchant's payouts with its timeline, or 404."""
    return get_object_or_404(
        payout_list(merchant=merchant).prefetch_related(
            Prefetch("events", queryset=PayoutEvent.objects.order_by("occurred_at", "pk"))
        ),
        public_id=public_id,
    )


def payout_transactions(*, payout: Payout) -> QuerySet[Transaction]:
    return with_anomalies(
        payout.transactions.filter(merchant_id=payout.merchant_id).order_by("-occurred_at", "-pk")
    )


def payout_composition(*, payout: Payout) -> list[tuple[str, Totals]]:
    """What the payout carries, by transaction type in the order merchants read them (sales,
    then what was given back), in one query."""
    rows = {
        row["type"]: row
        for row in payout.transactions.filter(merchant_id=payout.merchant_id)
        .order_by()
        .values("type")
        .annotate(count=Count("pk"), amount=Sum("amount"), fee=Sum("fee"), net=Sum("net"))
    }
    return [
        (
            label,
            Totals(
                count=rows[kind]["count"],
                approved_count=rows[kind]["count"],
                amount=rows[kind]["amount"],
                fee=rows[kind]["fee"],
                net=rows[kind]["net"],
            ),
        )
        for kind, label in Transaction.Type.choices
        if kind in rows
    ]


# -- Dashboard ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayPoint:
    day: date
    takings: Decimal
    count: int
    payouts: Decimal


@dataclass
class Dashboard:
    today: date
    today_takings: Decimal
    today_count: int
    month_takings: Decimal
    month_count: int
    unpaid: Decimal
    next_payout: Payout | None
    next_settlement: tuple[date, datetime, Decimal] | None
    late_payouts: list[Payout]
    recent_payouts: list[Payout]
    series: list[DayPoint] = field(default_factory=list)


def dashboard_summary(
    *, merchant: Merchant, now: datetime | None = None, chart_days: int = 30
) -> Dashboard:
    """Everything the merchant's dashboard shows, in a fixed number of queries whatever the
    history."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    month_start = today.replace(day=1)
    chart_start = today - timedelta(days=chart_days - 1)
    first_day = min(month_start, chart_start)
    sale_or_undo = Q(status=Transaction.Status.APPROVED)
    is_sale = Q(type=Transaction.Type.SALE)

    mine = Transaction.objects.filter(merchant=merchant)
    tomorrow = local_day_start(today + timedelta(days=1))
    takings = mine.filter(
        occurred_at__gte=local_day_start(first_day), occurred_at__lt=tomorrow
    ).aggregate(
        today_takings=Sum(
            "amount", filter=sale_or_undo & Q(occurred_at__gte=local_day_start(today))
        ),
        today_count=Count(
            "pk", filter=sale_or_undo & is_sale & Q(occurred_at__gte=local_day_start(today))
        ),
        month_takings=Sum(
            "amount", filter=sale_or_undo & Q(occurred_at__gte=local_day_start(month_start))
        ),
        month_count=Count(
            "pk",
            filter=sale_or_undo & is_sale & Q(occurred_at__gte=local_day_start(month_start)),
        ),
    )

    # Not yet paid out: what unpaid payouts carry, plus approved money in no payout yet.
    in_unpaid_payouts = (
        Payout.objects.filter(merchant=merchant)
        .unpaid()
        .aggregate(total=Sum("net_amount"))["total"]
        or ZERO
    )
    waiting = (
        mine.not_in_payout().order_by().aggregate(total=Sum("net"), first=Min("settlement_date"))
    )
    unpaid = in_unpaid_payouts + (waiting["total"] or ZERO)

    payouts = Payout.objects.filter(merchant=merchant)
    next_payout = (
        payouts.unpaid()
        .filter(expected_at__gte=now)
        .with_lateness(now)
        .order_by("expected_at", "pk")
        .first()
    )
    next_settlement = None
    if next_payout is None and waiting["first"] is not None:
        # No payout scheduled yet: the money waiting is expected with its settlement date.
        next_settlement = (
            waiting["first"],
            calendar.expected_arrival(waiting["first"], merchant_cycle(merchant)),
            waiting["total"] or ZERO,
        )
    late = list(payouts.overdue(now).with_lateness(now).order_by("expected_at", "pk")[:20])
    recent = list(payouts.with_lateness(now).order_by("-settlement_date", "-pk")[:6])

    series = daily_series(merchant=merchant, start=chart_start, end=today)
    return Dashboard(
        today=today,
        today_takings=takings["today_takings"] or ZERO,
        today_count=takings["today_count"],
        month_takings=takings["month_takings"] or ZERO,
        month_count=takings["month_count"],
        unpaid=unpaid,
        next_payout=next_payout,
        next_settlement=next_settlement,
        late_payouts=late,
        recent_payouts=recent,
        series=series,
    )


def merchant_cycle(merchant: Merchant) -> str:
    schedule = merchant.fee_schedule
    return schedule.settlement_cycle if schedule else "t1"


def daily_series(*, merchant: Merchant, start: date, end: date) -> list[DayPoint]:
    """Takings per Beijing day and payouts per settlement date, for each day start..end."""
    tz = ZoneInfo(settings.TIME_ZONE)
    takings = {
        row["day"]: row
        for row in Transaction.objects.filter(
            merchant=merchant,
            status=Transaction.Status.APPROVED,
            occurred_at__gte=local_day_start(start),
            occurred_at__lt=local_day_start(end + timedelta(days=1)),
        )
        .annotate(day=TruncDate("occurred_at", tzinfo=tz))
        .order_by()
        .values("day")
        .annotate(
            amount=Sum("amount"),
            count=Count("pk", filter=Q(type=Transaction.Type.SALE)),
        )
    }
    payouts = dict(
        Payout.objects.filter(merchant=merchant, settlement_date__range=(start, end))
        .order_by()
        .values("settlement_date")
        .annotate(total=Sum("net_amount"))
        .values_list("settlement_date", "total")
    )
    points = []
    day = start
    while day <= end:
        row = takings.get(day, {})
        points.append(
            DayPoint(
                day=day,
                takings=row.get("amount") or ZERO,
                count=row.get("count") or 0,
                payouts=payouts.get(day) or ZERO,
            )
        )
        day += timedelta(days=1)
    return points
