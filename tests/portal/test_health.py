import json
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.models import Heartbeat
from tests.helpers import database_url_of_this_test_run, run_python

pytestmark = pytest.mark.django_db

# A GET /healthz from a child process configured by its environment, printed as JSON.
PROBE = """
import json, django
django.setup()
from django.test import Client
response = Client().get("/healthz", headers={"host": "localhost"})
print(json.dumps({"status": response.status_code, "body": response.json()}))
"""


def probe(**env):
    result = run_python(PROBE, timeout=30, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_healthz_answers_200_when_database_and_broker_answer(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "broker": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


def test_healthz_reports_a_fresh_worker_heartbeat(client):
    Heartbeat.objects.create(name="worker", seen_at=timezone.now() - timedelta(seconds=5))

    worker = client.get("/healthz").json()["worker"]

    assert worker["fresh"] is True
    assert 4 <= worker["age_seconds"] <= 60


def test_a_stale_heartbeat_is_reported_but_does_not_fail_the_check(client, settings):
    Heartbeat.objects.create(
        name="worker",
        seen_at=timezone.now() - timedelta(seconds=10 * settings.HEARTBEAT_INTERVAL_SECONDS),
    )

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["worker"]["fresh"] is False


def test_healthz_answers_503_when_the_broker_is_down():
    # Port 9 (discard) has no Redis behind it on any machine this runs on.
    result = probe(
        DATABASE_URL=database_url_of_this_test_run(), CELERY_BROKER_URL="redis://127.0.0.1:9/0"
    )

    assert result["status"] == 503
    assert result["body"]["status"] == "error"
    assert result["body"]["checks"]["database"] == "ok"
    assert result["body"]["checks"]["broker"].startswith("error")


def test_healthz_answers_503_when_the_database_is_down():
    result = probe(DATABASE_URL="postgres://postgres@127.0.0.1:9/portal")

    assert result["status"] == 503
    assert result["body"]["checks"]["database"].startswith("error")
    assert result["body"]["checks"]["broker"] == "ok"
    assert result["body"]["worker"] == {"last_seen": None}


def test_healthz_answers_head_probes_and_rejects_writes(client):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405
