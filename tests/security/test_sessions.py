"""Sessions and CSRF: a log-in gets a new session key (no fixation), a log-out ends the
session, and a state-changing POST without the CSRF token is refused everywhere a browser can
send one."""

import pytest
from django.conf import settings
from django.test import Client

from tests import factories
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def session_key(client) -> str | None:
    return client.cookies[settings.SESSION_COOKIE_NAME].value if client.cookies else None


def test_logging_in_to_the_portal_rotates_the_session_key(client):
    customer = factories.CustomerFactory()
    client.get("/accounts/login/")
    client.post("/accounts/login/", {"username": "13000000000", "password": "wrong-one-9"})
    before = client.session.session_key

    client.post("/accounts/login/", {"username": customer.mobile, "password": PASSWORD})

    assert client.session.get("_auth_user_id") == str(customer.pk)
    assert before and client.session.session_key != before


def test_logging_in_to_the_admin_rotates_the_session_key(client):
    staff = factories.StaffFactory()
    client.post("/admin/login/", {"username": staff.username, "password": "wrong-one-9"})
    before = client.session.session_key

    client.post("/admin/login/", {"username": staff.username, "password": PASSWORD})

    assert client.session.get("_auth_user_id") == str(staff.pk)
    assert before and client.session.session_key != before


def test_logging_out_ends_the_session_on_the_server(client):
    customer = factories.CustomerFactory()
    client.force_login(customer)
    old_key = client.session.session_key
    stolen = Client()
    stolen.cookies[settings.SESSION_COOKIE_NAME] = old_key

    client.post("/accounts/logout/")

    assert stolen.get("/merchant/").status_code == 302  # the copied cookie opens nothing


def test_session_and_csrf_cookies_are_not_readable_by_script_and_stay_on_this_site():
    assert settings.SESSION_COOKIE_HTTPONLY is True
    assert settings.SESSION_COOKIE_SAMESITE in {"Lax", "Strict"}
    assert settings.CSRF_COOKIE_SAMESITE in {"Lax", "Strict"}


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/accounts/login/", {"username": "13800138000", "password": PASSWORD}),
        ("/accounts/signup/", {"login": "13911112222", "password1": PASSWORD}),
        ("/accounts/password/reset/", {"email": "li@example.cn"}),
        ("/admin/login/", {"username": "admin", "password": PASSWORD}),
        ("/i18n/setlang/", {"language": "en", "next": "/"}),
    ],
)
def test_anonymous_forms_refuse_a_post_without_the_csrf_token(path, data):
    browser = Client(enforce_csrf_checks=True)

    assert browser.post(path, data).status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/logout/",
        "/accounts/password/change/",
        "/merchant/api-token/",
        "/admin/logout/",
    ],
)
def test_signed_in_actions_refuse_a_post_without_the_csrf_token(path):
    browser = Client(enforce_csrf_checks=True)
    user = factories.StaffFactory() if path.startswith("/admin/") else factories.CustomerFactory()
    browser.force_login(user)

    response = browser.post(path, {})

    assert response.status_code == 403
    assert browser.session.get("_auth_user_id") == str(user.pk)  # still signed in


def test_the_api_with_a_session_cookie_needs_the_csrf_token_too():
    merchant = factories.MerchantFactory()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(merchant.user)

    response = browser.post("/api/v1/me/", {}, content_type="application/json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
