"""The merchant API for the ledger (/api/v1/): the same data, filters and rules as the web
pages, as JSON with cursor pages."""

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.utils import timezone

from portal import services as portal_services
from settlements import services
from settlements.models import Payout, Transaction
from tests import factories
from tests.helpers import assert_constant_queries
from tests.settlements.test_views import (
    BAD_SEARCHES,
    SEARCHES,
    TRANSACTIONS,
    Growth,
    active_merchant,
    dashboard_data,
    ids_of,
    listed_ids,
    many_transactions,
    record,
    search_ledger,
    search_query,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"
SOME_ID = "0b6f3a52-8d1e-4c1e-9a57-4f6f2d1c9e10"
API_URLS = [
    f"{API}/dashboard/",
    f"{API}/transactions/",
    f"{API}/transactions/{SOME_ID}/",
    f"{API}/payouts/",
    f"{API}/payouts/{SOME_ID}/",
    f"{API}/payouts/{SOME_ID}/transactions/",
]


@pytest.fixture
def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def shop(db):
    return active_merchant()


@pytest.fixture
def api(english, shop):
    english.force_login(shop.user)
    return english


@pytest.fixture
def ledger(shop):
    return search_ledger(shop)


def all_pages(client, url: str) -> tuple[list[str], int]:
    """Every id the list at ``url`` returns following its ``next`` links, and the page count."""
    ids, pages = [], 0
    while url:
        body = client.get(url).json()
        ids += [row["id"] for row in body["results"]]
        url = body["next"]
        pages += 1
    return ids, pages


# -- Who may call it ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", API_URLS)
def test_an_anonymous_call_answers_401(client, url):
    response = client.get(url)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


@pytest.mark.parametrize("url", API_URLS)
def test_staff_get_403_from_the_merchant_api(client, staff_user, url):
    client.force_login(staff_user)

    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", API_URLS)
def test_an_applicant_without_a_merchant_gets_404_saying_why(english, customer, url):
    english.force_login(customer)

    response = english.get(url)

    assert response.status_code == 404
    assert response.json() == {"detail": "Transactions and payouts appear once you are a merchant."}


def test_a_merchant_can_call_the_api_with_a_token(client, shop):
    token = portal_services.api_token_regenerate(user=shop.user)
    record(shop, amount="12.34")

    response = client.get(f"{API}/transactions/", headers={"authorization": f"Token {token.key}"})

    assert response.status_code == 200
    assert [row["amount"] for row in response.json()["results"]] == ["12.34"]


# -- Another merchant's data ----------------------------------------------------------------------


@pytest.fixture
def other_shop(db):
    other = active_merchant()
    payout = factories.PayoutFactory(merchant=other, acquirer_id="PO-OTHER-API")
    sale = record(other, amount="987.65", payout_id=payout.acquirer_id)
    return SimpleNamespace(merchant=other, payout=payout, sale=sale)


def test_another_merchants_transaction_is_not_found(api, other_shop):
    assert api.get(f"{API}/transactions/{other_shop.sale.public_id}/").status_code == 404


def test_another_merchants_payout_is_not_found(api, other_shop):
    assert api.get(f"{API}/payouts/{other_shop.payout.public_id}/").status_code == 404


def test_another_merchants_payout_transactions_are_not_found(api, other_shop):
    response = api.get(f"{API}/payouts/{other_shop.payout.public_id}/transactions/")

    assert response.status_code == 404


def test_searching_by_another_merchants_payout_returns_nothing(api, shop, other_shop):
    record(shop, amount="123.45")

    response = api.get(f"{API}/transactions/?payout={other_shop.payout.public_id}")

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_lists_hold_only_the_merchants_own_rows(api, shop, other_shop):
    mine = record(shop, amount="123.45")
    my_payout = factories.PayoutFactory(merchant=shop)

    transactions = api.get(f"{API}/transactions/").json()["results"]
    payouts = api.get(f"{API}/payouts/").json()["results"]

    assert [row["id"] for row in transactions] == [str(mine.public_id)]
    assert [row["id"] for row in payouts] == [str(my_payout.public_id)]


def test_the_dashboard_counts_only_the_merchants_own_money(api, shop, other_shop):
    record(shop, amount="123.45", occurred_at=timezone.now() - timedelta(minutes=1))

    body = api.get(f"{API}/dashboard/").json()

    assert body["today_takings"] == "123.45"
    assert body["recent_payouts"] == []


# -- Queries do not grow with the data ------------------------------------------------------------


def test_the_dashboard_endpoint_runs_the_same_queries_however_much_history(api, shop):
    grow = Growth(shop)
    grow()

    assert_constant_queries(lambda: api.get(f"{API}/dashboard/"), grow)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?anomaly=any",
        "?channel=credit_card&type=sale&status=approved&amount_min=1&amount_max=500",
        "?date_from=2026-01-01&date_to=2026-12-31&tid=10000001&card_last4=0123",
    ],
)
def test_the_transactions_endpoint_runs_the_same_queries_however_many_transactions(
    api, shop, query
):
    grow = Growth(shop)
    grow()

    assert_constant_queries(lambda: api.get(f"{API}/transactions/{query}"), grow)


def test_the_transaction_endpoint_runs_the_same_queries_however_many_refunds(api, shop):
    sale = factories.TransactionFactory(
        merchant=shop, payout=factories.PayoutFactory(merchant=shop)
    )
    grow = Growth(shop, original=sale)
    grow()

    assert_constant_queries(lambda: api.get(f"{API}/transactions/{sale.public_id}/"), grow)


def test_the_payouts_endpoint_runs_the_same_queries_however_many_payouts(api, shop):
    grow = Growth(shop)
    grow()

    assert_constant_queries(lambda: api.get(f"{API}/payouts/"), grow)


def test_the_payout_endpoint_runs_the_same_queries_however_many_events(api, shop):
    payout = factories.PayoutFactory(merchant=shop)
    grow = Growth(shop, payout=payout)
    grow()

    assert_constant_queries(lambda: api.get(f"{API}/payouts/{payout.public_id}/"), grow)


def test_the_payout_transactions_endpoint_runs_the_same_queries_however_many(api, shop):
    payout = factories.PayoutFactory(merchant=shop)
    grow = Growth(shop, payout=payout)
    grow()

    assert_constant_queries(
        lambda: api.get(f"{API}/payouts/{payout.public_id}/transactions/"), grow
    )


# -- Searching: the API and the web page agree -----------------------------------------------------


@pytest.mark.parametrize(("query", "expected"), SEARCHES)
def test_the_api_and_the_web_page_find_the_same_transactions(api, ledger, query, expected):
    query = search_query(query, ledger)

    response = api.get(f"{API}/transactions/?{query}")
    web = api.get(f"{TRANSACTIONS}?{query}").content.decode()

    assert response.status_code == 200
    assert {row["id"] for row in response.json()["results"]} == ids_of(ledger, expected)
    assert set(listed_ids(web)) == ids_of(ledger, expected)


@pytest.mark.parametrize(("query", "field", "message"), BAD_SEARCHES)
def test_a_bad_search_answers_400_naming_the_field_and_returns_no_rows(
    api, ledger, query, field, message
):
    response = api.get(f"{API}/transactions/?{query}")

    assert response.status_code == 400
    assert response.json() == {field: [message]}


def test_a_malformed_cursor_answers_404(api, ledger):
    response = api.get(f"{API}/transactions/?cursor=garbage")

    # DRF's CursorPagination answers an undecodable cursor with NotFound.
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid cursor"}


def test_a_malformed_payout_cursor_answers_404(api, ledger):
    response = api.get(f"{API}/payouts/?cursor=garbage")

    assert response.status_code == 404


def test_amounts_come_signed_with_what_needs_attention(api, ledger):
    refund = api.get(f"{API}/transactions/{ledger.refund.public_id}/").json()
    refunded = api.get(f"{API}/transactions/{ledger.refunded_sale.public_id}/").json()
    voided = api.get(f"{API}/transactions/{ledger.voided_sale.public_id}/").json()
    differs = api.get(f"{API}/transactions/{ledger.fee_differs.public_id}/").json()
    unsettled = api.get(f"{API}/transactions/{ledger.unsettled.public_id}/").json()

    assert (refund["type"], refund["amount"], refund["fee"], refund["net"]) == (
        "refund",
        "-50.00",
        "-0.19",
        "-49.81",
    )
    assert refund["payout"] == str(ledger.payout_second.public_id)
    assert refund["anomalies"] == []
    assert refunded["anomalies"] == ["refunded"]
    assert voided["anomalies"] == ["reversed"]
    assert (differs["fee"], differs["acquirer_fee"], differs["anomalies"]) == (
        "0.30",
        "0.99",
        ["fee_mismatch"],
    )
    assert (unsettled["payout"], unsettled["anomalies"]) == (None, ["unsettled"])


# -- Pages ----------------------------------------------------------------------------------------


def test_next_links_visit_every_transaction_once_in_order(api, shop):
    expected = many_transactions(shop)

    seen, pages = all_pages(api, f"{API}/transactions/")

    assert seen == expected
    assert pages == 3


def test_a_transaction_arriving_between_pages_shifts_nothing_in_the_api(api, shop):
    expected = many_transactions(shop)
    first = api.get(f"{API}/transactions/").json()

    newcomer = factories.TransactionFactory(merchant=shop, occurred_at=timezone.now())
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()

    assert [row["id"] for row in first["results"]] == expected[:50]
    assert [row["id"] for row in second["results"]] == expected[50:100]
    assert [row["id"] for row in third["results"]] == expected[100:]
    assert third["next"] is None
    assert str(newcomer.public_id) not in {
        row["id"] for row in second["results"] + third["results"]
    }


def test_a_smaller_page_size_still_visits_every_transaction_once(api, shop):
    expected = many_transactions(shop, count=30)

    seen, pages = all_pages(api, f"{API}/transactions/?limit=7")

    assert seen == expected
    assert pages == 5


def test_next_links_keep_the_search(api, shop):
    many_transactions(shop, count=30)
    alipay = [
        factories.TransactionFactory(
            merchant=shop, channel="alipay", occurred_at=timezone.now() - timedelta(minutes=n)
        )
        for n in range(12)
    ]

    seen, pages = all_pages(api, f"{API}/transactions/?channel=alipay&limit=5")

    assert seen == [str(t.public_id) for t in alipay]
    assert pages == 3


def test_payout_pages_visit_every_payout_once_newest_settlement_first(api, shop):
    today = timezone.localdate()
    payouts = [
        factories.PayoutFactory(merchant=shop, settlement_date=today - timedelta(days=n // 2))
        for n in range(9)
    ]
    expected = [
        str(p.public_id)
        for p in sorted(payouts, key=lambda p: (p.settlement_date, p.pk), reverse=True)
    ]

    seen, pages = all_pages(api, f"{API}/payouts/?limit=4")

    assert seen == expected
    assert pages == 3


# -- Payouts --------------------------------------------------------------------------------------


def test_the_payout_endpoint_returns_its_timeline_in_order(api, shop):
    sale = record(shop, amount="100.00", occurred_at="2026-11-23T09:00:00+08:00")
    start = timezone.now() - timedelta(days=2)
    payout = services.payout_assemble(
        merchant=shop, settlement_date=sale.settlement_date, acquirer_id="PO-API-1", now=start
    )
    for hours, status, code in [
        (1, Payout.Status.PROCESSING, ""),
        (2, Payout.Status.RETURNED, "ACCOUNT_CLOSED"),
        (26, Payout.Status.SCHEDULED, ""),
        (27, Payout.Status.PAID, ""),
    ]:
        services.payout_apply_status(
            payout=payout,
            status=status,
            reason_code=code,
            reason="Account closed" if code else "",
            bank_reference="BANKREF1",
            seen_at=start + timedelta(hours=hours),
        )

    body = api.get(f"{API}/payouts/{payout.public_id}/").json()

    assert [(event["status"], event["reason_code"]) for event in body["timeline"]] == [
        ("scheduled", ""),
        ("processing", ""),
        ("returned", "ACCOUNT_CLOSED"),
        ("scheduled", ""),
        ("paid", ""),
    ]
    assert (body["status"], body["bank_reference"], body["is_late"]) == ("paid", "BANKREF1", False)
    assert (body["gross_amount"], body["fee_amount"], body["net_amount"]) == (
        "100.00",
        "0.60",
        "99.40",
    )


def test_the_payout_transactions_endpoint_lists_what_the_payout_carries(api, shop):
    payout = factories.PayoutFactory(merchant=shop)
    carried = [
        factories.TransactionFactory(
            merchant=shop, payout=payout, occurred_at=timezone.now() - timedelta(minutes=n)
        )
        for n in range(3)
    ]
    factories.TransactionFactory(merchant=shop)

    body = api.get(f"{API}/payouts/{payout.public_id}/transactions/").json()

    assert [row["id"] for row in body["results"]] == [str(t.public_id) for t in carried]
    assert {row["payout"] for row in body["results"]} == {str(payout.public_id)}


def test_a_returned_payout_says_why_in_the_api(api, shop):
    payout = factories.PayoutFactory(
        merchant=shop,
        status=Payout.Status.RETURNED,
        reason_code="SOMETHING_NEW",
        reason="Unheard-of reason",
        expected_at=timezone.now() - settings.PAYOUT_LATE_AFTER - timedelta(hours=1),
    )

    body = api.get(f"{API}/payouts/{payout.public_id}/").json()

    assert (body["status"], body["reason_code"], body["cause"], body["is_late"]) == (
        "returned",
        "UNKNOWN",
        "unknown",
        True,
    )


def test_the_payout_list_filters_late_payouts(api, shop):
    late = factories.PayoutFactory(
        merchant=shop,
        status=Payout.Status.HELD,
        expected_at=timezone.now() - settings.PAYOUT_LATE_AFTER - timedelta(minutes=1),
    )
    factories.PayoutFactory(
        merchant=shop,
        status=Payout.Status.HELD,
        expected_at=timezone.now() - settings.PAYOUT_LATE_AFTER + timedelta(minutes=1),
    )

    body = api.get(f"{API}/payouts/?late=true").json()

    assert [row["id"] for row in body["results"]] == [str(late.public_id)]


# -- The dashboard --------------------------------------------------------------------------------


def test_the_dashboard_endpoint_gives_the_dashboards_figures(api, shop):
    data = dashboard_data(shop)

    body = api.get(f"{API}/dashboard/").json()

    assert body["today"] == timezone.localdate().isoformat()
    assert (body["today_takings"], body["today_count"]) == ("30.00", 1)
    assert (body["month_takings"], body["month_count"]) == ("30.00", 1)
    assert body["unpaid"] == str(data.unpaid) == "1391.60"
    assert body["next_payout"]["id"] == str(data.next.public_id)
    assert [p["id"] for p in body["late_payouts"]] == [str(data.late.public_id)]
    assert [p["id"] for p in body["recent_payouts"]] == [
        str(data.later.public_id),
        str(data.next.public_id),
        str(data.paid.public_id),
        str(data.late.public_id),
    ]
    assert [p["is_late"] for p in body["recent_payouts"]] == [False, False, False, True]
    assert len(body["series"]) == 30
    assert body["series"][-1] == {
        "day": timezone.localdate().isoformat(),
        "takings": "30.00",
        "count": 1,
        "payouts": "0.00",
    }


def test_the_dashboard_endpoint_lists_a_payout_just_past_the_late_threshold(api, shop):
    late = factories.PayoutFactory(
        merchant=shop,
        status=Payout.Status.PROCESSING,
        expected_at=timezone.now() - settings.PAYOUT_LATE_AFTER - timedelta(minutes=1),
    )
    factories.PayoutFactory(
        merchant=shop,
        status=Payout.Status.PROCESSING,
        expected_at=timezone.now() - settings.PAYOUT_LATE_AFTER + timedelta(minutes=1),
    )

    body = api.get(f"{API}/dashboard/").json()

    assert [p["id"] for p in body["late_payouts"]] == [str(late.public_id)]


def test_the_dashboard_endpoint_counts_sales_not_refunds(api, shop):
    sale = record(shop, channel="alipay", amount="80.00", occurred_at=timezone.now())
    record(
        shop,
        type="refund",
        original_id=sale.acquirer_id,
        channel="alipay",
        amount="-30.00",
        occurred_at=timezone.now(),
    )

    body = api.get(f"{API}/dashboard/").json()

    assert (body["today_takings"], body["today_count"]) == ("50.00", 1)
    assert Transaction.objects.filter(merchant=shop).count() == 2
    assert Decimal(body["unpaid"]) == sum(t.net for t in Transaction.objects.filter(merchant=shop))
