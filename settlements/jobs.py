"""The background jobs of settlements (collected by core/jobs.py)."""

from core.jobs import JobKind
from settlements import reconciliation


def _import_run(run) -> None:
    reconciliation.reconciliation_process(run_id=run.pk)


JOB_KINDS = {
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
