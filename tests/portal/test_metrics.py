"""/metrics for Prometheus: only for a scraper with the token or from an allowed address,
and what it says about jobs and acquirers comes from the database, so every process agrees."""

import httpx
import pytest
from django.urls import reverse

from core import jobs
from settlements.acquirer_client import AcquirerClient
from settlements.models import AcquirerError, AcquirerFeed
from tests.factories import AcquirerFactory

pytestmark = pytest.mark.django_db
URL = reverse("metrics")


def test_without_a_token_or_an_address_configured_there_is_no_such_page(client):
    assert client.get(URL).status_code == 404


def test_a_wrong_token_gets_the_page_that_does_not_exist(client, settings):
    settings.METRICS_TOKEN = "scrape-me"

    response = client.get(URL, HTTP_AUTHORIZATION="Bearer guessed")

    assert response.status_code == 404


def test_an_allowed_address_needs_no_token(client, settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]

    assert client.get(URL, REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get(URL, REMOTE_ADDR="10.0.0.9").status_code == 404


def test_the_scrape_says_how_the_acquirers_and_the_jobs_are(client, settings):
    settings.METRICS_TOKEN = "scrape-me"
    acquirer = AcquirerFactory()
    AcquirerFeed.objects.create(acquirer=acquirer, kind="payouts", records_applied=7)
    AcquirerError.objects.create(acquirer=acquirer, source="payouts", message="net_amount: …")
    jobs.job_start(kind="settlements.payouts_feed", subject=AcquirerFeed.objects.get())

    def handler(request):
        return httpx.Response(200, json={"id": "po_1"})

    AcquirerClient(acquirer, transport=httpx.MockTransport(handler)).call("GET", "/v1/payouts/po_1")

    response = client.get(URL, HTTP_AUTHORIZATION="Bearer scrape-me")

    body = response.content.decode()
    assert response["Content-Type"].startswith("text/plain")
    assert 'portal_acquirer_breaker_open{acquirer="demo"} 0.0' in body
    assert (
        'portal_acquirer_feed_records_total{acquirer="demo",feed="payouts",outcome="applied"} 7.0'
        in body
    )
    assert 'portal_acquirer_errors_total{acquirer="demo",source="payouts"} 1.0' in body
    assert 'portal_jobs{kind="settlements.payouts_feed",status="queued"} 1.0' in body
    assert (
        'portal_acquirer_call_seconds_count{acquirer="demo",endpoint="GET /v1/payouts/{id}",'
        'outcome="ok"}' in body
    )


def test_healthz_reports_the_acquirers_for_information(client):
    acquirer = AcquirerFactory()
    AcquirerError.objects.create(acquirer=acquirer, source="call", message="503")

    report = client.get("/healthz").json()

    assert report["acquirers"] == {"errors_last_24h": 1, "breakers_open": []}
