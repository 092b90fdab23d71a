"""The background jobs of settlements (collected by core/jobs.py)."""

from core.jobs import JobKind
from settlements import feeds, reconciliation


def _import_run(run) -> None:
    reconciliation.reconciliation_process(run_id=run.pk)


JOB_KINDS = {
    # A feed poll that fails (the acquirer is down, the breaker open) is not retried by the
    # job: the next poll, an interval later, starts from the same high-water mark.
    **{
        kind: JobKind(run=feeds.feed_poll, max_attempts=1, time_limit=10 * 60)
        for kind in feeds.JOB_KINDS.values()
    },
    # A file of millions of lines takes minutes, not the seconds the default limits are set
    # for. The hard limit stays below Redis's visibility timeout (checked when the worker
    # starts), and the lease is renewed while the import runs.
    reconciliation.JOB_KIND: JobKind(
        run=_import_run,
        on_failed=reconciliation.reconciliation_failed,
        max_attempts=3,
        time_limit=30 * 60,
        retry_after=60,
    ),
}
