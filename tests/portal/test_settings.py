import json

import pytest

from tests.helpers import PRODUCTION, run_manage, run_python

SHOW_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "debug": settings.DEBUG,
    "engine": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "broker": settings.CELERY_BROKER_URL,
    "cache": settings.CACHES["default"]["BACKEND"],
    "cache_location": settings.CACHES["default"].get("LOCATION"),
    "email": settings.EMAIL_BACKEND,
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "language": settings.LANGUAGE_CODE,
    "time_zone": settings.TIME_ZONE,
    "use_tz": settings.USE_TZ,
}))
"""


def show_settings(**env):
    result = run_python(SHOW_SETTINGS, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_with_no_variables_it_runs_embedded_with_no_servers():
    config = show_settings()

    assert config["debug"] is True
    assert config["engine"] == "django.db.backends.sqlite3"
    assert config["db_name"].endswith("/var/portal.sqlite3")
    assert config["broker"] == "filesystem://localhost//"
    assert config["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert config["email"] == "django.core.mail.backends.console.EmailBackend"
    assert config["eager"] is False
    assert (config["language"], config["time_zone"], config["use_tz"]) == (
        "zh-hans",
        "Asia/Shanghai",
        True,
    )


def test_service_urls_switch_to_postgresql_and_redis():
    config = show_settings(
        DATABASE_URL="postgres://portal:secret@db.internal:5432/portal",
        REDIS_URL="redis://cache.internal:6379/0",
    )

    assert config["engine"] == "django.db.backends.postgresql"
    assert config["broker"] == "redis://cache.internal:6379/0"
    assert config["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert config["cache_location"] == "redis://cache.internal:6379/0"


def test_a_separate_broker_url_wins_over_redis_url():
    config = show_settings(
        REDIS_URL="redis://cache.internal:6379/0", CELERY_BROKER_URL="redis://queue.internal:6379/2"
    )

    assert config["broker"] == "redis://queue.internal:6379/2"
    assert config["cache_location"] == "redis://cache.internal:6379/0"


def test_each_test_worker_has_a_redis_database_of_its_own():
    # pytest-xdist runs tests in several processes at once: two must never share the broker's
    # queues and unacknowledged-message keys, nor the cache.
    first = show_settings(PYTEST_XDIST_WORKER="gw0", REDIS_URL="redis://cache.internal:6379/0")
    second = show_settings(PYTEST_XDIST_WORKER="gw1", REDIS_URL="redis://cache.internal:6379/0")
    separate = show_settings(
        PYTEST_XDIST_WORKER="gw1",
        REDIS_URL="redis://cache.internal:6379/3",
        CELERY_BROKER_URL="redis://queue.internal:6379/8",
    )
    embedded = show_settings(PYTEST_XDIST_WORKER="gw1")

    assert (first["broker"], first["cache_location"]) == (
        "redis://cache.internal:6379/1",
        "redis://cache.internal:6379/1",
    )
    assert (second["broker"], second["cache_location"]) == (
        "redis://cache.internal:6379/2",
        "redis://cache.internal:6379/2",
    )
    assert (separate["broker"], separate["cache_location"]) == (
        "redis://queue.internal:6379/10",
        "redis://cache.internal:6379/5",
    )
    assert embedded["broker"] == "filesystem://localhost//"


def test_a_test_worker_past_the_last_redis_database_fails_loudly():
    result = run_python(
        SHOW_SETTINGS, PYTEST_XDIST_WORKER="gw15", REDIS_URL="redis://cache.internal:6379/0"
    )

    assert result.returncode != 0
    assert "no Redis database 16 for test worker gw15" in result.stderr


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("SECRET_KEY", "SECRET_KEY must be set"),
        ("ALLOWED_HOSTS", "ALLOWED_HOSTS must be set"),
        ("EMAIL_URL", "EMAIL_URL must be set"),
        ("PII_ENCRYPTION_KEYS", "PII_ENCRYPTION_KEYS and PII_HASH_KEY must be set"),
        ("PII_HASH_KEY", "PII_ENCRYPTION_KEYS and PII_HASH_KEY must be set"),
    ],
)
def test_production_refuses_to_start_without(missing, message):
    env = {name: value for name, value in PRODUCTION.items() if name != missing}

    result = run_python(SHOW_SETTINGS, **env)

    assert result.returncode != 0
    assert f"{message} when DEBUG is false" in result.stderr


def test_a_bad_time_limit_fails_loudly():
    result = run_python(
        SHOW_SETTINGS, CELERY_TASK_SOFT_TIME_LIMIT="600", CELERY_TASK_TIME_LIMIT="300"
    )

    assert result.returncode != 0
    assert "CELERY_TASK_SOFT_TIME_LIMIT must be below CELERY_TASK_TIME_LIMIT" in result.stderr


def test_redis_must_not_redeliver_a_task_that_is_still_running():
    result = run_python(
        SHOW_SETTINGS,
        REDIS_URL="redis://cache.internal:6379/0",
        CELERY_VISIBILITY_TIMEOUT="200",
        CELERY_TASK_TIME_LIMIT="300",
    )

    assert result.returncode != 0
    assert "CELERY_VISIBILITY_TIMEOUT must exceed CELERY_TASK_TIME_LIMIT" in result.stderr


def test_production_mode_passes_the_deployment_checklist():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
