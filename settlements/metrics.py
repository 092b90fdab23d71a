"""What ``/metrics`` says about the acquirers (collected by core/metrics.py): calls and their
latency per endpoint (counted by the client, in memory), and, read from the database at each
scrape, the breakers, how far behind each feed is, records applied and refused, webhooks
received, applied and flagged, and errors by source."""

from django.db.models import Count, Q
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from settlements.acquirer_client import breaker_open
from settlements.models import Acquirer, AcquirerError, AcquirerFeed, WebhookEvent


class AcquirersCollector:
    def collect(self):
        now = timezone.now()
        breaker = GaugeMetricFamily(
            "portal_acquirer_breaker_open",
            "1 while calls to the acquirer are paused",
            labels=["acquirer"],
        )
        lag = GaugeMetricFamily(
            "portal_acquirer_feed_lag_seconds",
            "Seconds since the feed's last complete poll",
            labels=["acquirer", "feed"],
        )
        records = CounterMetricFamily(
            "portal_acquirer_feed_records",
            "Records read from a feed, by outcome",
            labels=["acquirer", "feed", "outcome"],
        )
        for acquirer in Acquirer.objects.all():
            breaker.add_metric([acquirer.code], 1 if breaker_open(acquirer, now=now) else 0)
        for feed in AcquirerFeed.objects.select_related("acquirer"):
            labels = [feed.acquirer.code, feed.kind]
            if feed.last_success_at:
                lag.add_metric(labels, (now - feed.last_success_at).total_seconds())
            records.add_metric([*labels, "applied"], feed.records_applied)
            records.add_metric([*labels, "refused"], feed.records_refused)
            records.add_metric([*labels, "stale"], feed.stale_ignored)
        yield breaker
        yield lag
        yield records
        webhooks = CounterMetricFamily(
            "portal_acquirer_webhooks",
            "Webhook events stored, by what became of them",
            labels=["acquirer", "state"],
        )
        counts = (
            WebhookEvent.objects.values("acquirer__code")
            .annotate(
                received=Count("pk"),
                applied=Count("pk", filter=Q(applied_at__isnull=False)),
                flagged=Count("pk", filter=~Q(error="")),
            )
            .order_by()
        )
        for row in counts:
            for state in ("received", "applied", "flagged"):
                webhooks.add_metric([row["acquirer__code"], state], row[state])
        yield webhooks
        errors = CounterMetricFamily(
            "portal_acquirer_errors",
            "Refused records and failed calls",
            labels=["acquirer", "source"],
        )
        for row in (
            AcquirerError.objects.values("acquirer__code", "source")
            .annotate(n=Count("pk"))
            .order_by()
        ):
            errors.add_metric([row["acquirer__code"] or "", row["source"]], row["n"])
        yield errors


COLLECTORS = [AcquirersCollector()]
