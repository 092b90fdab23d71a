"""Real Celery worker and beat processes for tests: the helpers here, the fixtures (``queue``,
``celery_env``, ``start_celery``) in ``tests/conftest.py``."""

import os
import signal
import subprocess
import time
import uuid

from portal.models import Heartbeat


def wait_for(condition, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def stop(process):
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def worker_args(name: str = "w") -> list[str]:
    return [
        "worker",
        "--concurrency=1",
        "--pool=prefork",
        "--without-gossip",
        "--without-mingle",
        "-I",
        "tests.celery_tasks",
        "-n",
        f"{name}-{uuid.uuid4().hex[:6]}@%h",
    ]


def worker_ready() -> bool:
    # The worker records a heartbeat as soon as it is ready.
    return Heartbeat.objects.filter(name="worker").exists()
