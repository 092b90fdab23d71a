"""The headers every page carries: a Content-Security-Policy that lets no injected script run,
no framing, no sniffing, a same-origin referrer; HSTS and secure cookies in production mode
(checked in a child process started as production, see tests/portal/test_settings.py)."""

import re

import pytest
from django.urls import reverse

from tests import factories
from tests.helpers import production_settings

pytestmark = pytest.mark.django_db

PUBLIC_PAGES = ["/", "/accounts/login/", "/accounts/signup/", "/products/", "/contracts/verify/"]


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_carry_a_policy_that_runs_no_inline_script(client, path):
    response = client.get(path)

    assert response.status_code == 200
    policy = directives(response)
    assert policy["script-src"] == ["'self'"]  # no nonce used, no 'unsafe-inline'
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_pages_use_no_inline_script(client):
    # With no inline script the policy never needs a nonce; one added later must carry it.
    merchant = factories.MerchantFactory()
    client.force_login(merchant.user)
    for path in ["/", reverse("portal:merchant-home"), "/merchant/transactions/"]:
        body = client.get(path).content.decode()
        inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", body)
        assert inline == [], f"{path} has an inline script"


def test_the_merchant_area_and_the_admin_carry_the_policy(client, admin_client):
    merchant = factories.MerchantFactory()
    client.force_login(merchant.user)

    for response in (
        client.get(reverse("portal:merchant-home")),
        client.get("/merchant/payouts/"),
        admin_client.get("/admin/"),
        admin_client.get("/admin/settlements/payout/"),
    ):
        assert response.status_code == 200
        assert directives(response)["script-src"][0] == "'self'"
        assert "'unsafe-inline'" not in directives(response)["script-src"]


def test_the_api_docs_load_their_script_from_a_url_not_inline(client):
    page = client.get("/api/docs/")
    script = client.get("/api/docs/?script=")

    assert page.status_code == 200
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page.content.decode()) == []
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


def test_production_mode_sends_hsts_and_secure_cookies():
    assert production_settings(
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_HTTPONLY",
    ) == {
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_HTTPONLY": True,
    }
