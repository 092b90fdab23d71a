import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from django.db import connection

REPO = Path(__file__).resolve().parent.parent
CONFIG_VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "CACHE_URL",
    "CELERY_BROKER_URL",
    "EMAIL_URL",
    # Which pytest-xdist worker this is: the settings give each one a Redis database of its
    # own (portal.settings.redis_url_of_this_test_worker).
    "PYTEST_XDIST_WORKER",
)


def environment(*, inherit_services: bool = False, **overrides: str) -> dict[str, str]:
    """The environment for a child process: this one's, minus the portal's configuration
    (unless ``inherit_services``: then the child uses this test worker's database, Redis
    database and broker), plus ``overrides``."""
    env = dict(os.environ)
    if not inherit_services:
        for name in CONFIG_VARIABLES:
            env.pop(name, None)
    env["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    env.update(overrides)
    return env


def run_python(code: str, *, timeout: float = 60, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=environment(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_manage(*args: str, timeout: float = 120, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=environment(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def database_url_of_this_test_run() -> str:
    """A DATABASE_URL naming the database this test run uses, for a child process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def run_at_once(function, arguments: list) -> list:
    """Call ``function(argument)`` for each argument in its own thread, all released at the
    same moment; return what each returned or raised (in argument order). Each thread closes
    its database connection, as a request would."""
    barrier = threading.Barrier(len(arguments))
    outcomes: list = [None] * len(arguments)

    def run(index, argument):
        barrier.wait()
        try:
            outcomes[index] = function(argument)
        except Exception as exc:  # handed back to the test, which asserts on it
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=[index, argument])
        for index, argument in enumerate(arguments)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def queries_for(request) -> int:
    """How many SQL queries ``request()`` makes."""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        request()
    return len(captured)


def assert_constant_queries(request, grow, *, times: int = 3) -> int:
    """Fail if ``request()`` makes more queries after ``grow()`` adds data: an N+1 shows as a
    difference between two sizes, which a fixed ceiling at one size can miss."""
    request()  # warm caches (sessions, content types) so both counts see the same state
    before = queries_for(request)
    for _ in range(times):
        grow()
    after = queries_for(request)
    assert after == before, f"{before} queries before, {after} after adding data"
    return after


# The least a production start needs (DEBUG=false refuses to start without these).
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k3x!p9$w2#r7@m4^t8&v1*q6(z5)y0_n-b=c+d~e|f;g:h,i.j<k>l?o/s",
    "ALLOWED_HOSTS": "portal.example.cn",
    "EMAIL_URL": "smtp+tls://portal:secret@smtp.example.cn:587",
    "PII_ENCRYPTION_KEYS": "m3ZqS1dYc0RkT2pYbWJ2cEpZcWh0Q0ZsU2RlS2F4b0o=",
    "PII_HASH_KEY": "a-long-random-hash-key-for-the-blind-indexes",
}


def production_settings(*names: str) -> dict:
    """The named settings as a process started in production mode reads them."""
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name) for name in {list(names)!r}}}))"
    )
    result = run_python(code, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])
