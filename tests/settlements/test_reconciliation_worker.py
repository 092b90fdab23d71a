"""The reconciliation import as finance starts it, with real Celery worker and beat processes
(embedded broker, or Redis in CI) against this test run's database and private storage: the
import job done by a worker, and done in the end however often its worker is killed with
``kill -9`` (the whole process group) half-way. Recovery comes from the job's lease and the
beat sweep (3 s and 1 s here), not from the broker."""

import os
import signal

import pytest
from django.utils import translation

from core import jobs
from core.models import Job
from settlements.models import Discrepancy, ReconciliationRun
from settlements.reconciliation import JOB_KIND, reconciliation_retry, reconciliation_start
from tests import factories
from tests.settlements.test_reconciliation import FILE_NAME, csv_file, line, line_of, sale
from tests.workers import wait_for, worker_args, worker_ready

pytestmark = pytest.mark.django_db(transaction=True)
Status = ReconciliationRun.Status

LOADING = "settlements.reconciliation:_load"
MATCHING = "settlements.reconciliation:_match_lines"


@pytest.fixture
def celery_env(celery_env, private_files):
    # The worker must find the file where this test's web process stored it.
    return {**celery_env, "PRIVATE_MEDIA_ROOT": str(private_files)}


@pytest.fixture
def a_run(merchant, tmp_path, default_queue):
    """A file with a transaction the portal knows and one it does not, imported from the web
    process: its job is rung to this test's queue."""
    known = sale(merchant)
    path = csv_file(tmp_path, line_of(known), line("TX-NOT-HERE"))
    run, created = reconciliation_start(source=path, file_name=FILE_NAME)
    assert created
    return run


def job_of(run) -> Job:
    return jobs.latest_job(kind=JOB_KIND, subject=run)


def finished(run):
    def check():
        run.refresh_from_db()
        return run.status in {Status.DONE, Status.FAILED}

    return check


def assert_imported_as_a_clean_import_would(run, private_files):
    assert (run.status, run.error) == (Status.DONE, "")
    assert (run.line_count, run.matched_count, run.discrepancy_count) == (2, 1, 1)
    assert list(Discrepancy.objects.values_list("kind", "acquirer_transaction_id")) == [
        (Discrepancy.Kind.MISSING_HERE, "TX-NOT-HERE")
    ]
    assert not list(private_files.rglob("*.csv")), "the worker deleted the file once done"


def kill_while_in(where: str, run, start_celery, tmp_path) -> None:
    """Start a worker that stops in ``where`` (tests/celery_tasks.py), wait until it is there
    with the run's job leased, then kill its whole process group."""
    marker = tmp_path / f"paused-{job_of(run).attempts}"
    env = {"PORTAL_TEST_PAUSE_IN": where, "PORTAL_TEST_PAUSE_FILE": str(marker)}
    with start_celery(*worker_args("doomed"), env=env) as doomed:
        wait_for(marker.exists, timeout=60, what=f"the worker to reach {where}")
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait()


def test_a_worker_imports_a_file_finance_uploaded(start_celery, a_run, private_files):
    assert list(private_files.rglob("*.csv")), "the web process stored the file"

    with start_celery(*worker_args()):
        wait_for(worker_ready, timeout=60, what="the worker to start")
        wait_for(finished(a_run), timeout=60, what="the worker to import the run")

    assert_imported_as_a_clean_import_would(a_run, private_files)
    assert job_of(a_run).status == Job.Status.DONE


@pytest.mark.parametrize("where", [LOADING, MATCHING], ids=["loading", "matching"])
def test_an_import_whose_worker_is_killed_completes_once_the_lease_runs_out(
    where, start_celery, a_run, tmp_path, private_files
):
    kill_while_in(where, a_run, start_celery, tmp_path)
    assert job_of(a_run).status == Job.Status.RUNNING, "killed with the job leased"

    # Two workers and beat: the sweep takes the job back and rings once; one worker runs it.
    schedule = str(tmp_path / "beat-schedule")
    with (
        start_celery(*worker_args("second")),
        start_celery(*worker_args("third")),
        start_celery("beat", "-s", schedule),
    ):
        wait_for(finished(a_run), timeout=90, what="the sweep and a new worker to finish it")

    assert_imported_as_a_clean_import_would(a_run, private_files)
    job = job_of(a_run)
    assert (job.status, job.attempts) == (Job.Status.DONE, 2)
    moves = list(job.events.order_by("pk").values_list("from_status", "to_status"))
    assert moves == [
        ("", "queued"),
        ("queued", "running"),  # the worker that was killed
        ("running", "queued"),  # the sweep: its lease ran out
        ("queued", "running"),  # one of the two new workers, never both
        ("running", "done"),
    ]
    assert a_run.events.filter(to_status=Status.DONE).count() == 1


def test_an_import_that_kills_its_worker_every_time_fails_then_staff_retry_it(
    start_celery, a_run, tmp_path, private_files
):
    for _attempt in range(3):
        kill_while_in(MATCHING, a_run, start_celery, tmp_path)
        wait_for(
            lambda: Job.objects.filter(jobs.stuck()).exists(),
            timeout=30,
            what="the lost worker's lease to run out",
        )
        # What beat's sweep does every JOB_SWEEP_SECONDS: take the job back and ring for the
        # next worker, or give up after the third attempt (saying so in English here).
        with translation.override("en"):
            jobs.jobs_sweep()

    job = job_of(a_run)
    a_run.refresh_from_db()
    assert (job.status, job.attempts) == (Job.Status.FAILED, 3)
    assert a_run.status == Status.FAILED
    assert a_run.error == "Gave up: its worker was lost on each of 3 attempts."

    reconciliation_retry(run=a_run, actor=factories.StaffFactory(group="finance"))
    with start_celery(*worker_args("healthy")):
        wait_for(
            lambda: job_of(a_run).status in {Job.Status.DONE, Job.Status.FAILED},
            timeout=60,
            what="the retried import",
        )
    a_run.refresh_from_db()

    assert_imported_as_a_clean_import_would(a_run, private_files)
    assert job_of(a_run).events.filter(reason="retried").get().actor.groups.get().name == (
        "finance"
    )
