from portal.celery import app
from settlements.reconciliation import MAX_ATTEMPTS, reconciliation_process

# A file of millions of lines takes minutes, not the seconds the default limits are set for.
# The hard limit stays below Redis's visibility timeout (an hour by default), or Redis would
# hand a running import to a second worker (which would wait on the run's row lock anyway).
RECONCILIATION_SOFT_TIME_LIMIT = 25 * 60
RECONCILIATION_TIME_LIMIT = 30 * 60


@app.task(
    name="settlements.reconciliation_process_task",
    soft_time_limit=RECONCILIATION_SOFT_TIME_LIMIT,
    time_limit=RECONCILIATION_TIME_LIMIT,
)
def reconciliation_process_task(run_id: int) -> str:
    """Load and match one reconciliation run (enqueued on commit by the import). Safe to
    repeat and to be killed half-way: a done run is left as it is, any other is redone from
    the start; after MAX_ATTEMPTS attempts the run is marked failed instead of looping."""
    return reconciliation_process(run_id=run_id, max_attempts=MAX_ATTEMPTS).status
