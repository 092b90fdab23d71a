"""The job mechanism in one process (real worker processes are in
tests/settlements/test_reconciliation_worker.py): leases, outcomes, the sweep, retries."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import override_settings
from django.utils import timezone

from core import jobs
from core.models import Job
from core.transitions import TransitionNotAllowed
from portal.celery import app as celery_app
from tests import factories
from tests.fakeapp import jobs as fake
from tests.helpers import run_at_once

KIND = "fakeapp.thing"


@pytest.fixture(autouse=True)
def fake_app():
    with override_settings(
        INSTALLED_APPS=[*settings.INSTALLED_APPS, "tests.fakeapp"],
        PROJECT_APPS=[*settings.PROJECT_APPS, "tests.fakeapp"],
    ):
        fake.RUNS.clear()
        fake.FAILED.clear()
        fake.FAILURES["left"] = 0
        yield


@pytest.fixture
def subject(db):
    return Group.objects.create(name="job subject")


def queued_messages(queue: str) -> int:
    with celery_app.connection_for_write() as connection:
        return connection.default_channel.queue_declare(queue=queue, passive=True).message_count


def lose_the_worker(job: Job, *, attempts: int) -> None:
    """What a worker killed mid-attempt leaves: running, its lease run out."""
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING,
        attempts=attempts,
        locked_by="gone:1:1",
        locked_until=timezone.now() - timedelta(seconds=1),
    )


def test_starting_a_job_records_it_and_rings_once_it_commits(
    subject, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        job = jobs.job_start(kind=KIND, subject=subject)

    assert (job.status, job.attempts, job.max_attempts, job.subject) == ("queued", 0, 3, subject)
    assert job.rung_at is not None
    assert len(callbacks) == 1


def test_starting_it_again_while_it_is_open_gives_the_same_job(subject):
    first = jobs.job_start(kind=KIND, subject=subject)

    assert jobs.job_start(kind=KIND, subject=subject) == first
    assert Job.objects.count() == 1


def test_an_unknown_kind_is_refused(subject):
    with pytest.raises(ValueError, match="no job kind"):
        jobs.job_start(kind="fakeapp.nothing", subject=subject)

    assert not Job.objects.exists()


def test_a_worker_runs_the_job_and_records_it_done(subject):
    job = jobs.job_start(kind=KIND, subject=subject)

    status = jobs.job_run(job_id=job.pk, worker="w1")

    job.refresh_from_db()
    assert (status, job.status, job.attempts, job.locked_until) == ("done", "done", 1, None)
    assert [subject.pk] == fake.RUNS
    assert list(job.events.values_list("to_status", flat=True)) == ["queued", "running", "done"]


def test_a_job_delivered_twice_runs_once(subject):
    job = jobs.job_start(kind=KIND, subject=subject)

    jobs.job_run(job_id=job.pk, worker="w1")
    second = jobs.job_run(job_id=job.pk, worker="w2")

    assert (second, fake.RUNS) == ("done", [subject.pk])


def test_a_job_another_worker_holds_is_left_alone(subject):
    job = jobs.job_start(kind=KIND, subject=subject)
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING,
        attempts=1,
        locked_by="w1",
        locked_until=timezone.now() + timedelta(minutes=1),
    )

    assert jobs.job_run(job_id=job.pk, worker="w2") == "running"

    assert fake.RUNS == []
    assert Job.objects.get(pk=job.pk).locked_by == "w1"


def test_a_failed_attempt_waits_then_runs_again(subject):
    fake.FAILURES["left"] = 1
    job = jobs.job_start(kind=KIND, subject=subject)

    assert jobs.job_run(job_id=job.pk, worker="w1") == "queued"

    job.refresh_from_db()
    assert "the thing broke" in job.last_error
    assert job.available_at > timezone.now() + timedelta(seconds=30)
    assert jobs.job_run(job_id=job.pk, worker="w1") == "queued"  # not yet due
    Job.objects.filter(pk=job.pk).update(available_at=timezone.now())
    assert jobs.job_run(job_id=job.pk, worker="w1") == "done"
    assert [subject.pk, subject.pk] == fake.RUNS


def test_the_last_failed_attempt_fails_the_job_and_tells_the_subject(subject):
    fake.FAILURES["left"] = 5
    job = jobs.job_start(kind=KIND, subject=subject)
    Job.objects.filter(pk=job.pk).update(attempts=2)

    assert jobs.job_run(job_id=job.pk, worker="w1") == "failed"

    job.refresh_from_db()
    assert (job.attempts, job.finished_at is not None) == (3, True)
    assert [(subject.pk, job.last_error)] == fake.FAILED


def test_the_sweep_takes_back_a_job_whose_worker_was_lost_and_rings(subject):
    job = jobs.job_start(kind=KIND, subject=subject)
    lose_the_worker(job, attempts=1)

    done = jobs.jobs_sweep()

    job.refresh_from_db()
    assert (done["taken_back"], done["rung"]) == (1, 1)
    assert (job.status, job.locked_until, job.attempts) == ("queued", None, 1)
    assert jobs.job_run(job_id=job.pk, worker="w2") == "done"


def test_the_sweep_fails_a_job_that_lost_its_worker_on_every_attempt(subject):
    job = jobs.job_start(kind=KIND, subject=subject)
    lose_the_worker(job, attempts=3)

    done = jobs.jobs_sweep()

    job.refresh_from_db()
    assert (done["failed"], job.status) == (1, "failed")
    # Written in the portal's language, for staff.
    assert job.last_error == "每次尝试时执行它的工作进程都丢失了（共 3 次）"
    assert [(subject.pk, job.last_error)] == fake.FAILED


def test_the_sweep_rings_again_for_a_queued_job_nobody_took(subject):
    jobs.job_start(kind=KIND, subject=subject)

    assert jobs.jobs_sweep()["rung"] == 0  # rung a moment ago
    later = timezone.now() + timedelta(seconds=settings.JOB_SWEEP_SECONDS + 1)
    assert jobs.jobs_sweep(now=later)["rung"] == 1
    assert jobs.jobs_sweep(now=later)["rung"] == 0


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_ring_for_a_stuck_job_once(default_queue):
    queue = default_queue
    job = jobs.job_start(kind=KIND, subject=Group.objects.create(name="swept"))
    lose_the_worker(job, attempts=1)
    before = queued_messages(queue)

    outcomes = run_at_once(lambda _n: jobs.jobs_sweep(), [1, 2])

    assert sum(o["taken_back"] for o in outcomes) == 1, outcomes
    assert sum(o["rung"] for o in outcomes) == 1
    assert queued_messages(queue) == before + 1
    assert job.events.filter(from_status="running", to_status="queued").count() == 1


def test_staff_retry_a_failed_job_with_fresh_attempts(subject):
    fake.FAILURES["left"] = 3
    job = jobs.job_start(kind=KIND, subject=subject)
    for _attempt in range(3):
        Job.objects.filter(pk=job.pk).update(available_at=timezone.now())
        jobs.job_run(job_id=job.pk, worker="w1")
    staff = factories.StaffFactory()

    jobs.job_retry(job=job, actor=staff)

    job.refresh_from_db()
    assert (job.status, job.attempts) == ("queued", 0)
    assert job.events.last().actor == staff
    assert jobs.job_run(job_id=job.pk, worker="w1") == "done"


def test_a_job_still_running_cannot_be_retried(subject):
    job = jobs.job_start(kind=KIND, subject=subject)
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING, locked_until=timezone.now() + timedelta(minutes=1)
    )

    with pytest.raises(TransitionNotAllowed):
        jobs.job_retry(job=job, actor=factories.StaffFactory())

    assert Job.objects.get(pk=job.pk).status == "running"


def test_healthz_reports_stuck_jobs(client, subject):
    job = jobs.job_start(kind=KIND, subject=subject)
    lose_the_worker(job, attempts=1)

    report = client.get("/healthz").json()

    assert report["jobs"]["stuck"] == 1
    assert report["jobs"]["oldest_stuck_seconds"] >= 0


def test_the_job_tasks_are_named_for_good():
    assert celery_app.tasks[jobs.JOB_TASK].name == "core.job_run_task"
    assert celery_app.tasks[jobs.SWEEP_TASK].name == "core.jobs_sweep_task"


def test_a_visibility_timeout_shorter_than_a_job_is_an_error(settings):
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 61}

    problem = jobs.visibility_timeout_problem()

    assert "61 s" in problem
    assert "(1800 s)" in problem
