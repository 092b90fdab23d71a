"""The reconciliation import as finance starts it: the file stored by the web process, the
matching done by a real Celery worker process (embedded broker, or Redis in CI) against this
test run's database and private storage."""

import pytest

from settlements.models import Discrepancy, ReconciliationRun
from settlements.reconciliation import reconciliation_start
from settlements.tasks import reconciliation_process_task
from tests.settlements.test_reconciliation import FILE_NAME, csv_file, line, line_of, sale
from tests.workers import wait_for, worker_args, worker_ready

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def celery_env(celery_env, private_files):
    # The worker must find the file where this test's web process stored it.
    return {**celery_env, "PRIVATE_MEDIA_ROOT": str(private_files)}


def test_a_worker_matches_an_imported_file_and_deletes_it(
    start_celery, queue, merchant, tmp_path, private_files
):
    known = sale(merchant)
    path = csv_file(tmp_path, line_of(known), line("TX-NOT-HERE"))
    run, created = reconciliation_start(source=path, file_name=FILE_NAME)
    assert created
    assert list(private_files.rglob("*.csv")), "the web process stored the file"

    with start_celery(*worker_args()):
        wait_for(worker_ready, timeout=60, what="the worker to start")
        reconciliation_process_task.apply_async(args=[run.pk], queue=queue)

        def finished():
            run.refresh_from_db()
            return run.status in {ReconciliationRun.Status.DONE, ReconciliationRun.Status.FAILED}

        wait_for(finished, timeout=60, what="the worker to process the run")

    assert (run.status, run.error) == (ReconciliationRun.Status.DONE, "")
    assert (run.line_count, run.matched_count, run.discrepancy_count) == (2, 1, 1)
    assert list(Discrepancy.objects.values_list("kind", "acquirer_transaction_id")) == [
        (Discrepancy.Kind.MISSING_HERE, "TX-NOT-HERE")
    ]
    assert not list(private_files.rglob("*.csv")), "the worker deleted the file once done"
