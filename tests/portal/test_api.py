import pytest
from django.conf import settings
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from rest_framework.authtoken.models import Token
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from core.pagination import CursorPagination
from portal import services
from portal.models import User
from tests import factories

pytestmark = pytest.mark.django_db

ME = reverse("api:me")


@pytest.fixture
def api():
    return APIClient()


def test_anonymous_calls_get_401_with_the_token_scheme(api):
    response = api.get(ME)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert set(response.json()) == {"detail"}


def test_a_token_reads_the_merchants_own_account(api, merchant):
    token = services.api_token_regenerate(user=merchant.user)

    response = api.get(ME, headers={"authorization": f"Token {token.key}"})

    assert response.status_code == 200
    body = response.json()
    assert parse_datetime(body.pop("date_joined")) == merchant.user.date_joined
    assert body == {
        "mobile": merchant.user.mobile,
        "email": merchant.user.email,
        "merchant": {"mid": merchant.mid, "name": merchant.name, "status": "contract_pending"},
    }


def test_a_revoked_token_stops_working(api, customer):
    token = services.api_token_regenerate(user=customer)
    services.api_token_revoke(user=customer)

    response = api.get(ME, headers={"authorization": f"Token {token.key}"})

    assert response.status_code == 401


def test_a_browser_session_works_too(api, customer):
    api.force_login(customer)

    response = api.get(ME)

    assert response.status_code == 200
    assert response.json()["merchant"] is None


def test_session_writes_need_a_csrf_token(customer):
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(customer)

    response = api.post(ME, {})

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def rate_limit(scope):
    return int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope].split("/")[0])


def test_anonymous_callers_are_throttled_on_public_endpoints(api):
    # DRF checks permissions before throttles, so on private endpoints an anonymous caller
    # gets 401 first; the anonymous rate guards the public ones, like the schema.
    url = reverse("api-schema")
    statuses = {api.get(url).status_code for _ in range(rate_limit("anon"))}

    response = api.get(url)

    assert statuses == {200}
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_signed_in_callers_are_throttled_per_account(api, customer):
    api.force_login(customer)
    statuses = {api.get(ME).status_code for _ in range(rate_limit("user"))}

    response = api.get(ME)

    assert statuses == {200}
    assert response.status_code == 429


def test_staff_sessions_get_no_merchant_api(api, staff_user):
    api.force_login(staff_user)

    response = api.get(ME)

    assert response.status_code == 403


def paginate(query_string):
    request = Request(APIRequestFactory().get("/" + query_string))
    paginator = CursorPagination()
    page = paginator.paginate_queryset(User.objects.all(), request)
    return [user.pk for user in page], paginator


def test_lists_page_newest_first_with_a_cursor():
    users = factories.CustomerFactory.create_batch(5)
    newest_first = [user.pk for user in reversed(users)]

    first_page, paginator = paginate("?limit=2")
    next_query = paginator.get_next_link().split("/", 3)[-1]
    second_page, _paginator = paginate(next_query)

    assert first_page == newest_first[:2]
    assert second_page == newest_first[2:4]


def test_page_size_is_capped():
    request = Request(APIRequestFactory().get("/?limit=100000"))

    assert CursorPagination().get_page_size(request) == 500


def test_the_schema_documents_the_v1_api(client):
    response = client.get(reverse("api-schema"), {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    assert "/api/v1/me/" in schema["paths"]
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])


def test_swagger_ui_loads_its_assets_from_this_site(client):
    response = client.get(reverse("api-docs"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()


def test_api_token_page_shows_a_new_token_once(customer_client, customer):
    page = reverse("portal:api-token")

    created = customer_client.post(page, {"action": "create"}, follow=True)
    again = customer_client.get(page)

    key = Token.objects.get(user=customer).key
    assert key in created.content.decode()
    assert key not in again.content.decode()
    assert "当前有一个有效令牌" in again.content.decode()


def test_api_token_page_revokes(customer_client, customer):
    services.api_token_regenerate(user=customer)

    response = customer_client.post(reverse("portal:api-token"), {"action": "revoke"})

    assert response.status_code == 302
    assert not Token.objects.filter(user=customer).exists()


def test_api_token_page_refuses_an_unknown_action(customer_client, customer):
    response = customer_client.post(reverse("portal:api-token"), {"action": "drop-table"})

    assert response.status_code == 400
    assert not Token.objects.filter(user=customer).exists()
