"""
``/metrics`` in the Prometheus text format: what every app exposes, collected from its
``metrics.py`` (``COLLECTORS``, see core/registry.py) at each scrape.

Most figures are read from the database when scraped (jobs, feeds, breakers, webhooks,
errors): every process sees the same numbers. Figures counted in memory (call latency) are
per process; with ``PROMETHEUS_MULTIPROC_DIR`` set for every web and worker process, the
scrape adds up all of them (prometheus-client's multiprocess mode).
"""

import os

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import REGISTRY, GaugeMetricFamily

from core import registry
from core.models import Job


class JobsCollector:
    def collect(self):
        jobs = GaugeMetricFamily(
            "portal_jobs", "Background jobs by kind and status", labels=["kind", "status"]
        )
        for row in Job.objects.values("kind", "status").annotate(n=Count("pk")).order_by():
            jobs.add_metric([row["kind"], row["status"]], row["n"])
        yield jobs
        now = timezone.now()
        stuck = Job.objects.filter(status=Job.Status.RUNNING, locked_until__lt=now)
        oldest = stuck.aggregate(oldest=Min("locked_until"))["oldest"]
        yield GaugeMetricFamily(
            "portal_jobs_stuck", "Running jobs whose lease ran out", value=stuck.count()
        )
        yield GaugeMetricFamily(
            "portal_jobs_oldest_stuck_seconds",
            "How long the oldest stuck job has waited for the sweep",
            value=(now - oldest).total_seconds() if oldest else 0,
        )


COLLECTORS = [JobsCollector()]


def exposition() -> bytes:
    """Every app's collectors, plus the in-memory metrics (of all processes in
    multiprocess mode, else of this one)."""
    scrape = CollectorRegistry(auto_describe=False)
    for _label, collectors in registry.declarations("metrics", "COLLECTORS"):
        for collector in collectors:
            scrape.register(collector)
    body = generate_latest(scrape)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
        return body + generate_latest(processes)
    return body + generate_latest(REGISTRY)
