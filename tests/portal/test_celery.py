"""
The Celery set-up, proven with real worker and beat processes on the configured broker (the
embedded file-system broker, or Redis in CI) against this test run's database.
"""

import os
import signal
from datetime import timedelta

import pytest
from celery import current_app
from django.utils import timezone

from portal.celery import PortalTask, RetryableError
from portal.models import Heartbeat
from portal.tasks import heartbeat_task
from tests.workers import wait_for, worker_args, worker_ready


def test_task_names_are_pinned():
    # Renaming a task orphans the messages already queued under the old name.
    assert heartbeat_task.name == "portal.heartbeat_task"
    assert "portal.heartbeat_task" in current_app.tasks


def test_reliability_defaults_are_set_once_for_every_task():
    conf = current_app.conf

    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_always_eager is False
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    assert isinstance(heartbeat_task, PortalTask)
    assert heartbeat_task.autoretry_for == (RetryableError,)
    assert heartbeat_task.retry_jitter is True
    assert heartbeat_task.max_retries == 5


@pytest.mark.django_db
def test_heartbeat_task_records_the_worker_as_seen_now():
    long_ago = timezone.now() - timedelta(days=1)
    Heartbeat.objects.create(name="worker", seen_at=long_ago)

    heartbeat_task()

    assert timezone.now() - Heartbeat.objects.get(name="worker").seen_at < timedelta(minutes=1)


def test_a_real_worker_runs_a_task_sent_from_the_web_process(start_celery, queue):
    with start_celery(*worker_args()):
        wait_for(worker_ready, timeout=60, what="the worker to start")
        Heartbeat.objects.all().delete()

        heartbeat_task.apply_async(queue=queue)

        wait_for(worker_ready, timeout=30, what="the worker to run the heartbeat task")


def test_beat_schedules_the_heartbeat_and_the_worker_runs_it(start_celery, tmp_path):
    schedule = str(tmp_path / "beat-schedule")
    with start_celery(*worker_args()), start_celery("beat", "-s", schedule):
        wait_for(worker_ready, timeout=60, what="the worker to start")
        seen = []

        def advanced_twice():
            seen.append(Heartbeat.objects.get(name="worker").seen_at)
            return len(set(seen)) >= 3

        wait_for(advanced_twice, timeout=30, what="beat to send two heartbeats")


def test_a_task_whose_worker_process_dies_runs_again(start_celery, queue, tmp_path):
    # acks_late + reject_on_worker_lost: the message goes back to the queue, not to waste.
    attempts = tmp_path / "attempts.log"
    with start_celery(*worker_args()):
        wait_for(worker_ready, timeout=60, what="the worker to start")
        current_app.send_task("tests.slow_once", args=[str(attempts)], queue=queue)
        wait_for(attempts.exists, timeout=30, what="the first attempt")
        child_pid = int(attempts.read_text().split()[1])

        os.kill(child_pid, signal.SIGKILL)

        wait_for(
            lambda: attempts.read_text().endswith("done\n"), timeout=60, what="the second attempt"
        )
    lines = attempts.read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["start", "start", "done"]


def test_a_worker_refuses_a_visibility_timeout_shorter_than_its_longest_job(
    redis_broker, start_celery, tmp_path
):
    # Redis would hand a reconciliation import still running (30 min limit) to a second
    # worker after 61 s: the worker stops at once and says why.
    with start_celery(*worker_args(), env={"CELERY_VISIBILITY_TIMEOUT": "61"}) as worker:
        wait_for(lambda: worker.poll() is not None, timeout=60, what="the worker to refuse")

    log = (tmp_path / "celery-0.log").read_text()
    assert worker.returncode != 0
    assert "CELERY_VISIBILITY_TIMEOUT (61 s) must exceed" in log
    assert not Heartbeat.objects.filter(name="worker").exists()
