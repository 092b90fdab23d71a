"""The merchant API fuzzed from its own OpenAPI schema (/api/schema/, drf-spectacular) with
schemathesis: every operation, called in-process through the WSGI application against the test
database, as an active merchant with transactions, payouts and an application.

Generation is bounded and repeatable: a fixed seed, derandomised Hypothesis, a modest number of
examples per operation and no example database, so a failure reproduces on every run.
"""

from datetime import timedelta
from types import SimpleNamespace

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings

from portal import services as portal_services
from portal.models import Application, Merchant
from portal.wsgi import application
from settlements.models import Payout, PayoutEvent, Transaction
from tests import factories
from tests.contracts import approved_merchant
from tests.settlements.test_views import search_ledger

pytestmark = pytest.mark.django_db

SEED = 20261126
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {
            "max-examples": 30,
            "deterministic": True,
            "database": "none",
            # The merchant's token is sent with every call; a generated Authorization header
            # would only test that a wrong token answers 401.
            "with-security-parameters": False,
        },
        "checks": {
            "enabled": False,
            "not_a_server_error": {"enabled": True},
            "status_code_conformance": {"enabled": True},
            "content_type_conformance": {"enabled": True},
            "response_headers_conformance": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
        },
    }
)
# The schema exactly as the portal serves it. Loading it needs no database, so it can happen at
# collection, which schemathesis needs to make one test per operation.
schema = schemathesis.openapi.from_wsgi("/api/schema/", application, config=CONFIG)

# One merchant's data for every example of an operation; the API only reads, which the
# no-server-error test checks after each call.
FUZZ_SETTINGS = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def keep_test_transaction():
    # The test runs inside a transaction that is rolled back at its end. A real WSGI request
    # ends with close_old_connections(), which closes a connection that is not in autocommit
    # mode, and with it that transaction (on PostgreSQL); Django's own test client disconnects
    # it for the same reason.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def own(db):
    """An active merchant (approved through an application) with the search ledger's ten
    transactions in two payouts, a paid payout and a held, late one with a reason code the
    portal does not know."""
    merchant = approved_merchant()
    Merchant.objects.filter(pk=merchant.pk).update(status=Merchant.Status.ACTIVE)
    merchant.refresh_from_db()
    ledger = search_ledger(merchant)
    factories.PayoutFactory(merchant=merchant, status=Payout.Status.PAID)
    held = factories.PayoutFactory(
        merchant=merchant,
        status=Payout.Status.HELD,
        reason_code="SOMETHING_NEW",
        reason="银行退回",
        expected_at=timezone.now() - timedelta(days=5),
    )
    return SimpleNamespace(
        merchant=merchant,
        transaction=ledger.refund,
        payout=ledger.payout_second,
        held_payout=held,
        application=Application.objects.get(merchant=merchant),
    )


@pytest.fixture
def auth(keep_test_transaction, own):
    token = portal_services.api_token_regenerate(user=own.merchant.user)
    return {"Authorization": f"Token {token.key}"}


def stored_rows() -> dict[str, int]:
    return {
        "transactions": Transaction.objects.count(),
        "payouts": Payout.objects.count(),
        "payout events": PayoutEvent.objects.count(),
        "applications": Application.objects.count(),
        "merchants": Merchant.objects.count(),
    }


@schema.parametrize()
@FUZZ_SETTINGS
def test_no_generated_call_gets_a_server_error_or_changes_anything(case, auth):
    before = stored_rows()

    response = case.call(headers=auth)

    assert response.status_code < 500, case.as_curl_command()
    assert stored_rows() == before, case.as_curl_command()


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_generated_call_is_answered_as_the_schema_documents(case, auth):
    # Status code documented for the operation, Content-Type documented for that status, and
    # the body valid against its schema: the contract a client generated from /api/schema/
    # relies on, for good and for bad input alike.
    response = case.call_and_validate(headers=auth)

    assert response.status_code < 500


@pytest.mark.parametrize(
    ("path", "which"),
    [
        ("/api/v1/transactions/{public_id}/", "transaction"),
        ("/api/v1/payouts/{public_id}/", "payout"),
        ("/api/v1/payouts/{public_id}/", "held_payout"),
        ("/api/v1/applications/{public_id}/", "application"),
    ],
)
def test_the_merchants_own_objects_come_back_as_the_schema_documents(path, which, own, auth):
    # Generated ids almost never name a stored row, so the found case is called explicitly.
    public_id = str(getattr(own, which).public_id)
    case = schema[path]["GET"].Case(path_parameters={"public_id": public_id})

    response = case.call_and_validate(headers=auth)

    assert response.status_code == 200
    assert response.json()["id"] == public_id


def test_a_payouts_own_transactions_come_back_as_the_schema_documents(own, auth):
    case = schema["/api/v1/payouts/{public_id}/transactions/"]["GET"].Case(
        path_parameters={"public_id": str(own.payout.public_id)}
    )

    response = case.call_and_validate(headers=auth)

    assert response.status_code == 200
    assert {row["id"] for row in response.json()["results"]} == {
        str(public_id) for public_id in own.payout.transactions.values_list("public_id", flat=True)
    }
