"""Finance configures acquirers in the admin: the secret is written, never shown back, and
kept when left empty; "test the connection" makes a signed call and says what came back.
The acquirer is mocked at the client's boundary (respx)."""

import httpx
import pytest
import respx
from django.db import connection
from django.urls import reverse

from core import pii
from settlements.models import Acquirer
from tests import factories

pytestmark = pytest.mark.django_db
ADD = reverse("admin:settlements_acquirer_add")


@pytest.fixture
def finance(client):
    client.force_login(factories.StaffFactory(group="finance"))
    return client


def form(**overrides) -> dict:
    data = {
        "code": "unionpay-sandbox",
        "name": "银联沙箱",
        "base_url": "https://acquirer.example.cn/api",
        "key_id": "ak_live_01",
        "secret": "sk_live_very_secret",
        "enabled": "on",
        "transactions_poll_seconds": "60",
        "payouts_poll_seconds": "300",
        "feeds-TOTAL_FORMS": "0",
        "feeds-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_finance_adds_an_acquirer_and_its_secret_is_encrypted_and_never_shown(finance):
    response = finance.post(ADD, form())

    acquirer = Acquirer.objects.get()
    assert response.status_code == 302
    assert acquirer.secret == "sk_live_very_secret"
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM settlements_acquirer WHERE id = %s", [acquirer.pk])
        (stored,) = cursor.fetchone()
    assert "sk_live" not in stored
    assert pii.decrypt(stored) == "sk_live_very_secret"
    page = finance.get(reverse("admin:settlements_acquirer_change", args=[acquirer.pk]))
    assert "sk_live_very_secret" not in page.content.decode()


def test_leaving_the_secret_empty_keeps_it(finance):
    acquirer = factories.AcquirerFactory()
    url = reverse("admin:settlements_acquirer_change", args=[acquirer.pk])

    finance.post(url, form(code="demo", secret="", name="改名"))

    acquirer.refresh_from_db()
    assert (acquirer.name, acquirer.secret) == ("改名", "sk_test_7f3a91c2e4b86d05")


def test_a_new_acquirer_needs_its_secret(finance):
    response = finance.post(ADD, form(secret=""))

    assert response.status_code == 200
    assert "secret" in response.context["adminform"].form.errors
    assert not Acquirer.objects.exists()


@respx.mock
def test_testing_the_connection_makes_a_signed_call_and_says_it_worked(finance):
    acquirer = factories.AcquirerFactory()
    route = respx.get("http://acquirer.test/v1/merchants/000000000000000").mock(
        return_value=httpx.Response(
            404, json={"error": {"code": "not_found", "message": "merchant unknown"}}
        )
    )

    response = finance.post(
        reverse("admin:settlements_acquirer_test", args=[acquirer.pk]), follow=True
    )

    assert route.call_count == 1
    assert route.calls[0].request.headers["X-Acquirer-Key"] == "ak_test_portal_01"
    assert "连接成功：收单机构接受了签名" in response.content.decode()


@respx.mock
def test_testing_a_connection_that_fails_says_why(finance):
    acquirer = factories.AcquirerFactory()
    respx.get("http://acquirer.test/v1/merchants/000000000000000").mock(
        return_value=httpx.Response(401, json={"error": {"code": "bad_signature", "message": "x"}})
    )

    response = finance.post(
        reverse("admin:settlements_acquirer_test", args=[acquirer.pk]), follow=True
    )

    assert "bad_signature" in response.content.decode()
