"""
Shared fixtures. Tests that need a real PostgreSQL, Redis or Chromium ask for the
``postgres``, ``redis_broker`` or ``chromium_path`` fixture: where the thing is absent the test
is skipped with the reason, unless ``PORTAL_REQUIRE`` names it (CI sets
``PORTAL_REQUIRE=postgres,redis,chromium`` on its service run), in which case it fails instead.
"""

import os
import shutil
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from portal.celery import app as celery_app
from tests import factories
from tests.helpers import REPO, database_url_of_this_test_run, environment
from tests.workers import stop

# Fails the session when a full ID or account number reaches a log or error report.
pytest_plugins = ["tests.pii_guard"]

REQUIRED = {name.strip() for name in os.environ.get("PORTAL_REQUIRE", "").split(",") if name}


def unavailable(what: str, reason: str):
    if what in REQUIRED:
        pytest.fail(f"{reason}, but PORTAL_REQUIRE says {what} must be available")
    pytest.skip(reason)


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        unavailable("postgres", "needs PostgreSQL: set DATABASE_URL=postgres://...")


@pytest.fixture
def redis_broker():
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        unavailable("redis", "needs Redis as the Celery broker: set REDIS_URL=redis://...")
    return settings.CELERY_BROKER_URL


@pytest.fixture(scope="session")
def chromium_path():
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if not path:
        unavailable("chromium", "needs Chromium: apt-get install -y chromium")
    return path


@pytest.fixture(autouse=True, scope="session")
def isolated_task_queue():
    # Tasks this test run enqueues (e-mails after a committed browser test) go to a queue of
    # their own, which nothing consumes and which is emptied at the end: a `make run` worker on
    # the same machine must never pick them up and act on its own database.
    queue = f"test-session-{uuid.uuid4().hex[:12]}"
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    yield queue
    celery_app.conf.task_default_queue = previous
    with celery_app.connection_for_write() as connection:
        channel = connection.default_channel
        channel.queue_declare(queue=queue, passive=False, auto_delete=False)
        channel.queue_purge(queue)
        channel.queue_delete(queue)
    control = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("control_folder")
    if control:
        Path(control, f"{queue}.exchange").unlink(missing_ok=True)


@pytest.fixture(autouse=True)
def private_files(settings, tmp_path):
    # Documents and contracts a test stores go to its own folder, not var/private.
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings.PRIVATE_MEDIA_ROOT


@pytest.fixture(autouse=True)
def isolated_cache(settings):
    # A fresh key prefix per test: throttle counters and the like never leak between tests,
    # and a shared Redis is never flushed under another process's feet.
    caches = {alias: dict(config) for alias, config in settings.CACHES.items()}
    caches["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = caches


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    # The production hasher is slow on purpose; tests create hundreds of passwords.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def contract_template(db):
    """The default contract template (gone after a browser or worker test flushed the
    database, which removes what data migrations created)."""
    from portal.contract_defaults import default_template_ensure
    from portal.models import ContractTemplate

    return default_template_ensure(ContractTemplate)


@pytest.fixture
def customer(db):
    return factories.CustomerFactory()


@pytest.fixture
def merchant(db):
    return factories.MerchantFactory()


@pytest.fixture
def staff_user(db):
    return factories.StaffFactory()


@pytest.fixture
def customer_client(client, customer):
    client.force_login(customer)
    return client


# -- Real Celery processes (helpers in tests/workers.py) ------------------------------------


@pytest.fixture
def queue(settings):
    # A queue of its own: no other worker (a `make run` on the same machine) takes its tasks.
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    control = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("control_folder")
    if control:  # the embedded broker keeps one binding file per exchange
        Path(control, f"{name}.exchange").unlink(missing_ok=True)


@pytest.fixture
def default_queue(queue):
    """Tasks this test's process sends go to the test's own queue, where its workers listen."""
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    yield queue
    celery_app.conf.task_default_queue = previous


@pytest.fixture
def celery_env(queue, transactional_db):
    return environment(
        inherit_services=True,
        DATABASE_URL=database_url_of_this_test_run(),
        CELERY_QUEUE=queue,
        HEARTBEAT_INTERVAL_SECONDS="1",
        # Work is recovered by the job sweep, not by Redis redelivering messages: a worker
        # refuses a visibility timeout shorter than the longest task or job (30 min).
        CELERY_VISIBILITY_TIMEOUT="3600",
        CELERY_TASK_SOFT_TIME_LIMIT="1",
        CELERY_TASK_TIME_LIMIT="2",
        CELERY_RESTORE_SWEEP_SECONDS="1",
        # A job whose worker died is free again within seconds, and beat sweeps every second.
        JOB_LEASE_SECONDS="3",
        JOB_SWEEP_SECONDS="1",
    )


@pytest.fixture
def start_celery(celery_env, tmp_path):
    processes = []

    @contextmanager
    def start(*args, env: dict | None = None):
        log = (tmp_path / f"celery-{len(processes)}.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", *args, "--loglevel=INFO"],
            cwd=REPO,
            env={**celery_env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        processes.append(process)
        try:
            yield process
        finally:
            stop(process)

    yield start
    for process in processes:
        stop(process)
    # Shown by pytest only when the test failed: why a worker did not start or finish.
    for log in sorted(tmp_path.glob("celery-*.log")):
        print(f"--- {log.name}\n{log.read_text()[-4000:]}")
