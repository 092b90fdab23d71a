"""State changes of the ledger: recording transactions, assembling payouts, moving a payout
through its statuses, and keeping the business-day calendar. Views, the admin, tasks and
commands call these; nothing else writes these tables."""

import logging
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from core import transitions
from core.models import Source
from core.transitions import TransitionNotAllowed, transition
from portal.models import Merchant, User
from settlements import calendar, ledger
from settlements.acquirer_data import AcquirerDataError, PayoutData, TransactionData
from settlements.models import (
    CalendarDay,
    CalendarYear,
    Cycle,
    Discrepancy,
    Payout,
    Transaction,
)

logger = logging.getLogger(__name__)
# Rows per INSERT when recording many transactions at once.
BULK_INSERT_BATCH = 1000


# -- Transactions -------------------------------------------------------------------------------


def transaction_record(
    *, data: TransactionData, acquirer: str | None = None
) -> tuple[Transaction, bool]:
    """Record one transaction the acquirer reported; returns (transaction, created). The same
    as ``transactions_record`` with one item (see there)."""
    return transactions_record(items=[data], acquirer=acquirer)[0]


def transactions_record(
    *, items: Sequence[TransactionData], acquirer: str | None = None
) -> list[tuple[Transaction, bool]]:
    """Record transactions the acquirer reported, in the order given (a page of the feed, a
    day of demo traffic); returns (transaction, created) for each item.

    The portal computes each fee from the merchant's fee schedule and flags a difference from
    the acquirer's. Sales of a D0 merchant count against its daily D0 limit in the order
    given, under a lock on the merchant so that two writers cannot both fit the limit. A
    refund, void or reversal that arrives before its sale is linked to it when the sale
    comes. New rows are written a few INSERTs at a time, not one by one.

    Safe to repeat and to run beside another writer: (acquirer, id) is unique, a transaction
    already recorded is returned as it is (and attached to its payout once the acquirer names
    one). Raises ``AcquirerDataError`` for a merchant the portal does not know or one without
    a fee schedule, before anything is written.
    """
    acquirer = acquirer or settings.ACQUIRER_CODE
    ids = [data.id for data in items]
    existing = {
        row.acquirer_id: row
        for row in Transaction.objects.filter(acquirer=acquirer, acquirer_id__in=ids)
    }
    for data in items:
        row = existing.get(data.id)
        if row is not None and _attach_payout(row, data.payout_id):
            row.refresh_from_db(fields=["payout", "acquirer_payout_id"])
    fresh = [data for data in items if data.id not in existing]
    merchants = {
        merchant.mid: merchant
        for merchant in Merchant.objects.select_related("fee_schedule").filter(
            mid__in={data.merchant_id for data in fresh}
        )
    }
    for data in fresh:
        merchant = merchants.get(data.merchant_id)
        if merchant is None:
            raise AcquirerDataError("merchant_id", f"no merchant {data.merchant_id} in the portal")
        if merchant.fee_schedule is None:
            raise AcquirerDataError(
                "merchant_id", f"merchant {data.merchant_id} has no fee schedule"
            )
    with transaction.atomic():
        built = _transactions_build(fresh, acquirer=acquirer, merchants=merchants)
        recorded = _transactions_save(list(built.values()), acquirer=acquirer)
    for row in recorded.values():
        if row.fee_mismatch:
            logger.info(
                "Fee mismatch on transaction %s: portal %s, acquirer %s",
                row.acquirer_id,
                row.fee,
                row.acquirer_fee,
            )
    outcomes, seen = [], set()
    for data in items:
        if data.id in existing or data.id in seen:
            outcomes.append((existing.get(data.id) or recorded[data.id], False))
            continue
        seen.add(data.id)
        row = recorded[data.id]
        outcomes.append((row, row.acquirer_id in built and row is built[data.id]))
    return outcomes


def _transactions_build(
    items: Sequence[TransactionData], *, acquirer: str, merchants: dict[str, Merchant]
) -> dict[str, Transaction]:
    """The unsaved rows for ``items`` (new to the portal), by acquirer id, in order."""
    wanted = {data.original_id for data in items if data.original_id} - {d.id for d in items}
    rows: dict[str, Transaction] = {
        row.acquirer_id: row
        for row in Transaction.objects.filter(acquirer=acquirer, acquirer_id__in=wanted)
    }
    payouts = {
        payout.acquirer_id: payout
        for payout in Payout.objects.filter(
            acquirer=acquirer, acquirer_id__in={d.payout_id for d in items if d.payout_id}
        )
    }
    business = calendar.business_calendar()
    d0_used: dict[tuple[int, date], Decimal] = {}
    locked: set[int] = set()
    built: dict[str, Transaction] = {}
    for data in items:
        if data.id in built:
            continue
        merchant = merchants[data.merchant_id]
        schedule = merchant.fee_schedule
        original = rows.get(data.original_id) if data.original_id else None
        if original is not None and original.merchant_id != merchant.pk:
            original = None  # another merchant's transaction is never this one's original
        cycle, settlement_date = Cycle.T1, None
        if data.status == Transaction.Status.APPROVED:
            used = ledger.ZERO
            is_sale = data.type == Transaction.Type.SALE
            if schedule.settlement_cycle == Cycle.D0 and is_sale:
                if merchant.pk not in locked:
                    # One writer at a time per merchant, or two sales could both fit the limit.
                    Merchant.objects.select_for_update().filter(pk=merchant.pk).exists()
                    locked.add(merchant.pk)
                day = calendar.local(data.occurred_at).date()
                if (merchant.pk, day) not in d0_used:
                    d0_used[(merchant.pk, day)] = _d0_used(merchant, day)
                used = d0_used[(merchant.pk, day)]
            cycle, settlement_date = calendar.settlement_for(
                schedule,
                data.occurred_at,
                amount=abs(data.amount) if is_sale else ledger.ZERO,
                d0_used=used,
                calendar=business,
            )
        row = transaction_build(
            data,
            acquirer=acquirer,
            merchant=merchant,
            original=original,
            cycle=cycle,
            settlement_date=settlement_date,
        )
        row.payout = payouts.get(data.payout_id) if data.payout_id else None
        if row.is_approved and cycle == Cycle.D0:
            key = (merchant.pk, settlement_date)
            if key not in d0_used:
                d0_used[key] = _d0_used(merchant, settlement_date)
            d0_used[key] += row.amount
        rows[data.id] = built[data.id] = row
    return built


def _transactions_save(rows: list[Transaction], *, acquirer: str) -> dict[str, Transaction]:
    """Insert ``rows`` (sales before what undoes them, as a row can point only at a saved
    original) and link undoings that came before their sale; returns every row by acquirer
    id, the one already in the database where another writer got there first."""
    saved: dict[str, Transaction] = {}
    waiting = rows
    while waiting:
        for row in waiting:
            if row.original is not None and row.original.acquirer_id in saved:
                # The original as saved: ours, or the one another writer saved first.
                row.original = saved[row.original.acquirer_id]
        ready = [row for row in waiting if row.original is None or row.original.pk]
        if not ready:  # pragma: no cover - originals come before what undoes them
            raise RuntimeError("transactions wait for originals that are never saved")
        try:
            with transaction.atomic():
                Transaction.objects.bulk_create(ready, batch_size=BULK_INSERT_BATCH)
        except IntegrityError:
            # Another writer recorded some of these a moment ago: one at a time, theirs wins.
            for row in ready:
                row.pk = None
                try:
                    with transaction.atomic():
                        row.save(force_insert=True)
                except IntegrityError:
                    row.pk = None
                    saved[row.acquirer_id] = Transaction.objects.get(
                        acquirer=acquirer, acquirer_id=row.acquirer_id
                    )
        for row in ready:
            saved.setdefault(row.acquirer_id, row)
        waiting = [row for row in waiting if row.acquirer_id not in saved]
    early = set(
        Transaction.objects.filter(
            acquirer=acquirer,
            original_acquirer_id__in=[row.acquirer_id for row in rows if row.pk],
            original__isnull=True,
        ).values_list("original_acquirer_id", flat=True)
    )
    for acquirer_id in sorted(early):
        _link_early_undoings(saved[acquirer_id])
    return saved


def transaction_build(
    data: TransactionData,
    *,
    acquirer: str,
    merchant: Merchant,
    original: Transaction | None,
    cycle: str,
    settlement_date: date | None,
) -> Transaction:
    """The unsaved ``Transaction`` for what the acquirer reported: the fee from the merchant's
    schedule for this cycle, the acquirer's fee in the signed convention beside it, and the
    mismatch flag. ``transaction_record`` and the demo's bulk loader both save these."""
    amounts = ledger.transaction_amounts(
        merchant.fee_schedule,
        type=data.type,
        channel=data.channel,
        amount=data.amount,
        approved=data.status == Transaction.Status.APPROVED,
        cycle=cycle,
        original_fee=original.fee if original is not None else None,
    )
    acquirer_fee = abs(data.fee) if data.type == Transaction.Type.SALE else -abs(data.fee)
    return Transaction(
        acquirer=acquirer,
        acquirer_id=data.id,
        merchant=merchant,
        tid=data.terminal_id,
        type=data.type,
        original=original,
        original_acquirer_id=data.original_id,
        channel=data.channel,
        amount=amounts.amount,
        fee=amounts.fee,
        acquirer_fee=acquirer_fee,
        net=amounts.net,
        fee_mismatch=amounts.fee != acquirer_fee,
        card_masked=data.card_masked,
        card_last4=data.card_last4,
        rrn=data.rrn,
        trace_no=data.trace_no,
        batch_no=data.batch_no,
        auth_code=data.auth_code,
        status=data.status,
        occurred_at=data.occurred_at,
        settlement_cycle=cycle,
        settlement_date=settlement_date,
        acquirer_payout_id=data.payout_id,
    )


def _link_early_undoings(sale: Transaction) -> None:
    """A void, reversal or refund that arrived before its sale finds it now. A void or
    reversal still in no payout then returns exactly the sale's fee, as it would have had the
    sale come first."""
    waiting = Transaction.objects.select_for_update().filter(
        acquirer=sale.acquirer,
        merchant=sale.merchant,
        original_acquirer_id=sale.acquirer_id,
        original__isnull=True,
    )
    for undoing in waiting:
        undoing.original = sale
        fields = ["original", "updated_at"]
        if (
            undoing.type in (Transaction.Type.VOID, Transaction.Type.REVERSAL)
            and undoing.is_approved
            and undoing.payout_id is None
        ):
            undoing.fee = -abs(sale.fee)
            undoing.net = undoing.amount - undoing.fee
            undoing.fee_mismatch = undoing.fee != undoing.acquirer_fee
            fields += ["fee", "net", "fee_mismatch"]
        undoing.save(update_fields=fields)


def _d0_used(merchant: Merchant, day: date):
    # What already settles D0 that day, net of voids and refunds: an undone sale frees its
    # share of the limit.
    return (
        Transaction.objects.filter(
            merchant=merchant,
            status=Transaction.Status.APPROVED,
            settlement_cycle=Cycle.D0,
            settlement_date=day,
        ).aggregate(total=Sum("amount"))["total"]
        or ledger.ZERO
    )


def _attach_payout(record: Transaction, payout_id: str) -> bool:
    if not payout_id or record.payout_id:
        return False
    payout = Payout.objects.filter(acquirer=record.acquirer, acquirer_id=payout_id).first()
    return bool(
        Transaction.objects.filter(pk=record.pk, payout__isnull=True).update(
            payout=payout, acquirer_payout_id=payout_id
        )
    )


# -- Payouts ------------------------------------------------------------------------------------


def payout_assemble(
    *,
    merchant: Merchant,
    settlement_date: date,
    cycle: str = Cycle.T1,
    acquirer: str | None = None,
    acquirer_id: str = "",
    adjustment=ledger.ZERO,
    now: datetime | None = None,
) -> Payout | None:
    """Gather the merchant's approved transactions for one settlement date and cycle that no
    payout carries yet into a new scheduled payout whose totals are their sums.

    This is what an acquirer does at its daily cut-off; the portal uses it for demo data and
    for acquirers that leave payout composition to it. Returns None when there is nothing to
    pay. Safe to repeat: transactions already in a payout are never taken twice.
    """
    acquirer = acquirer or settings.ACQUIRER_CODE
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(
            Transaction.objects.select_for_update()
            .not_in_payout()
            .filter(
                acquirer=acquirer,
                merchant=merchant,
                settlement_date=settlement_date,
                settlement_cycle=cycle,
            )
            .order_by("pk")
            .values_list("pk", "amount", "fee")
        )
        if not rows:
            return None
        totals = ledger.payout_totals(((amount, fee) for _pk, amount, fee in rows), adjustment)
        if not acquirer_id:
            earlier = Payout.objects.filter(
                merchant=merchant, settlement_date=settlement_date, cycle=cycle
            ).count()
            acquirer_id = (
                f"PO{settlement_date:%Y%m%d}{merchant.mid}{cycle.upper()}{earlier + 1:02d}"
            )
        application = getattr(merchant, "application", None)
        payout = Payout.objects.create(
            acquirer=acquirer,
            acquirer_id=acquirer_id,
            merchant=merchant,
            settlement_date=settlement_date,
            cycle=cycle,
            gross_amount=totals.gross,
            fee_amount=totals.fee,
            adjustment_amount=totals.adjustment,
            net_amount=totals.net,
            transaction_count=totals.count,
            expected_at=calendar.expected_arrival(settlement_date, cycle),
            account_masked=application.account_number_masked if application else "",
            bank_name=application.bank_name if application else "",
            acquirer_updated_at=now,
        )
        Transaction.objects.filter(pk__in=[pk for pk, _a, _f in rows]).update(
            payout=payout, acquirer_payout_id=acquirer_id
        )
        transitions.event_record(
            payout, from_status="", source=Source.PORTAL, event={"occurred_at": now}
        )
    return payout


def payout_apply_status(
    *,
    payout: Payout,
    status: str,
    seen_at: datetime,
    source: str = Source.ACQUIRER,
    reason_code: str = "",
    reason: str = "",
    actor: User | None = None,
    bank_reference: str = "",
    paid_at: datetime | None = None,
) -> bool:
    """Move a payout to ``status`` as reported at ``seen_at``, with an event on its timeline.

    Returns True when something changed. Safe to repeat and to receive out of order: a report
    no newer than the last one applied is ignored, and repeating the current status changes
    nothing. Refuses a move ``Payout.ALLOWED_TRANSITIONS`` does not list with
    ``TransitionNotAllowed``.
    """
    if status not in Payout.Status.values:
        raise TransitionNotAllowed(model=Payout, current=payout.status, target=status)
    reason_code = (reason_code or "").strip()[:40]
    reason = (reason or "").strip()[:255]
    with transaction.atomic():
        current = Payout.objects.select_for_update().get(pk=payout.pk)
        if current.acquirer_updated_at and seen_at <= current.acquirer_updated_at:
            return False
        if status == current.status:
            changed = Payout.objects.filter(pk=current.pk, status=current.status).update(
                acquirer_updated_at=seen_at, reason_code=reason_code, reason=reason
            )
            _copy_fields(payout, Payout.objects.get(pk=current.pk))
            return bool(changed) and (reason_code, reason) != (current.reason_code, current.reason)
        fields = {
            "reason_code": "" if status == Payout.Status.PAID else reason_code,
            "reason": "" if status == Payout.Status.PAID else reason,
            "acquirer_updated_at": seen_at,
        }
        if status == Payout.Status.PAID:
            fields["paid_at"] = paid_at or seen_at
            fields["bank_reference"] = bank_reference or current.bank_reference
        transition(
            current,
            status,
            actor=actor,
            reason=fields["reason"],
            source=source,
            updates=fields,
            event={"reason_code": fields["reason_code"], "occurred_at": seen_at},
        )
        _copy_fields(payout, current)
    return True


def _copy_fields(target: Payout, source: Payout) -> None:
    for field in Payout._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))


# -- Business-day calendar ----------------------------------------------------------------------


def calendar_seed_from_library(*, years: list[int] | None = None) -> list[int]:
    """Add the holidays and adjusted working days chinese-calendar knows for every year the
    calendar has no data for yet; returns the years added.

    Safe to repeat: a year already present, whether from the library or entered by staff,
    is left exactly as it is.
    """
    known = calendar.library_calendar()
    wanted = sorted(set(known) if years is None else set(years) & set(known))
    present = set(CalendarYear.objects.filter(year__in=wanted).values_list("year", flat=True))
    added = []
    for year in wanted:
        if year in present:
            continue
        with transaction.atomic():
            _year, created = CalendarYear.objects.get_or_create(
                year=year, defaults={"source": CalendarYear.Source.LIBRARY}
            )
            if not created:
                continue
            CalendarDay.objects.bulk_create(
                [
                    CalendarDay(
                        date=day,
                        kind=kind,
                        name=name,
                        name_en=name_en,
                        source=CalendarYear.Source.LIBRARY,
                    )
                    for day, kind, name, name_en in sorted(known[year])
                ],
                ignore_conflicts=True,
            )
            added.append(year)
    if added:
        calendar.forget_calendar()
    return added


def calendar_day_saved(*, day: CalendarDay) -> None:
    """After staff add or edit a day: its year counts as known from now on, and the cached
    calendar is dropped. Safe to repeat."""
    CalendarYear.objects.get_or_create(
        year=day.date.year, defaults={"source": CalendarYear.Source.STAFF}
    )
    calendar.forget_calendar()


def calendar_missing_years(*, around: date | None = None) -> list[int]:
    """This year and next, where the calendar has no data for them (shown to staff)."""
    year = (around or timezone.localdate()).year
    wanted = {year, year + 1}
    present = set(CalendarYear.objects.filter(year__in=wanted).values_list("year", flat=True))
    return sorted(wanted - present)


# -- Reconciliation discrepancies ---------------------------------------------------------------


def discrepancy_resolve(*, discrepancy_ids: list[int], user: User, note: str = "") -> int:
    """Mark open discrepancies as cleared by ``user``; returns how many were still open.

    Safe to repeat: one already resolved keeps its first resolver, time and note.
    """
    return Discrepancy.objects.filter(pk__in=discrepancy_ids, resolved_at__isnull=True).update(
        resolved_at=timezone.now(), resolved_by=user, resolution_note=note.strip()[:2000]
    )


def payout_record(*, data: PayoutData, acquirer: str | None = None) -> tuple[Payout, str]:
    """Record a payout as the acquirer reports it (its feed, a webhook, a query); returns the
    payout and what happened: "created", "updated", "unchanged" or "stale".

    A new payout is stored with the acquirer's totals and status, and the transactions that
    name it are attached; a known one moves to the reported status through
    ``payout_apply_status``. A report whose ``updated_at`` is not newer than the one applied
    is stale and changes nothing, so feeds and webhooks can arrive in any order. Safe to
    repeat. Raises ``AcquirerDataError`` for a merchant the portal does not know, and
    ``TransitionNotAllowed`` for a move the payout's table refuses.
    """
    acquirer = acquirer or settings.ACQUIRER_CODE
    existing = Payout.objects.filter(acquirer=acquirer, acquirer_id=data.id).first()
    if existing is not None:
        if existing.acquirer_updated_at and data.updated_at <= existing.acquirer_updated_at:
            return existing, "stale"
        changed = payout_apply_status(
            payout=existing,
            status=data.status,
            seen_at=data.updated_at,
            reason_code=data.reason_code,
            reason=data.reason,
            bank_reference=data.bank_reference,
            paid_at=data.paid_at,
        )
        return existing, "updated" if changed else "unchanged"
    merchant = Merchant.objects.filter(mid=data.merchant_id).first()
    if merchant is None:
        raise AcquirerDataError("merchant_id", f"no merchant {data.merchant_id} in the portal")
    try:
        with transaction.atomic():
            payout = Payout.objects.create(
                acquirer=acquirer,
                acquirer_id=data.id,
                merchant=merchant,
                settlement_date=data.settlement_date,
                cycle=data.cycle,
                gross_amount=data.gross_amount,
                fee_amount=data.fee_amount,
                adjustment_amount=data.adjustment_amount,
                net_amount=data.net_amount,
                transaction_count=data.transaction_count,
                status=data.status,
                reason_code="" if data.status == Payout.Status.PAID else data.reason_code,
                reason="" if data.status == Payout.Status.PAID else data.reason,
                expected_at=data.expected_at,
                bank_reference=data.bank_reference,
                paid_at=data.paid_at,
                account_masked=data.account_masked,
                bank_name=data.bank_name,
                acquirer_updated_at=data.updated_at,
            )
            transitions.event_record(
                payout,
                from_status="",
                source=Source.ACQUIRER,
                reason=payout.reason,
                event={"reason_code": payout.reason_code, "occurred_at": data.updated_at},
            )
            Transaction.objects.filter(
                acquirer=acquirer, acquirer_payout_id=data.id, payout__isnull=True
            ).update(payout=payout)
    except IntegrityError:
        # Another worker recorded it a moment ago (a webhook beside the feed): apply to theirs.
        return payout_record(data=data, acquirer=acquirer)
    return payout, "created"
