"""A job kind for tests/core/test_jobs.py: it records each run and fails as often as told."""

from core.jobs import JobKind

RUNS: list[int] = []
FAILED: list[tuple[int, str]] = []
# How many more runs raise before one succeeds.
FAILURES = {"left": 0}


def run(subject) -> None:
    RUNS.append(subject.pk)
    if FAILURES["left"] > 0:
        FAILURES["left"] -= 1
        raise RuntimeError(f"the thing broke for {subject.pk}")


def on_failed(subject, reason: str) -> None:
    FAILED.append((subject.pk, reason))


JOB_KINDS = {
    "fakeapp.thing": JobKind(run=run, on_failed=on_failed, max_attempts=3, time_limit=60),
}
