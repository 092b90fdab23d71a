import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from portal import services
from portal.models import Merchant
from tests import factories
from tests import onboarding as data

pytestmark = pytest.mark.django_db

LIST = reverse("api:application-list")


@pytest.fixture
def api(customer):
    client = APIClient()
    client.force_authenticate(customer)
    return client


def detail_url(application):
    return reverse("api:application-detail", args=[application.public_id])


def test_the_list_holds_only_my_applications(api, customer):
    mine = data.submitted(customer)
    data.submitted(id_number=data.resident_id(sequence=456))

    response = api.get(LIST)

    assert response.status_code == 200
    body = response.json()
    assert [item["number"] for item in body["results"]] == [mine.number]
    assert body["results"][0]["status"] == "submitted"
    assert body["results"][0]["id"] == str(mine.public_id)
    assert body["next"] is None


def test_the_detail_shows_the_timeline_and_open_questions(api, customer):
    reviewer = factories.StaffFactory(group="reviewer")
    application = data.in_review(reviewer, customer)
    services.application_request_info(
        application=application, reviewer=reviewer, items=[("mcc", "类别与门店不符")]
    )

    body = api.get(detail_url(application)).json()

    assert [event["status"] for event in body["timeline"]] == [
        "draft",
        "submitted",
        "in_review",
        "needs_info",
    ]
    assert body["open_questions"] == [
        {"item": "mcc", "item_label": "经营类别", "reason": "类别与门店不符", "resolved": False}
    ]
    assert body["timeline"][-1]["questions"][0]["reason"] == "类别与门店不符"


def test_someone_elses_application_is_a_404(api):
    other = data.submitted()

    response = api.get(detail_url(other))

    assert response.status_code == 404


def test_anonymous_callers_get_401():
    response = APIClient().get(LIST)

    assert response.status_code == 401


def test_approved_applications_carry_the_mid(api, customer):
    reviewer = factories.StaffFactory(group="reviewer")
    application = data.in_review(reviewer, customer)
    services.application_approve(application=application, reviewer=reviewer)

    body = api.get(detail_url(application)).json()

    assert body["status"] == "approved"
    assert body["mid"] == Merchant.objects.get(user=customer).mid


def test_the_schema_documents_the_application_endpoints(client):
    schema = client.get(reverse("api-schema"), {"format": "json"}).json()

    assert "/api/v1/applications/" in schema["paths"]
    assert "/api/v1/applications/{public_id}/" in schema["paths"]


def test_the_detail_keeps_a_constant_number_of_queries(
    api, customer, django_assert_max_num_queries
):
    reviewer = factories.StaffFactory(group="reviewer")
    application = data.in_review(reviewer, customer)
    services.application_request_info(
        application=application,
        reviewer=reviewer,
        items=[("mcc", "一"), ("contact", "二"), ("business_name", "三")],
    )

    with django_assert_max_num_queries(8):
        api.get(detail_url(application))
