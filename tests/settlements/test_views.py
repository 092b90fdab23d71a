"""The merchant's money pages on the web: the dashboard on /merchant/, transactions with their
search, payouts, and who may see what.

The data builders here (``record``, ``search_ledger``, ``SEARCHES``, ``Growth``) are shared with
test_api.py and test_exports.py, so the web page, the API and the exports are held to the same
cases.
"""

import html
import re
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.utils import timezone

from core.pagination import encode_cursor
from portal.models import Merchant
from settlements import selectors, services
from settlements.acquirer_data import parse_transaction
from settlements.models import Payout, PayoutEvent, Transaction
from settlements.selectors import Totals
from tests import contracts, factories
from tests import onboarding as onboarding_data
from tests.helpers import assert_constant_queries

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
MERCHANT_HOME = "/merchant/"
TRANSACTIONS = "/merchant/transactions/"
PAYOUTS = "/merchant/payouts/"
# Any UUID: the access checks run before the object is looked up.
SOME_ID = "0b6f3a52-8d1e-4c1e-9a57-4f6f2d1c9e10"
MONEY_PAGES = [
    TRANSACTIONS,
    f"{TRANSACTIONS}?anomaly=any",
    f"{TRANSACTIONS}export.csv",
    f"{TRANSACTIONS}export.xlsx",
    f"{TRANSACTIONS}{SOME_ID}/",
    PAYOUTS,
    f"{PAYOUTS}{SOME_ID}/",
    "/merchant/statements/",
    "/merchant/statements/2026-11.pdf",
    "/merchant/statements/2026-11.csv",
]

ROW_LINK = re.compile(r'href="/merchant/transactions/([0-9a-f-]{36})/"')
OLDER_LINK = re.compile(r'href="\?([^"]*)" data-testid="next-page"')
LONG_DIGIT_RUN = re.compile(r"(?<!\d)\d{16,19}(?!\d)")


# -- Data -----------------------------------------------------------------------------------------


def record(merchant: Merchant, **overrides) -> Transaction:
    """A transaction as the acquirer reports it, recorded through the service."""
    if isinstance(overrides.get("occurred_at"), datetime):
        overrides["occurred_at"] = overrides["occurred_at"].isoformat()
    payload = factories.transaction_payload(merchant, **overrides)
    transaction, created = services.transaction_record(data=parse_transaction(payload))
    assert created
    return transaction


def active_merchant(**overrides) -> Merchant:
    return factories.MerchantFactory(status=Merchant.Status.ACTIVE, **overrides)


def search_ledger(merchant: Merchant) -> SimpleNamespace:
    """Ten transactions, each findable by one thing that sets it apart, in two payouts.

    Every approved one except ``unsettled`` is in a payout, so "not yet in a payout" finds
    exactly that one.
    """
    first = factories.PayoutFactory(merchant=merchant, acquirer_id=f"POS1-{merchant.mid}")
    second = factories.PayoutFactory(merchant=merchant, acquirer_id=f"POS2-{merchant.mid}")

    def add(payout, **overrides):
        return record(merchant, payout_id=payout.acquirer_id if payout else None, **overrides)

    ledger = SimpleNamespace(payout_first=first, payout_second=second)
    ledger.before_midnight = add(first, amount="10.00", occurred_at="2026-11-24T23:59:59+08:00")
    ledger.at_midnight = add(
        first, channel="wechat_pay", amount="20.00", occurred_at="2026-11-25T00:00:00+08:00"
    )
    ledger.late_evening = add(
        first, amount="100.00", rrn="202611252330", occurred_at="2026-11-25T23:30:00+08:00"
    )
    ledger.refunded_sale = add(
        second, channel="alipay", amount="200.00", occurred_at="2026-11-20T12:00:00+08:00"
    )
    ledger.refund = add(
        second,
        type="refund",
        original_id=ledger.refunded_sale.acquirer_id,
        channel="alipay",
        amount="-50.00",
        occurred_at="2026-11-21T12:00:00+08:00",
    )
    ledger.voided_sale = add(
        second,
        channel="debit_card",
        card_masked="621700******9876",
        amount="60.00",
        occurred_at="2026-11-22T10:00:00+08:00",
    )
    ledger.void = add(
        second,
        type="void",
        original_id=ledger.voided_sale.acquirer_id,
        channel="debit_card",
        card_masked="621700******9876",
        amount="-60.00",
        occurred_at="2026-11-22T10:05:00+08:00",
    )
    ledger.declined = add(
        None, status="declined", amount="300.00", occurred_at="2026-11-23T09:00:00+08:00"
    )
    ledger.fee_differs = add(
        second,
        channel="unionpay_qr",
        terminal_id="10000002",
        amount="80.00",
        fee="0.99",
        occurred_at="2026-11-23T15:00:00+08:00",
    )
    ledger.unsettled = add(None, amount="45.00", occurred_at="2026-11-18T10:00:00+08:00")
    return ledger


# A query string and the transactions of ``search_ledger`` it finds, by name.
SEARCHES = [
    # A sale at 23:30 Beijing time is on that Beijing day, whatever its UTC date.
    ("date_from=2026-11-25&date_to=2026-11-25", {"at_midnight", "late_evening"}),
    ("date_from=2026-11-24&date_to=2026-11-24", {"before_midnight"}),
    ("channel=alipay", {"refunded_sale", "refund"}),
    ("type=void", {"void"}),
    ("type=refund", {"refund"}),
    ("status=declined", {"declined"}),
    # Amount ranges match the size: a refund of −50.00 is "50".
    ("amount_min=40&amount_max=60", {"unsettled", "refund", "voided_sale", "void"}),
    ("amount_min=150", {"refunded_sale", "declined"}),
    ("tid=10000002", {"fee_differs"}),
    ("rrn=202611252330", {"late_evening"}),
    ("card_last4=9876", {"voided_sale", "void"}),
    ("payout={payout_first}", {"before_midnight", "at_midnight", "late_evening"}),
    ("anomaly=fee_mismatch", {"fee_differs"}),
    ("anomaly=reversed", {"voided_sale"}),
    ("anomaly=refunded", {"refunded_sale"}),
    ("anomaly=unsettled", {"unsettled"}),
    ("anomaly=any", {"fee_differs", "voided_sale", "refunded_sale", "unsettled"}),
    (
        "channel=credit_card&date_from=2026-11-18&date_to=2026-11-24",
        {"before_midnight", "unsettled", "declined"},
    ),
]

# A query string the search refuses, the field it names and what it says (in English).
BAD_SEARCHES = [
    (
        "date_from=2026-11-25&date_to=2026-11-24",
        "date_to",
        "The end date is before the start date.",
    ),
    ("date_from=2025-11-01&date_to=2026-11-02", "date_to", "Search at most 366 days at a time."),
    ("tid=abc", "tid", "A terminal ID has 8 digits."),
    ("rrn=20261125233", "rrn", "A reference number has 12 digits."),
    ("card_last4=12a4", "card_last4", "Enter the last four digits of the card."),
    ("amount_min=60&amount_max=40", "amount_max", "The largest amount is below the smallest."),
    ("amount_min=-5", "amount_min", "Ensure this value is greater than or equal to 0."),
    (
        "channel=bitcoin",
        "channel",
        "Select a valid choice. bitcoin is not one of the available choices.",
    ),
    ("payout=not-a-uuid", "payout", "Enter a valid UUID."),
]


def search_query(query: str, ledger: SimpleNamespace) -> str:
    return query.format(payout_first=ledger.payout_first.public_id)


def ids_of(ledger: SimpleNamespace, names) -> set[str]:
    return {str(getattr(ledger, name).public_id) for name in names}


class Growth:
    """Each call adds a day of a merchant's activity: sales on every channel, a refund and a
    void linked to their sales, a declined sale, a fee difference, a transaction in no payout,
    a paid payout with several events and a late one; and, when given, more transactions and
    events on ``payout`` and another refund of ``original``."""

    CHANNELS = ["debit_card", "credit_card", "unionpay_qr", "wechat_pay", "alipay"]

    def __init__(self, merchant: Merchant, *, payout: Payout | None = None, original=None):
        self.merchant = merchant
        self.payout = payout
        self.original = original
        self.days = 0
        self.clock = timezone.now()

    def tick(self) -> datetime:
        # payout_apply_status ignores a report no newer than the last one it applied.
        self.clock = max(self.clock, timezone.now()) + timedelta(seconds=1)
        return self.clock

    def transaction(self, **fields) -> Transaction:
        return factories.TransactionFactory(merchant=self.merchant, **fields)

    def __call__(self):
        self.days += 1
        when = timezone.now() - timedelta(days=self.days, hours=3)
        paid = factories.PayoutFactory(
            merchant=self.merchant, settlement_date=timezone.localdate(when)
        )
        sales = [
            self.transaction(
                channel=channel, occurred_at=when, gross=Decimal(100 + self.days), payout=paid
            )
            for channel in self.CHANNELS
        ]
        self.transaction(
            type=Transaction.Type.REFUND,
            original=sales[0],
            channel=sales[0].channel,
            gross=Decimal("10.00"),
            occurred_at=when + timedelta(minutes=5),
            payout=paid,
        )
        self.transaction(
            type=Transaction.Type.VOID,
            original=sales[1],
            channel=sales[1].channel,
            gross=sales[1].amount,
            occurred_at=when + timedelta(minutes=6),
            payout=paid,
        )
        self.transaction(status=Transaction.Status.DECLINED, occurred_at=when)
        self.transaction(occurred_at=when, payout=paid, acquirer_fee=Decimal("9.99"))
        self.transaction(occurred_at=when - timedelta(days=2))
        services.payout_apply_status(
            payout=paid, status=Payout.Status.PROCESSING, seen_at=self.tick()
        )
        services.payout_apply_status(
            payout=paid,
            status=Payout.Status.PAID,
            seen_at=self.tick(),
            bank_reference=f"BR{self.days}",
        )
        factories.PayoutFactory(
            merchant=self.merchant,
            status=Payout.Status.HELD,
            reason_code="RISK_REVIEW",
            reason="Risk review",
            expected_at=timezone.now() - timedelta(days=3 + self.days),
        )
        if self.payout is not None:
            for channel in self.CHANNELS[:3]:
                self.transaction(channel=channel, occurred_at=when, payout=self.payout)
            PayoutEvent.objects.create(
                payout=self.payout,
                from_status=Payout.Status.SCHEDULED,
                to_status=Payout.Status.PROCESSING,
                source=PayoutEvent.Source.ACQUIRER,
                occurred_at=self.tick(),
            )
        if self.original is not None:
            self.transaction(
                type=Transaction.Type.REFUND,
                original=self.original,
                channel=self.original.channel,
                gross=Decimal("1.00"),
                occurred_at=when,
            )


def text_of(body: str, testid: str) -> str:
    """The text inside the element with ``data-testid=testid``, tags removed."""
    match = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</(?:p|dd|div|li|td|ol)>', body, re.S)
    assert match, f"no element with data-testid={testid}"
    return " ".join(re.sub(r"<[^>]+>", " ", html.unescape(match.group(1))).split())


def listed_ids(body: str) -> list[str]:
    return ROW_LINK.findall(body)


def older_link(body: str) -> str | None:
    match = OLDER_LINK.search(body)
    return f"{TRANSACTIONS}?{html.unescape(match.group(1))}" if match else None


def table_rows(body: str, testid: str) -> list[tuple[str, str]]:
    """(heading, value) of each row of the table with ``data-testid=testid``, as text."""
    start = body.index(f'data-testid="{testid}"')
    table = body[start : body.index("</table>", start)]
    return [
        tuple(" ".join(re.sub(r"<[^>]+>", " ", html.unescape(cell)).split()) for cell in row)
        for row in re.findall(r"<th[^>]*>(.*?)</th>\s*<td[^>]*>(.*?)</td>", table, re.S)
    ]


def section(body: str, testid: str) -> str:
    """The markup from the element with ``data-testid=testid`` to the end of its card."""
    start = body.index(f'data-testid="{testid}"')
    return body[start : body.index("</section>", start)]


# -- Fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def shop(db):
    return active_merchant()


@pytest.fixture
def shop_client(english, shop):
    english.force_login(shop.user)
    return english


@pytest.fixture
def ledger(shop):
    return search_ledger(shop)


# -- Who may see the pages ------------------------------------------------------------------------


@pytest.mark.parametrize("url", [MERCHANT_HOME, *MONEY_PAGES])
def test_anonymous_visitors_are_sent_to_log_in(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response.url.startswith(f"{LOGIN}?next=")


@pytest.mark.parametrize("url", [MERCHANT_HOME, *MONEY_PAGES])
def test_staff_get_403_on_the_merchant_money_pages(client, staff_user, url):
    client.force_login(staff_user)

    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", MONEY_PAGES)
def test_an_applicant_without_a_merchant_is_sent_to_the_merchant_area_with_a_word(
    english, customer, url
):
    english.force_login(customer)

    response = english.get(url)

    assert response.status_code == 302
    assert response.url == MERCHANT_HOME
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        "Transactions and payouts appear here once you are a merchant."
    ]


# -- Another merchant's data ----------------------------------------------------------------------


@pytest.fixture
def other_shop(db):
    """Merchant B, with a transaction and a payout of amounts A never has."""
    other = active_merchant()
    payout = factories.PayoutFactory(
        merchant=other,
        acquirer_id="PO-OTHER-1",
        gross_amount=Decimal("4330.00"),
        fee_amount=Decimal("9.00"),
    )
    sale = record(
        other,
        amount="987.65",
        payout_id=payout.acquirer_id,
        occurred_at=within_this_month(),
    )
    return SimpleNamespace(merchant=other, payout=payout, sale=sale)


def within_this_month() -> datetime:
    month_start = selectors.local_day_start(timezone.localdate().replace(day=1))
    return max(timezone.now() - timedelta(minutes=5), month_start + timedelta(seconds=1))


def test_another_merchants_transaction_is_not_found(shop_client, other_shop):
    response = shop_client.get(f"{TRANSACTIONS}{other_shop.sale.public_id}/")

    assert response.status_code == 404


def test_another_merchants_payout_is_not_found(shop_client, other_shop):
    response = shop_client.get(f"{PAYOUTS}{other_shop.payout.public_id}/")

    assert response.status_code == 404


def test_searching_by_another_merchants_payout_lists_nothing_and_totals_zero(
    shop_client, shop, other_shop
):
    record(shop, amount="123.45")

    response = shop_client.get(f"{TRANSACTIONS}?payout={other_shop.payout.public_id}")

    assert response.status_code == 200
    assert listed_ids(response.content.decode()) == []
    assert response.context["totals"] == Totals()


def test_the_transaction_list_never_shows_another_merchants_transactions(
    shop_client, shop, other_shop
):
    mine = record(shop, amount="123.45")

    body = shop_client.get(TRANSACTIONS).content.decode()

    assert listed_ids(body) == [str(mine.public_id)]
    assert "987.65" not in body


def test_a_statement_holds_only_the_merchants_own_numbers(shop_client, shop, other_shop):
    record(shop, amount="123.45", occurred_at=within_this_month())
    month = f"{timezone.localdate():%Y-%m}"

    response = shop_client.get(f"/merchant/statements/{month}.csv")

    text = response.content.decode("utf-8-sig")
    assert response.status_code == 200
    assert "123.45" in text
    assert "987.65" not in text
    assert "4321.00" not in text
    assert "4,321.00" not in text
    assert other_shop.merchant.mid not in text
    assert other_shop.payout.acquirer_id not in text


def test_a_statement_pdf_of_the_merchants_own_month_is_served(shop_client, shop, other_shop):
    record(shop, amount="123.45", occurred_at=within_this_month())

    response = shop_client.get(f"/merchant/statements/{timezone.localdate():%Y-%m}.pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_the_statement_list_shows_only_the_merchants_own_months(shop_client, shop, other_shop):
    record(shop, amount="123.45", occurred_at=within_this_month())
    record(other_shop.merchant, amount="55.00", occurred_at="2026-01-15T12:00:00+08:00")

    body = shop_client.get("/merchant/statements/").content.decode()

    assert re.findall(r'data-testid="statement-(\d{4}-\d{2})"', body) == [
        f"{timezone.localdate():%Y-%m}"
    ]


# -- Queries do not grow with the data ------------------------------------------------------------


def test_the_dashboard_runs_the_same_queries_however_much_history(shop_client, shop):
    grow = Growth(shop)
    grow()

    assert_constant_queries(lambda: shop_client.get(MERCHANT_HOME), grow)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?anomaly=any",
        "?anomaly=unsettled",
        "?channel=credit_card&type=sale&status=approved&amount_min=1&amount_max=500",
        "?date_from=2026-01-01&date_to=2026-12-31&tid=10000001&card_last4=0123",
    ],
)
def test_the_transaction_list_runs_the_same_queries_however_many_transactions(
    shop_client, shop, query
):
    grow = Growth(shop)
    grow()

    assert_constant_queries(lambda: shop_client.get(f"{TRANSACTIONS}{query}"), grow)


def test_the_transaction_list_of_one_payout_runs_the_same_queries_as_it_fills(shop_client, shop):
    payout = factories.PayoutFactory(merchant=shop)
    grow = Growth(shop, payout=payout)
    grow()

    assert_constant_queries(
        lambda: shop_client.get(f"{TRANSACTIONS}?payout={payout.public_id}"), grow
    )


def test_the_payout_list_runs_the_same_queries_however_many_payouts(shop_client, shop):
    grow = Growth(shop)
    grow()

    assert_constant_queries(lambda: shop_client.get(PAYOUTS), grow)


def test_the_payout_page_runs_the_same_queries_however_many_transactions_and_events(
    shop_client, shop
):
    payout = factories.PayoutFactory(merchant=shop)
    grow = Growth(shop, payout=payout)
    grow()

    assert_constant_queries(lambda: shop_client.get(f"{PAYOUTS}{payout.public_id}/"), grow)


def test_the_transaction_page_runs_the_same_queries_however_many_refunds_it_has(shop_client, shop):
    sale = factories.TransactionFactory(
        merchant=shop, payout=factories.PayoutFactory(merchant=shop)
    )
    grow = Growth(shop, original=sale)
    grow()

    assert_constant_queries(lambda: shop_client.get(f"{TRANSACTIONS}{sale.public_id}/"), grow)


# -- Searching transactions -----------------------------------------------------------------------


@pytest.mark.parametrize(("query", "expected"), SEARCHES)
def test_the_transaction_search_finds_exactly_the_matching_transactions(
    shop_client, ledger, query, expected
):
    response = shop_client.get(f"{TRANSACTIONS}?{search_query(query, ledger)}")

    assert response.status_code == 200
    assert set(listed_ids(response.content.decode())) == ids_of(ledger, expected)


def test_without_a_search_every_transaction_is_listed_newest_first(shop_client, ledger):
    body = shop_client.get(TRANSACTIONS).content.decode()

    assert listed_ids(body) == [
        str(t.public_id)
        for t in [
            ledger.late_evening,
            ledger.at_midnight,
            ledger.before_midnight,
            ledger.fee_differs,
            ledger.declined,
            ledger.void,
            ledger.voided_sale,
            ledger.refund,
            ledger.refunded_sale,
            ledger.unsettled,
        ]
    ]


def test_search_totals_count_everything_and_add_up_approved_money_only(shop_client, ledger):
    # The 23rd: a declined sale of 300.00 and a UnionPay QR sale of 80.00 (fee 0.38% = 0.30).
    response = shop_client.get(f"{TRANSACTIONS}?date_from=2026-11-23&date_to=2026-11-23")

    body = response.content.decode()
    assert response.context["totals"] == Totals(
        count=2,
        approved_count=1,
        amount=Decimal("80.00"),
        fee=Decimal("0.30"),
        net=Decimal("79.70"),
    )
    assert text_of(body, "totals-count") == "2 (1 approved)"
    assert text_of(body, "totals-amount") == "¥80.00"
    assert text_of(body, "totals-net") == "¥79.70"


def test_search_totals_subtract_refunds(shop_client, ledger):
    # Alipay: a sale of 200.00 (fee 0.76) and its refund of 50.00 (fee 0.19 returned).
    response = shop_client.get(f"{TRANSACTIONS}?channel=alipay")

    assert response.context["totals"] == Totals(
        count=2,
        approved_count=2,
        amount=Decimal("150.00"),
        fee=Decimal("0.57"),
        net=Decimal("149.43"),
    )


def test_a_search_of_366_days_is_allowed(shop_client, ledger):
    response = shop_client.get(f"{TRANSACTIONS}?date_from=2025-11-24&date_to=2026-11-24")

    assert response.status_code == 200
    assert set(listed_ids(response.content.decode())) == ids_of(
        ledger,
        {
            "before_midnight",
            "fee_differs",
            "declined",
            "void",
            "voided_sale",
            "refund",
            "refunded_sale",
            "unsettled",
        },
    )


@pytest.mark.parametrize(("query", "field", "message"), BAD_SEARCHES)
def test_a_bad_search_answers_400_with_what_is_wrong_and_lists_nothing(
    shop_client, ledger, query, field, message
):
    response = shop_client.get(f"{TRANSACTIONS}?{query}")

    body = response.content.decode()
    assert response.status_code == 400
    assert response.context["form"].errors[field] == [message]
    assert html.escape(message) in body
    assert listed_ids(body) == []
    assert 'data-testid="totals"' not in body


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        encode_cursor(["not a time", 1]),
        encode_cursor(["2026-11-25T10:00:00+08:00"]),
        encode_cursor(["2026-11-25T10:00:00+08:00", "not a key"]),
    ],
)
def test_a_malformed_page_link_answers_400_and_lists_nothing(shop_client, ledger, cursor):
    response = shop_client.get(f"{TRANSACTIONS}?cursor={cursor}")

    assert response.status_code == 400
    assert listed_ids(response.content.decode()) == []


def test_a_malformed_page_link_says_what_is_wrong(shop_client, ledger):
    response = shop_client.get(f"{TRANSACTIONS}?cursor=garbage")

    assert "This page link is not valid. Start again from the list." in response.content.decode()


def test_a_malformed_page_link_on_the_payout_list_answers_400(shop_client, ledger):
    response = shop_client.get(f"{PAYOUTS}?cursor=garbage")

    assert response.status_code == 400
    assert 'data-testid="payout-row"' not in response.content.decode()


def test_a_bad_search_keeps_what_the_merchant_entered(shop_client, ledger):
    response = shop_client.get(f"{TRANSACTIONS}?tid=abc&channel=alipay&date_from=2026-11-01")

    form = response.context["form"]
    assert form["tid"].value() == "abc"
    assert form["channel"].value() == "alipay"
    assert form["date_from"].value() == "2026-11-01"


# -- Pages of transactions ------------------------------------------------------------------------


def many_transactions(merchant: Merchant, count: int = 120) -> list[str]:
    """``count`` transactions, three at each moment; their ids in list order."""
    start = timezone.now() - timedelta(days=2)
    for index in range(count):
        factories.TransactionFactory(
            merchant=merchant, occurred_at=start - timedelta(minutes=index // 3)
        )
    return [
        str(public_id)
        for public_id in Transaction.objects.filter(merchant=merchant)
        .order_by("-occurred_at", "-pk")
        .values_list("public_id", flat=True)
    ]


def test_older_links_visit_every_transaction_once_in_order(shop_client, shop):
    expected = many_transactions(shop)

    seen, url, pages = [], TRANSACTIONS, 0
    while url:
        body = shop_client.get(url).content.decode()
        seen += listed_ids(body)
        url = older_link(body)
        pages += 1

    assert seen == expected
    assert pages == 3


def test_a_transaction_arriving_between_pages_shifts_nothing(shop_client, shop):
    expected = many_transactions(shop)
    first_page = shop_client.get(TRANSACTIONS).content.decode()

    newcomer = factories.TransactionFactory(merchant=shop, occurred_at=timezone.now())
    second_page = shop_client.get(older_link(first_page)).content.decode()
    third_page = shop_client.get(older_link(second_page)).content.decode()

    assert listed_ids(first_page) == expected[:50]
    assert listed_ids(second_page) == expected[50:100]
    assert listed_ids(third_page) == expected[100:]
    assert older_link(third_page) is None
    assert str(newcomer.public_id) not in second_page + third_page


def test_older_links_keep_the_search(shop_client, shop):
    many_transactions(shop, count=60)
    alipay = [
        factories.TransactionFactory(
            merchant=shop, channel="alipay", occurred_at=timezone.now() - timedelta(minutes=n)
        )
        for n in range(55)
    ]

    first_page = shop_client.get(f"{TRANSACTIONS}?channel=alipay").content.decode()
    second_page = shop_client.get(older_link(first_page)).content.decode()

    assert "channel=alipay" in older_link(first_page)
    assert listed_ids(first_page) + listed_ids(second_page) == [str(t.public_id) for t in alipay]


# -- What needs attention -------------------------------------------------------------------------


def test_the_list_marks_each_transaction_that_needs_attention(shop_client, ledger):
    body = shop_client.get(f"{TRANSACTIONS}?anomaly=any").content.decode()

    assert body.count('data-testid="anomaly-reversed"') == 1
    assert body.count('data-testid="anomaly-refunded"') == 1
    assert body.count('data-testid="anomaly-fee"') == 1
    assert body.count('data-testid="anomaly-unsettled"') == 1


@pytest.mark.parametrize(
    ("name", "marker"),
    [
        ("voided_sale", "anomaly-reversed"),
        ("refunded_sale", "anomaly-refunded"),
        ("fee_differs", "anomaly-fee"),
        ("unsettled", "anomaly-unsettled"),
    ],
)
def test_the_transaction_page_shows_what_needs_attention(shop_client, ledger, name, marker):
    body = shop_client.get(f"{TRANSACTIONS}{getattr(ledger, name).public_id}/").content.decode()

    markers = re.findall(r'data-testid="(anomaly-[a-z]+)"', body)
    assert markers == [marker]


def test_a_transaction_needing_no_attention_has_no_marker(shop_client, ledger):
    body = shop_client.get(f"{TRANSACTIONS}{ledger.late_evening.public_id}/").content.decode()

    assert re.findall(r'data-testid="(anomaly-[a-z]+)"', body) == []


def test_the_transaction_page_links_the_sale_and_what_undid_it(shop_client, ledger):
    sale_page = shop_client.get(f"{TRANSACTIONS}{ledger.voided_sale.public_id}/")
    void_page = shop_client.get(f"{TRANSACTIONS}{ledger.void.public_id}/")

    assert f'href="{TRANSACTIONS}{ledger.void.public_id}/"' in sale_page.content.decode()
    assert f'href="{TRANSACTIONS}{ledger.voided_sale.public_id}/"' in void_page.content.decode()


def test_the_transaction_page_shows_a_late_payout_as_late(shop_client, shop):
    late = factories.PayoutFactory(
        merchant=shop,
        status=Payout.Status.HELD,
        expected_at=timezone.now() - settings.PAYOUT_LATE_AFTER - timedelta(hours=1),
    )
    sale = factories.TransactionFactory(merchant=shop, payout=late)

    body = shop_client.get(f"{TRANSACTIONS}{sale.public_id}/").content.decode()

    assert 'data-testid="payout-late"' in body


# -- The dashboard --------------------------------------------------------------------------------


def test_dashboard_days_and_months_are_beijing_days():
    shop = active_merchant()
    now = datetime.fromisoformat("2026-11-25T12:00:00+08:00")
    record(shop, amount="1000.00", occurred_at="2026-10-31T23:59:59+08:00")
    record(shop, amount="40.00", occurred_at="2026-11-01T00:00:00+08:00")
    record(shop, amount="10.00", occurred_at="2026-11-24T23:59:59+08:00")
    sale = record(
        shop, channel="wechat_pay", amount="20.00", occurred_at="2026-11-25T00:00:00+08:00"
    )
    record(
        shop,
        type="refund",
        original_id=sale.acquirer_id,
        channel="wechat_pay",
        amount="-5.00",
        occurred_at="2026-11-25T08:00:00+08:00",
    )
    record(shop, status="declined", amount="500.00", occurred_at="2026-11-25T09:00:00+08:00")

    dashboard = selectors.dashboard_summary(merchant=shop, now=now)

    assert dashboard.today == datetime(2026, 11, 25).date()
    assert (dashboard.today_takings, dashboard.today_count) == (Decimal("15.00"), 1)
    assert (dashboard.month_takings, dashboard.month_count) == (Decimal("65.00"), 3)


def dashboard_data(shop: Merchant) -> SimpleNamespace:
    """Takings around midnight, and payouts: two to come, one paid, one late."""
    today = timezone.localdate()
    midnight = selectors.local_day_start(today)
    month_start = selectors.local_day_start(today.replace(day=1))
    data = SimpleNamespace(
        # 00:00 Beijing is 16:00 UTC the day before: a UTC day would miss it.
        first_today=record(shop, amount="30.00", occurred_at=midnight),
        last_of_last_month=record(
            shop, amount="70.00", occurred_at=month_start - timedelta(seconds=1)
        ),
        declined=record(shop, status="declined", amount="500.00", occurred_at=midnight),
        next=factories.PayoutFactory(
            merchant=shop,
            settlement_date=today + timedelta(days=2),
            gross_amount=Decimal("500.00"),
            fee_amount=Decimal("3.00"),
        ),
        later=factories.PayoutFactory(
            merchant=shop,
            settlement_date=today + timedelta(days=3),
            gross_amount=Decimal("600.00"),
            fee_amount=Decimal("3.60"),
        ),
        paid=factories.PayoutFactory(
            merchant=shop,
            settlement_date=today - timedelta(days=1),
            status=Payout.Status.PAID,
            gross_amount=Decimal("1000.00"),
            fee_amount=Decimal("6.00"),
        ),
        late=factories.PayoutFactory(
            merchant=shop,
            settlement_date=today - timedelta(days=4),
            status=Payout.Status.HELD,
            reason="Risk review",
            gross_amount=Decimal("200.00"),
            fee_amount=Decimal("1.20"),
            expected_at=timezone.now() - timedelta(days=3),
        ),
    )
    # Not yet paid: what unpaid payouts carry, and approved money no payout carries yet.
    data.unpaid = (
        data.next.net_amount
        + data.later.net_amount
        + data.late.net_amount
        + data.first_today.net
        + data.last_of_last_month.net
    )
    return data


@pytest.fixture
def dashboard_day(shop):
    return dashboard_data(shop)


def test_the_dashboard_shows_todays_and_this_months_takings_in_beijing_days(
    shop_client, dashboard_day
):
    body = shop_client.get(MERCHANT_HOME).content.decode()

    assert text_of(body, "today-takings") == "¥30.00"
    assert text_of(body, "month-takings") == "¥30.00"


def test_the_dashboard_counts_unpaid_payouts_and_money_in_no_payout_as_not_yet_paid(
    shop_client, dashboard_day
):
    response = shop_client.get(MERCHANT_HOME)

    assert dashboard_day.unpaid == Decimal("1391.60")
    assert response.context["dashboard"].unpaid == dashboard_day.unpaid
    assert text_of(response.content.decode(), "unpaid") == "¥1,391.60"


def test_the_dashboard_shows_the_next_payout_due(shop_client, dashboard_day):
    body = shop_client.get(MERCHANT_HOME).content.decode()

    assert text_of(body, "next-payout") == "¥497.00"
    assert f'href="{PAYOUTS}{dashboard_day.next.public_id}/"' in body


def test_without_a_payout_the_dashboard_expects_the_waiting_money_with_its_settlement(
    shop_client, shop
):
    sale = record(shop, amount="30.00")

    body = shop_client.get(MERCHANT_HOME).content.decode()

    assert text_of(body, "next-payout") == f"¥{sale.net}"


def test_the_dashboard_draws_thirty_days_of_bars(shop_client, dashboard_day):
    body = shop_client.get(MERCHANT_HOME).content.decode()

    chart = body[body.index('data-testid="daily-chart"') : body.index("</svg>")]
    assert chart.count('<rect class="bar"') == 30


def test_the_dashboard_lists_recent_payouts_with_their_status(shop_client, dashboard_day):
    body = shop_client.get(MERCHANT_HOME).content.decode()

    recent = section(body, "recent-payouts")
    assert re.findall(r'data-testid="payout-status">([^<]+)<', recent) == [
        "Scheduled",
        "Scheduled",
        "Paid",
        "Held for review",
    ]
    assert recent.count('data-testid="payout-late"') == 1


def test_a_payout_unpaid_past_the_late_threshold_shows_a_late_banner(shop_client, shop):
    late = factories.PayoutFactory(
        merchant=shop,
        status=Payout.Status.PROCESSING,
        gross_amount=Decimal("800.00"),
        fee_amount=Decimal("4.80"),
        expected_at=timezone.now() - settings.PAYOUT_LATE_AFTER - timedelta(minutes=1),
    )

    body = shop_client.get(MERCHANT_HOME).content.decode()

    assert body.count('data-testid="late-payout"') == 1
    banner = text_of(body, "late-payout")
    assert "Payout of ¥795.20" in banner
    assert "is late" in banner
    assert f'href="{PAYOUTS}{late.public_id}/"' in section(body, "late-payout")


def test_a_payout_just_under_the_late_threshold_shows_no_banner(shop_client, shop):
    factories.PayoutFactory(
        merchant=shop,
        status=Payout.Status.PROCESSING,
        expected_at=timezone.now() - settings.PAYOUT_LATE_AFTER + timedelta(minutes=1),
    )

    body = shop_client.get(MERCHANT_HOME).content.decode()

    assert 'data-testid="late-payout"' not in body
    assert 'data-testid="payout-late"' not in body


def test_a_paid_payout_long_past_its_expected_time_is_not_late(shop_client, shop):
    factories.PayoutFactory(
        merchant=shop,
        status=Payout.Status.PAID,
        expected_at=timezone.now() - timedelta(days=10),
    )

    body = shop_client.get(MERCHANT_HOME).content.decode()

    assert 'data-testid="late-payout"' not in body


@pytest.mark.parametrize(
    "status", [Merchant.Status.ACTIVE, Merchant.Status.SUSPENDED, Merchant.Status.CLOSED]
)
def test_a_merchant_who_takes_or_took_payments_sees_the_dashboard(client, status):
    merchant = factories.MerchantFactory(status=status)
    client.force_login(merchant.user)

    body = client.get(MERCHANT_HOME).content.decode()

    assert 'data-testid="dashboard-figures"' in body
    assert 'data-testid="daily-chart"' in body


def test_a_merchant_still_signing_the_contract_sees_no_dashboard(client):
    merchant = factories.MerchantFactory(status=Merchant.Status.CONTRACT_PENDING)
    client.force_login(merchant.user)

    response = client.get(MERCHANT_HOME)

    assert response.status_code == 200
    assert 'data-testid="dashboard-figures"' not in response.content.decode()
    assert 'data-testid="merchant-card"' in response.content.decode()


# -- Both languages -------------------------------------------------------------------------------


def money_pages_of(shop: Merchant) -> list[str]:
    sale = record(shop, amount="30.00")
    payout = factories.PayoutFactory(merchant=shop)
    return [
        MERCHANT_HOME,
        TRANSACTIONS,
        f"{TRANSACTIONS}?anomaly=any",
        f"{TRANSACTIONS}{sale.public_id}/",
        PAYOUTS,
        f"{PAYOUTS}{payout.public_id}/",
        "/merchant/statements/",
    ]


@pytest.mark.parametrize("how", ["cookie", "accept-language"])
def test_the_money_pages_speak_chinese(client, shop, how):
    client.force_login(shop.user)
    headers = {}
    if how == "cookie":
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    else:
        headers = {"accept-language": "zh-CN,zh;q=0.9"}

    for url in money_pages_of(shop):
        response = client.get(url, headers=headers)
        body = response.content.decode()
        assert response.status_code == 200, url
        assert '<html lang="zh-hans">' in body, url
        assert "商户中心" in body, url
        assert "退出登录" in body, url


@pytest.mark.parametrize("how", ["cookie", "accept-language"])
def test_the_money_pages_speak_english(client, shop, how):
    client.force_login(shop.user)
    headers = {}
    if how == "cookie":
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    else:
        headers = {"accept-language": "en-US,en;q=0.8"}

    for url in money_pages_of(shop):
        response = client.get(url, headers=headers)
        body = response.content.decode()
        assert response.status_code == 200, url
        assert '<html lang="en">' in body, url
        assert "Merchant area" in body, url
        assert "Log out" in body, url


# -- A payout's page ------------------------------------------------------------------------------


@pytest.fixture
def signed_up_shop(db):
    """A merchant who came through onboarding, so payouts go to the real account on file."""
    merchant = contracts.approved_merchant()
    Merchant.objects.filter(pk=merchant.pk).update(status=Merchant.Status.ACTIVE)
    merchant.refresh_from_db()
    return merchant


@pytest.fixture
def assembled_payout(signed_up_shop):
    """A payout assembled from a day of sales, a refund and a void, then held and released."""
    shop = signed_up_shop
    day = "2026-11-23"
    sales = [
        record(shop, channel=channel, amount=amount, occurred_at=f"{day}T{hour}:00:00+08:00")
        for channel, amount, hour in [
            ("credit_card", "100.00", "09"),
            ("debit_card", "8000.00", "10"),
            ("wechat_pay", "66.60", "11"),
            ("alipay", "30.00", "12"),
        ]
    ]
    record(
        shop,
        type="refund",
        original_id=sales[2].acquirer_id,
        channel="wechat_pay",
        amount="-16.60",
        occurred_at=f"{day}T13:00:00+08:00",
    )
    record(
        shop,
        type="void",
        original_id=sales[3].acquirer_id,
        channel="alipay",
        amount="-30.00",
        occurred_at=f"{day}T12:05:00+08:00",
    )
    record(shop, status="declined", amount="999.00", occurred_at=f"{day}T14:00:00+08:00")
    start = datetime.fromisoformat(f"{day}T23:30:00+08:00")
    payout = services.payout_assemble(
        merchant=shop,
        settlement_date=sales[0].settlement_date,
        acquirer_id="PO-ASSEMBLED-1",
        now=start,
    )
    services.payout_apply_status(
        payout=payout, status=Payout.Status.PROCESSING, seen_at=start + timedelta(hours=9)
    )
    services.payout_apply_status(
        payout=payout,
        status=Payout.Status.HELD,
        reason_code="RISK_REVIEW",
        reason="Funds held for a risk review",
        seen_at=start + timedelta(hours=10),
    )
    services.payout_apply_status(
        payout=payout, status=Payout.Status.PROCESSING, seen_at=start + timedelta(hours=30)
    )
    return payout


@pytest.fixture
def payout_client(english, signed_up_shop):
    english.force_login(signed_up_shop.user)
    return english


def test_the_payout_composition_adds_up_to_its_gross(payout_client, assembled_payout):
    response = payout_client.get(f"{PAYOUTS}{assembled_payout.public_id}/")

    composition = response.context["composition"]
    assert [(str(label), row.count) for label, row in composition] == [
        ("Sale", 4),
        ("Refund", 1),
        ("Void", 1),
    ]
    assert sum(row.amount for _label, row in composition) == assembled_payout.gross_amount
    assert assembled_payout.gross_amount == Decimal("8150.00")
    assert table_rows(response.content.decode(), "payout-composition")[:4] == [
        ("Sale ×4", "¥8,196.60"),
        ("Refund ×1", "¥-16.60"),
        ("Void ×1", "¥-30.00"),
        ("Gross", "¥8,150.00"),
    ]


def test_the_payout_page_shows_the_account_masked_and_never_whole(
    payout_client, signed_up_shop, assembled_payout
):
    body = payout_client.get(f"{PAYOUTS}{assembled_payout.public_id}/").content.decode()

    masked = signed_up_shop.application.account_number_masked
    assert text_of(body, "payout-account") == masked
    assert onboarding_data.debit_card() not in body
    assert LONG_DIGIT_RUN.findall(body) == []


def test_an_unpaid_payout_says_what_to_tell_the_bank(
    payout_client, signed_up_shop, assembled_payout
):
    body = payout_client.get(f"{PAYOUTS}{assembled_payout.public_id}/").content.decode()

    quote = section(body, "quote-to-bank")
    assert "¥8,129.21" in quote
    assert f"{assembled_payout.settlement_date:%Y-%m-%d}" in quote
    assert "PO-ASSEMBLED-1" in quote
    assert signed_up_shop.mid in quote
    assert settings.ACQUIRER_NAME in quote
    # Fees: credit 0.60, debit 8,000.00 capped at 20.00, WeChat 0.25, Alipay 0.11; the refund
    # returns 0.06 and the void the Alipay sale's 0.11: 20.79 on a gross of 8,150.00.
    assert assembled_payout.net_amount == Decimal("8129.21")


def test_a_paid_payout_shows_its_bank_reference_and_nothing_to_tell_the_bank(
    payout_client, assembled_payout
):
    services.payout_apply_status(
        payout=assembled_payout,
        status=Payout.Status.PAID,
        bank_reference="BANKREF20261125",
        seen_at=assembled_payout.acquirer_updated_at + timedelta(hours=1),
    )

    body = payout_client.get(f"{PAYOUTS}{assembled_payout.public_id}/").content.decode()

    assert 'data-testid="quote-to-bank"' not in body
    assert text_of(body, "bank-reference") == "BANKREF20261125"


def test_the_payout_timeline_lists_every_event_in_order(payout_client, assembled_payout):
    body = payout_client.get(f"{PAYOUTS}{assembled_payout.public_id}/").content.decode()

    timeline = body[body.index('data-testid="payout-timeline"') : body.index("</ol>")]
    assert re.findall(r"<strong>([^<]+)</strong>", timeline) == [
        "Scheduled",
        "Processing",
        "Held for review",
        "Processing",
    ]
    assert "Funds held for a risk review" in timeline


def test_the_payout_page_lists_its_transactions_and_links_to_all_of_them(
    payout_client, assembled_payout
):
    body = payout_client.get(f"{PAYOUTS}{assembled_payout.public_id}/").content.decode()

    assert set(listed_ids(body)) == {
        str(public_id)
        for public_id in assembled_payout.transactions.values_list("public_id", flat=True)
    }
    assert f'href="{TRANSACTIONS}?payout={assembled_payout.public_id}"' in body


def test_a_late_payout_page_says_it_is_late(shop_client, shop):
    late = factories.PayoutFactory(
        merchant=shop,
        status=Payout.Status.RETURNED,
        reason_code="ACCOUNT_NAME_MISMATCH",
        reason="Account name does not match",
        expected_at=timezone.now() - settings.PAYOUT_LATE_AFTER - timedelta(hours=2),
    )

    body = shop_client.get(f"{PAYOUTS}{late.public_id}/").content.decode()

    assert 'data-testid="payout-late-help"' in body
    assert "Account name does not match" in text_of(body, "payout-late-help")
    assert 'data-testid="quote-to-bank"' in body
