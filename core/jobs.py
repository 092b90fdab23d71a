"""
Background work that recovers by itself: the database is the record of work, the broker only
rings the bell.

Each kind of job is declared by its app in ``<app>/jobs.py`` (``JOB_KINDS = {name:
JobKind(...)}``, collected by core/registry.py). ``job_start`` writes a ``core.models.Job`` row
for a subject (a reconciliation run…) and rings once the transaction commits. A worker runs
``job_run``: it leases the job with a conditional update (``locked_until``; two workers never
hold it at once), keeps the lease fresh from a thread while the work runs, and records the
outcome: done; queued again after a pause when the attempt raised and attempts are left;
failed, with the reason, when they are not.

A worker killed with ``kill -9``, a message the embedded broker lost or one Redis would hold
back for its visibility timeout: the lease runs out, and ``jobs_sweep`` (beat, every
``JOB_SWEEP_SECONDS``) takes the job back and rings again, or fails it once its attempts are
spent. Every move goes through core.transitions, so a sweep running twice at once (two beats
by mistake) rings once. Staff see jobs in the admin and retry failed or stuck ones.
"""

import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, Min, Q
from django.utils import timezone
from django.utils.translation import gettext

from core import registry
from core.models import Job
from core.transitions import TransitionNotAllowed, event_record, transition

logger = logging.getLogger(__name__)

# The one Celery task that runs every kind of job (core/tasks.py), and the sweep's.
JOB_TASK = "core.job_run_task"
SWEEP_TASK = "core.jobs_sweep_task"
# A soft time limit this much before the hard one lets an attempt record why it stopped.
SOFT_LIMIT_MARGIN = 30
ERROR_MAX_CHARS = 4000


@dataclass(frozen=True)
class JobKind:
    # Does the work on the subject; raising fails the attempt. Must be safe to repeat: an
    # attempt killed half-way is run again from the start.
    run: Callable
    # Records on the subject that the job gave up (the run is "failed" with the reason).
    on_failed: Callable | None = None
    max_attempts: int = 3
    # Hard time limit of one attempt, in seconds (the soft one is a little less).
    time_limit: int = 300
    # Seconds to wait after a failed attempt, times the attempts made so far.
    retry_after: int = 60


@registry.cached
def kinds() -> dict[str, JobKind]:
    return registry.merged("jobs", "JOB_KINDS")


def lease() -> timedelta:
    return timedelta(seconds=settings.JOB_LEASE_SECONDS)


def stuck(now=None) -> Q:
    """Running with its lease run out: its worker is gone."""
    return Q(status=Job.Status.RUNNING, locked_until__lt=now or timezone.now())


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


# -- Starting and ringing ----------------------------------------------------------------------


def job_start(*, kind: str, subject, actor=None) -> Job:
    """Record a job of ``kind`` for ``subject`` and ring for it once the transaction commits.
    Safe to repeat: while one is queued or running for the subject, that one is returned."""
    if kind not in kinds():
        raise ValueError(f"no job kind {kind!r} is declared")
    subject_type = ContentType.objects.get_for_model(subject)
    try:
        with transaction.atomic():
            job = Job.objects.create(
                kind=kind,
                subject_type=subject_type,
                subject_id=subject.pk,
                max_attempts=kinds()[kind].max_attempts,
                created_by=actor,
            )
            event_record(job, from_status="", actor=actor)
    except IntegrityError:
        return open_job(kind=kind, subject=subject)
    _ring(job)
    return job


def open_job(*, kind: str, subject) -> Job | None:
    return Job.objects.filter(
        kind=kind,
        subject_type=ContentType.objects.get_for_model(subject),
        subject_id=subject.pk,
        status__in=[Job.Status.QUEUED, Job.Status.RUNNING],
    ).first()


def latest_job(*, kind: str, subject) -> Job | None:
    return (
        Job.objects.filter(
            kind=kind,
            subject_type=ContentType.objects.get_for_model(subject),
            subject_id=subject.pk,
        )
        .order_by("-created_at", "-pk")
        .first()
    )


def _ring(job: Job, *, rung_at=None, now=None) -> bool:
    """Ask the broker to deliver ``job`` once the transaction commits, unless another sweep
    rang for it since ``rung_at`` (the value it read). Returns whether this call rang."""
    now = now or timezone.now()
    if not Job.objects.filter(pk=job.pk, rung_at=rung_at).update(rung_at=now):
        return False
    job.rung_at = now
    limit = kinds()[job.kind].time_limit
    transaction.on_commit(
        lambda: current_app.send_task(
            JOB_TASK,
            args=[job.pk],
            time_limit=limit,
            soft_time_limit=max(1, limit - SOFT_LIMIT_MARGIN),
        )
    )
    return True


# -- Running -----------------------------------------------------------------------------------


def job_run(*, job_id: int, worker: str | None = None) -> str:
    """Run one attempt of a job, if it is this worker's to run; returns its status after.

    Taken only when queued and due, or running with its lease expired (its worker is gone),
    and with attempts left. Safe to repeat and to deliver twice: a job another worker holds,
    or one that is done, is left alone.
    """
    worker = worker or worker_name()
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        return "missing"
    kind = kinds()[job.kind]
    now = timezone.now()
    try:
        transition(
            job,
            Job.Status.RUNNING,
            reason=f"attempt {job.attempts + 1} on {worker}",
            where=(
                (Q(status=Job.Status.QUEUED, available_at__lte=now) | stuck(now))
                & Q(attempts__lt=F("max_attempts"))
            ),
            updates={
                "attempts": F("attempts") + 1,
                "locked_until": now + lease(),
                "locked_by": worker,
                "started_at": now,
            },
        )
    except TransitionNotAllowed:
        return job.status
    try:
        with lease_kept(job, worker):
            kind.run(job.subject)
    except Exception as exc:
        logger.exception("Job %s (%s) attempt %s failed", job.pk, job.kind, job.attempts)
        return _attempt_failed(job, kind, worker, exc)
    try:
        transition(
            job,
            Job.Status.DONE,
            where=Q(locked_by=worker),
            updates={"locked_until": None, "finished_at": timezone.now(), "last_error": ""},
        )
    except TransitionNotAllowed:
        # The lease ran out while this attempt was still going and the sweep took the job
        # back; the next attempt finds the work done (the kinds are safe to repeat).
        logger.warning("Job %s finished after its lease was taken over", job.pk)
    return job.status


def _attempt_failed(job: Job, kind: JobKind, worker: str, exc: Exception) -> str:
    error = "".join(traceback.format_exception_only(exc)).strip()[:ERROR_MAX_CHARS]
    job.refresh_from_db()
    now = timezone.now()
    try:
        if job.attempts >= job.max_attempts:
            _give_up(job, reason=error, where=Q(locked_by=worker))
        else:
            transition(
                job,
                Job.Status.QUEUED,
                reason=error,
                where=Q(locked_by=worker),
                updates={
                    "locked_until": None,
                    "available_at": now + timedelta(seconds=kind.retry_after * job.attempts),
                    "last_error": error,
                },
            )
    except TransitionNotAllowed:
        logger.warning("Job %s: its lease was taken over before the failure was recorded", job.pk)
    return job.status


def _give_up(job: Job, *, reason: str, where: Q) -> None:
    with transaction.atomic():
        transition(
            job,
            Job.Status.FAILED,
            reason=reason,
            where=where,
            updates={"locked_until": None, "finished_at": timezone.now(), "last_error": reason},
        )
        on_failed = kinds()[job.kind].on_failed
        if on_failed is not None and job.subject is not None:
            on_failed(job.subject, reason)


@contextmanager
def lease_kept(job: Job, worker: str):
    """Renew the job's lease from a thread while the work runs. The thread has a database
    connection of its own: the work may hold its transaction open for minutes."""
    stop = threading.Event()
    interval = max(1, settings.JOB_LEASE_SECONDS // 3)

    def renew():
        try:
            while not stop.wait(interval):
                try:
                    Job.objects.filter(
                        pk=job.pk, status=Job.Status.RUNNING, locked_by=worker
                    ).update(locked_until=timezone.now() + lease())
                except DatabaseError as exc:
                    # SQLite lets one writer in at a time, and the work may be that writer;
                    # the next round tries again.
                    logger.info("Job %s: lease not renewed this time (%s)", job.pk, exc)
        finally:
            connection.close()

    thread = threading.Thread(target=renew, name=f"lease-{job.pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


# -- Sweeping and retrying ---------------------------------------------------------------------


def jobs_sweep(*, now=None) -> dict[str, int]:
    """Take back jobs whose worker was lost (fail those out of attempts) and ring for every
    queued job that is due and has not been rung for a sweep interval. Safe to run twice at
    once: each move and each ring is a conditional update. Returns what it did."""
    now = now or timezone.now()
    done = {"taken_back": 0, "failed": 0, "rung": 0}
    for job in Job.objects.filter(stuck(now)).order_by("locked_until", "pk"):
        try:
            if job.attempts >= job.max_attempts:
                reason = gettext("its worker was lost on each of %(count)s attempts") % {
                    "count": job.attempts
                }
                _give_up(job, reason=reason, where=stuck(now))
                done["failed"] += 1
            else:
                transition(
                    job,
                    Job.Status.QUEUED,
                    reason=gettext("its worker was lost (the lease ran out)"),
                    where=stuck(now),
                    # Rung for below, now: the last ring was for the attempt that was lost.
                    updates={"locked_until": None, "available_at": now, "rung_at": None},
                )
                done["taken_back"] += 1
        except TransitionNotAllowed:
            continue  # another sweep, or the worker itself, got there first
    quiet_since = now - timedelta(seconds=settings.JOB_SWEEP_SECONDS)
    due = Job.objects.filter(status=Job.Status.QUEUED, available_at__lte=now).filter(
        Q(rung_at__isnull=True) | Q(rung_at__lt=quiet_since)
    )
    for job in due.order_by("available_at", "pk"):
        with transaction.atomic():
            done["rung"] += _ring(job, rung_at=job.rung_at, now=now)
    return done


def job_retry(*, job: Job, actor) -> Job:
    """Staff (or an operator) run a failed job again, or take back a stuck one now instead of
    waiting for the sweep, with a fresh set of attempts. Recorded with who did it."""
    with transaction.atomic():
        transition(
            job,
            Job.Status.QUEUED,
            actor=actor,
            reason="retried",
            where=Q(status=Job.Status.FAILED) | stuck(),
            updates={
                "attempts": 0,
                "locked_until": None,
                "available_at": timezone.now(),
                "finished_at": None,
            },
        )
        _ring(job, rung_at=job.rung_at)
    return job


def stuck_report(*, now=None) -> dict:
    """How many jobs are stuck and since when (for /healthz, information only)."""
    now = now or timezone.now()
    oldest = Job.objects.filter(stuck(now)).aggregate(oldest=Min("locked_until"))["oldest"]
    return {
        "stuck": Job.objects.filter(stuck(now)).count(),
        "oldest_stuck_seconds": round((now - oldest).total_seconds()) if oldest else None,
        "failed": Job.objects.filter(status=Job.Status.FAILED).count(),
    }


def visibility_timeout_problem() -> str:
    """Why Redis would hand a task that is still running to a second worker, or ""."""
    timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout")
    longest = longest_time_limit()
    if timeout is None or timeout > longest:
        return ""
    return (
        f"CELERY_VISIBILITY_TIMEOUT ({timeout} s) must exceed the longest hard time limit of "
        f"any task or job ({longest} s), or Redis hands a task that is still running to a "
        "second worker."
    )


def longest_time_limit() -> int:
    """The longest hard time limit any task or job kind may run for, in seconds."""
    limits = [settings.CELERY_TASK_TIME_LIMIT]
    limits += [task.time_limit for task in current_app.tasks.values() if task.time_limit]
    limits += [kind.time_limit for kind in kinds().values()]
    return max(limits)


def enqueue_on_commit(task_name: str, *args) -> None:
    """Send the task named ``task_name`` once the surrounding transaction commits (at once when
    there is none): a rolled-back change enqueues nothing, and the worker finds the rows the
    change wrote. For work that needs no record of its own (an e-mail that is itself
    idempotent); services use it instead of importing tasks, which import the services.
    Tasks are named explicitly (``name="app.thing_task"``) and the names are pinned by tests,
    so a rename cannot orphan this call."""
    transaction.on_commit(lambda: current_app.send_task(task_name, args=list(args)))
