"""
Polling an acquirer's feeds (docs/acquirer-api.md): the transactions it recorded and the
payouts it changed since the portal last asked, every merchant of the portal's key at once.

Each poll of each feed is a background job (settlements/jobs.py), so two never run at once
for one feed and a poll whose worker was killed runs again. A poll reads every page from the
feed's high-water mark, applies the records page by page (each page in one transaction,
through the same services as everything else: ``transactions_record``, ``payout_record``), and
only when every page is done moves the mark to when the poll started, less a margin. A poll
that stops half-way is therefore redone from the old mark; records it applies twice change
nothing. A record that fails its checks is refused alone: it becomes an ``AcquirerError`` for
staff and the rest of the page is applied.
"""

import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core import jobs
from core.transitions import TransitionNotAllowed
from portal.models import Merchant
from settlements import acquirer_data, services
from settlements.acquirer_client import AcquirerClient
from settlements.acquirer_data import AcquirerDataError
from settlements.models import Acquirer, AcquirerError, AcquirerFeed

logger = logging.getLogger(__name__)

PAGE_LIMIT = 500
# Records stored by the acquirer just before a poll started may become visible to it a moment
# later: the next poll asks again from this much earlier (overlap costs nothing).
OVERLAP = timedelta(seconds=60)
# A feed polled for the first time asks for everything since long before any acquirer.
BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)
JOB_KINDS = {
    AcquirerFeed.Kind.TRANSACTIONS: "settlements.transactions_feed",
    AcquirerFeed.Kind.PAYOUTS: "settlements.payouts_feed",
}


def poll_interval(feed: AcquirerFeed) -> int:
    if settings.ACQUIRER_POLL_SECONDS:
        return settings.ACQUIRER_POLL_SECONDS
    if feed.kind == AcquirerFeed.Kind.TRANSACTIONS:
        return feed.acquirer.transactions_poll_seconds
    return feed.acquirer.payouts_poll_seconds


def feeds_due(*, now=None) -> int:
    """Start a poll job for every feed of every enabled acquirer whose interval has passed
    (from beat). Safe to repeat: a feed with a poll queued or running gets no second one.
    Returns how many polls it started."""
    now = now or timezone.now()
    started = 0
    for acquirer in Acquirer.objects.filter(enabled=True):
        for kind in AcquirerFeed.Kind.values:
            feed, _created = AcquirerFeed.objects.get_or_create(acquirer=acquirer, kind=kind)
            last = feed.last_polled_at
            if last is not None and now < last + timedelta(seconds=poll_interval(feed)):
                continue
            if jobs.open_job(kind=JOB_KINDS[kind], subject=feed) is None:
                jobs.job_start(kind=JOB_KINDS[kind], subject=feed)
                started += 1
    return started


def feed_poll(feed: AcquirerFeed, *, client: AcquirerClient | None = None) -> dict[str, int]:
    """Read and apply everything the feed has since its high-water mark; returns counts.
    Safe to repeat and to stop half-way (see the module's docstring). Raises
    ``AcquirerCallError`` when the acquirer cannot be read, after recording it."""
    started = timezone.now()
    AcquirerFeed.objects.filter(pk=feed.pk).update(last_polled_at=started)
    client = client or AcquirerClient(feed.acquirer)
    if feed.kind == AcquirerFeed.Kind.TRANSACTIONS:
        path, mark, apply = "/v1/transactions", "since", _apply_transactions
    else:
        path, mark, apply = "/v1/payouts", "updated_since", _apply_payouts
    params = {"limit": PAGE_LIMIT, mark: (feed.high_water_mark or BEGINNING).isoformat()}
    counts = {"applied": 0, "refused": 0, "stale": 0}
    try:
        for page in client.pages(path, params):
            with transaction.atomic():
                page_counts = apply(feed, page)
                AcquirerFeed.objects.filter(pk=feed.pk).update(
                    records_applied=F("records_applied") + page_counts["applied"],
                    records_refused=F("records_refused") + page_counts["refused"],
                    stale_ignored=F("stale_ignored") + page_counts["stale"],
                )
            for name, count in page_counts.items():
                counts[name] += count
    except Exception as exc:
        AcquirerFeed.objects.filter(pk=feed.pk).update(
            last_failure_at=timezone.now(), last_error=str(exc)[:2000]
        )
        raise
    AcquirerFeed.objects.filter(pk=feed.pk).update(
        high_water_mark=started - OVERLAP, last_success_at=timezone.now(), last_error=""
    )
    logger.info("Feed %s: %s", feed, counts)
    return counts


def _refuse(feed: AcquirerFeed, record, error: Exception) -> None:
    object_id = record.get("id", "") if isinstance(record, dict) else ""
    AcquirerError.objects.create(
        acquirer=feed.acquirer,
        source=feed.kind,
        endpoint=f"GET /v1/{feed.kind}",
        object_id=str(object_id)[:100],
        message=str(error)[:2000],
    )


def _apply_transactions(feed: AcquirerFeed, page: list) -> dict[str, int]:
    counts = {"applied": 0, "refused": 0, "stale": 0}
    parsed = []
    for record in page:
        try:
            parsed.append(acquirer_data.parse_transaction(record))
        except AcquirerDataError as exc:
            _refuse(feed, record, exc)
            counts["refused"] += 1
    known = set(
        Merchant.objects.filter(mid__in={data.merchant_id for data in parsed}).values_list(
            "mid", flat=True
        )
    )
    good = []
    for data in parsed:
        if data.merchant_id in known:
            good.append(data)
        else:
            _refuse(
                feed,
                {"id": data.id},
                AcquirerDataError("merchant_id", f"no merchant {data.merchant_id} in the portal"),
            )
            counts["refused"] += 1
    outcomes = services.transactions_record(items=good, acquirer=feed.acquirer.code)
    counts["applied"] += sum(created for _row, created in outcomes)
    counts["stale"] += sum(not created for _row, created in outcomes)
    return counts


def _apply_payouts(feed: AcquirerFeed, page: list) -> dict[str, int]:
    counts = {"applied": 0, "refused": 0, "stale": 0}
    for record in page:
        try:
            data = acquirer_data.parse_payout(record)
            with transaction.atomic():
                _payout, outcome = services.payout_record(data=data, acquirer=feed.acquirer.code)
        except (AcquirerDataError, TransitionNotAllowed) as exc:
            _refuse(feed, record, exc)
            counts["refused"] += 1
            continue
        counts["stale" if outcome in ("stale", "unchanged") else "applied"] += 1
    return counts
