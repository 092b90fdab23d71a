"""The tasks of the job mechanism (core/jobs.py): one runs any kind of job, one sweeps."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from core import jobs

BEAT_SCHEDULE = {
    "jobs-sweep": {
        "task": jobs.SWEEP_TASK,
        "schedule": timedelta(seconds=settings.JOB_SWEEP_SECONDS),
    },
}


@shared_task(name=jobs.JOB_TASK)
def job_run_task(job_id: int) -> str:
    """Run one attempt of a job (rung by core.jobs). Safe to repeat and to deliver twice:
    the lease decides who runs it; the outcome is recorded on the job, never raised."""
    return jobs.job_run(job_id=job_id)


@shared_task(name=jobs.SWEEP_TASK)
def jobs_sweep_task() -> dict[str, int]:
    """Take back jobs whose worker was lost and ring for queued ones (from beat). Safe to
    run twice at once."""
    return jobs.jobs_sweep()
