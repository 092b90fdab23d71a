"""Hostile and unusual input on the money pages, their exports and the API's filters: oversized
values, look-alike digits and invisible characters, SQL and HTML, NUL bytes and the first and
last days a date can name. Each gets a 4xx naming what is wrong, or a 200 with exactly the
right rows where the input, however odd, asks a fair question; never a 500, and never a write.

And what the acquirer sends: text that a spreadsheet would run as a formula is either refused
when the transaction is recorded or comes out of every export as inert text.
"""

import base64
import csv
import html
import io
import zipfile
from datetime import timedelta
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from core.pagination import encode_cursor
from portal import services as portal_services
from portal.models import Merchant
from settlements import services
from settlements.acquirer_data import AcquirerDataError, parse_transaction
from settlements.models import Payout, PayoutEvent, Transaction
from tests import factories
from tests.settlements.test_views import (
    active_merchant,
    ids_of,
    listed_ids,
    record,
    search_ledger,
)

pytestmark = pytest.mark.django_db

TRANSACTIONS = "/merchant/transactions/"
CSV_EXPORT = "/merchant/transactions/export.csv"
XLSX_EXPORT = "/merchant/transactions/export.xlsx"
PAYOUTS = "/merchant/payouts/"
API = "/api/v1"
SHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"

LONG = 10_000
SCRIPT = "<script>alert(1)</script>"
SQL = "' OR 1=1 --"
NUL = "\x00"
ZERO_WIDTH_SPACE = "\u200b"
RIGHT_TO_LEFT_MARK = "\u200f"
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")

TID = "A terminal ID has 8 digits."
RRN = "A reference number has 12 digits."
CARD = "Enter the last four digits of the card."
DATE = "Enter a valid date."
UUID = "Enter a valid UUID."
NUMBER = "Enter a number."
NO_NUL = "Null characters are not allowed."
TWELVE_DIGITS = "Ensure that there are no more than 12 digits in total."
TWO_DECIMALS = "Ensure that there are no more than 2 decimal places."
NOT_NEGATIVE = "Ensure this value is greater than or equal to 0."
# django-filter's own ceiling on every NumberFilter.
AT_MOST_1E50 = "Ensure this value is less than or equal to 1e+50."
TOO_LONG_A_RANGE = "Search at most 366 days at a time."
END_BEFORE_START = "The end date is before the start date."


def not_a_choice(value: str) -> str:
    return f"Select a valid choice. {value} is not one of the available choices."


# A search that must be refused: an id for the test, the query, the field and its messages.
REFUSED_SEARCHES = [
    ("tid-10000-chars", {"tid": "1" * LONG}, "tid", [TID]),
    ("rrn-10000-chars", {"rrn": "9" * LONG}, "rrn", [RRN]),
    ("card-10000-chars", {"card_last4": "1" * LONG}, "card_last4", [CARD]),
    ("date-10000-chars", {"date_from": "2" * LONG}, "date_from", [DATE]),
    (
        "amount-10000-digits",
        {"amount_min": "9" * LONG},
        "amount_min",
        [TWELVE_DIGITS, AT_MOST_1E50],
    ),
    ("payout-10000-chars", {"payout": "a" * LONG}, "payout", [UUID]),
    ("channel-10000-chars", {"channel": "x" * LONG}, "channel", [not_a_choice("x" * LONG)]),
    # Look-alike digits: no TID, RRN or card holds Arabic-Indic digits, so these are refused,
    # never searched for (full-width ones are read as ASCII: see the accepted searches).
    ("tid-arabic-indic", {"tid": "10000001".translate(ARABIC_INDIC)}, "tid", [TID]),
    ("rrn-arabic-indic", {"rrn": "202611252330".translate(ARABIC_INDIC)}, "rrn", [RRN]),
    ("card-arabic-indic", {"card_last4": "9876".translate(ARABIC_INDIC)}, "card_last4", [CARD]),
    ("tid-zero-width-space", {"tid": f"1000{ZERO_WIDTH_SPACE}0001"}, "tid", [TID]),
    ("rrn-trailing-zero-width", {"rrn": f"202611252330{ZERO_WIDTH_SPACE}"}, "rrn", [RRN]),
    ("card-rtl-mark", {"card_last4": f"{RIGHT_TO_LEFT_MARK}9876"}, "card_last4", [CARD]),
    # The date field reads ASCII months and days only; the browser's date picker sends those.
    ("date-full-width", {"date_from": "2026-11-25".translate(FULL_WIDTH)}, "date_from", [DATE]),
    ("date-rtl-mark", {"date_from": f"{RIGHT_TO_LEFT_MARK}2026-11-25"}, "date_from", [DATE]),
    ("tid-sql", {"tid": SQL}, "tid", [TID]),
    ("rrn-sql", {"rrn": "1' OR '1'='1"}, "rrn", [RRN]),
    ("channel-sql", {"channel": f"alipay{SQL}"}, "channel", [not_a_choice(f"alipay{SQL}")]),
    ("date-sql", {"date_to": f"2026-11-25{SQL}"}, "date_to", [DATE]),
    ("payout-sql", {"payout": f"{SQL}"}, "payout", [UUID]),
    ("amount-sql", {"amount_max": f"1{SQL}"}, "amount_max", [NUMBER]),
    ("anomaly-script", {"anomaly": SCRIPT}, "anomaly", [not_a_choice(SCRIPT)]),
    ("tid-nul", {"tid": f"10000001{NUL}"}, "tid", [TID, NO_NUL]),
    ("card-nul", {"card_last4": f"98{NUL}76"}, "card_last4", [CARD, NO_NUL]),
    ("date-nul", {"date_from": f"2026-11-25{NUL}"}, "date_from", [DATE]),
    ("channel-nul", {"channel": f"alipay{NUL}"}, "channel", [not_a_choice(f"alipay{NUL}")]),
    ("amount-three-decimals", {"amount_min": "10.001"}, "amount_min", [TWO_DECIMALS]),
    ("amount-max-negative", {"amount_max": "-0.01"}, "amount_max", [NOT_NEGATIVE]),
    ("amount-1e309", {"amount_min": "1e309"}, "amount_min", [TWELVE_DIGITS, AT_MOST_1E50]),
    ("amount-nan", {"amount_min": "NaN"}, "amount_min", [NUMBER]),
    ("amount-minus-infinity", {"amount_max": "-Infinity"}, "amount_max", [NUMBER]),
    (
        "dates-first-to-last-day",
        {"date_from": "0001-01-01", "date_to": "9999-12-31"},
        "date_to",
        [TOO_LONG_A_RANGE],
    ),
    (
        "dates-last-to-first-day",
        {"date_from": "9999-12-31", "date_to": "0001-01-01"},
        "date_to",
        [END_BEFORE_START],
    ),
    ("date-year-zero", {"date_from": "0000-01-01"}, "date_from", [DATE]),
    ("date-year-10000", {"date_to": "10000-01-01"}, "date_to", [DATE]),
    ("date-30-february", {"date_from": "2026-02-30"}, "date_from", [DATE]),
]
REFUSED_IDS = [case[0] for case in REFUSED_SEARCHES]
REFUSED = [case[1:] for case in REFUSED_SEARCHES]

# Odd but fair searches and the transactions of ``search_ledger`` they find, by name.
EVERYTHING = {
    "before_midnight",
    "at_midnight",
    "late_evening",
    "refunded_sale",
    "refund",
    "voided_sale",
    "void",
    "declined",
    "fee_differs",
    "unsettled",
}
ACCEPTED_SEARCHES = [
    ("full-width-card", {"card_last4": "9876".translate(FULL_WIDTH)}, {"voided_sale", "void"}),
    ("full-width-tid", {"tid": "10000002".translate(FULL_WIDTH)}, {"fee_differs"}),
    ("full-width-rrn", {"rrn": "202611252330".translate(FULL_WIDTH)}, {"late_evening"}),
    (
        "full-width-amount",
        {"amount_min": "150".translate(FULL_WIDTH)},
        {"refunded_sale", "declined"},
    ),
    ("card-with-spaces-around", {"card_last4": " 9876 "}, {"voided_sale", "void"}),
    # A bound at the first or last day a date can name bounds nothing.
    ("from-the-first-day", {"date_from": "0001-01-01"}, EVERYTHING),
    ("up-to-the-last-day", {"date_to": "9999-12-31"}, EVERYTHING),
    # Nothing happened before the first day or will happen on the last: a fair question
    # whose answer is an empty list.
    ("from-the-last-day", {"date_from": "9999-12-31"}, set()),
    ("up-to-the-first-day", {"date_to": "0001-01-01"}, set()),
    ("only-the-last-day", {"date_from": "9999-12-31", "date_to": "9999-12-31"}, set()),
    ("largest-amount-allowed", {"amount_min": "9999999999.99"}, set()),
    # A parameter the search does not know is ignored, whatever it holds.
    ("unknown-parameter", {"note": f'"><{SCRIPT}{SQL}{NUL}'}, EVERYTHING),
]
ACCEPTED_IDS = [case[0] for case in ACCEPTED_SEARCHES]
ACCEPTED = [case[1:] for case in ACCEPTED_SEARCHES]


def stored_rows() -> dict[str, int]:
    return {
        "transactions": Transaction.objects.count(),
        "payouts": Payout.objects.count(),
        "payout events": PayoutEvent.objects.count(),
        "merchants": Merchant.objects.count(),
    }


def url(path: str, query: dict) -> str:
    return f"{path}?{urlencode(query)}"


def body_of(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode("utf-8-sig")


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body_of(response))))


def xlsx_cells(response) -> list[list[tuple[str | None, str]]]:
    """(cell type, text) of every cell of the first sheet, row by row; fails on a formula."""
    content = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(content)) as workbook:
        # The portal's own export, just written: not untrusted XML.
        sheet = ElementTree.fromstring(workbook.read("xl/worksheets/sheet1.xml"))  # noqa: S314
    assert sheet.find(f".//{SHEET}f") is None, "the workbook holds a formula"
    return [
        [
            (cell.get("t"), "".join(text.text or "" for text in cell.iter(f"{SHEET}t")))
            for cell in row.iter(f"{SHEET}c")
        ]
        for row in sheet.iter(f"{SHEET}row")
    ]


# -- Fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def shop(db):
    return active_merchant()


@pytest.fixture
def shop_client(client, shop):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(shop.user)
    return client


@pytest.fixture
def api(shop):
    token = portal_services.api_token_regenerate(user=shop.user)
    client = Client(headers={"authorization": f"Token {token.key}"})
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def one_sale(shop):
    return record(shop, amount="98.76", card_masked="621700******9876")


@pytest.fixture
def ledger(shop):
    return search_ledger(shop)


# -- Refused transaction searches -----------------------------------------------------------------


@pytest.mark.parametrize(("query", "field", "messages"), REFUSED, ids=REFUSED_IDS)
def test_a_hostile_transaction_search_answers_400_naming_the_field_and_lists_nothing(
    shop_client, one_sale, query, field, messages
):
    before = stored_rows()

    response = shop_client.get(url(TRANSACTIONS, query))

    body = response.content.decode()
    assert response.status_code == 400
    assert response.context["form"].errors[field] == messages
    assert listed_ids(body) == []
    assert 'data-testid="totals"' not in body
    assert stored_rows() == before


@pytest.mark.parametrize("export", [CSV_EXPORT, XLSX_EXPORT], ids=["csv", "xlsx"])
@pytest.mark.parametrize(("query", "field", "messages"), REFUSED, ids=REFUSED_IDS)
def test_a_hostile_search_exports_nothing_and_answers_400_asking_to_correct_it(
    shop_client, one_sale, export, query, field, messages
):
    response = shop_client.get(url(export, query))

    body = response.content.decode()
    assert response.status_code == 400
    assert response.streaming is False
    assert "Correct the search before exporting it." in body
    assert one_sale.acquirer_id not in body


@pytest.mark.parametrize(("query", "field", "messages"), REFUSED, ids=REFUSED_IDS)
def test_a_hostile_transaction_search_in_the_api_answers_400_with_the_field_errors(
    api, one_sale, query, field, messages
):
    before = stored_rows()

    response = api.get(url(f"{API}/transactions/", query))

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {field: messages}
    assert stored_rows() == before


# -- Odd but fair transaction searches ------------------------------------------------------------


@pytest.mark.parametrize(("query", "names"), ACCEPTED, ids=ACCEPTED_IDS)
def test_an_odd_but_fair_transaction_search_lists_exactly_what_it_asks_for(
    shop_client, ledger, query, names
):
    response = shop_client.get(url(TRANSACTIONS, query))

    assert response.status_code == 200
    assert set(listed_ids(response.content.decode())) == ids_of(ledger, names)


@pytest.mark.parametrize(("query", "names"), ACCEPTED, ids=ACCEPTED_IDS)
def test_an_odd_but_fair_transaction_search_in_the_api_returns_exactly_what_it_asks_for(
    api, ledger, query, names
):
    response = api.get(url(f"{API}/transactions/", query))

    assert response.status_code == 200
    assert {row["id"] for row in response.json()["results"]} == ids_of(ledger, names)


@pytest.mark.parametrize(("query", "names"), ACCEPTED, ids=ACCEPTED_IDS)
def test_an_odd_but_fair_search_exports_exactly_what_it_asks_for(shop_client, ledger, query, names):
    response = shop_client.get(url(CSV_EXPORT, query))

    assert response.status_code == 200
    assert {row[1] for row in csv_rows(response)[1:]} == {
        getattr(ledger, name).acquirer_id for name in names
    }


def test_a_page_link_from_before_the_first_utc_moment_is_not_valid(shop_client, ledger):
    # Not a link the portal makes: 0001-01-01 00:00 in Beijing is before the first moment
    # Python can express in UTC, so it is refused as a forged link rather than compared.
    cursor = encode_cursor(["0001-01-01T00:00:00+08:00", 1])

    response = shop_client.get(f"{TRANSACTIONS}?cursor={cursor}")

    assert response.status_code == 400
    assert listed_ids(response.content.decode()) == []


def test_a_query_string_of_more_than_a_thousand_parameters_is_refused_with_400(shop_client, ledger):
    query = "&".join(f"tid{index}=1" for index in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))

    response = shop_client.get(f"{TRANSACTIONS}?{query}")

    assert response.status_code == 400
    assert listed_ids(response.content.decode()) == []


# -- HTML and script come back escaped ------------------------------------------------------------


def test_script_in_a_refused_choice_is_shown_escaped_in_the_error(shop_client, one_sale):
    response = shop_client.get(url(TRANSACTIONS, {"channel": SCRIPT}))

    body = response.content.decode()
    assert response.status_code == 400
    assert html.escape(not_a_choice(SCRIPT)) in body
    assert SCRIPT not in body


def test_script_typed_into_a_search_field_is_given_back_escaped_in_the_form(shop_client, one_sale):
    typed = f'"><{SCRIPT}'

    response = shop_client.get(url(TRANSACTIONS, {"tid": typed}))

    body = response.content.decode()
    assert response.status_code == 400
    assert f'value="{html.escape(typed)}"' in body
    assert SCRIPT not in body


def test_script_in_an_unknown_parameter_reaches_the_export_links_only_url_encoded(
    shop_client, one_sale
):
    response = shop_client.get(url(TRANSACTIONS, {"note": f'"><{SCRIPT}'}))

    body = response.content.decode()
    assert response.status_code == 200
    assert f"{CSV_EXPORT}?note=%22%3E%3C%3Cscript%3Ealert%281%29%3C%2Fscript%3E" in body
    assert SCRIPT not in body


def test_script_in_a_refused_payout_status_is_shown_escaped(shop_client, ledger):
    response = shop_client.get(url(PAYOUTS, {"status": SCRIPT}))

    body = response.content.decode()
    assert response.status_code == 400
    assert html.escape(not_a_choice(SCRIPT)) in body
    assert SCRIPT not in body
    assert 'data-testid="payout-row"' not in body


def test_script_in_an_api_error_is_json_the_browser_will_not_sniff_as_html(api, one_sale):
    response = api.get(url(f"{API}/transactions/", {"channel": SCRIPT}))

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.json() == {"channel": [not_a_choice(SCRIPT)]}


# -- Payout filters -------------------------------------------------------------------------------

# A payout search that must be refused: an id, the query, the field and its messages.
REFUSED_PAYOUT_SEARCHES = [
    ("status-10000-chars", {"status": "p" * LONG}, "status", [not_a_choice("p" * LONG)]),
    ("status-sql", {"status": f"paid{SQL}"}, "status", [not_a_choice(f"paid{SQL}")]),
    ("status-nul", {"status": f"paid{NUL}"}, "status", [not_a_choice(f"paid{NUL}")]),
    ("date-10000-chars", {"settlement_date_from": "2" * LONG}, "settlement_date_from", [DATE]),
    ("date-sql", {"settlement_date_to": f"2026-11-25{SQL}"}, "settlement_date_to", [DATE]),
    ("date-nul", {"settlement_date_from": f"2026-11-25{NUL}"}, "settlement_date_from", [DATE]),
    ("date-year-zero", {"settlement_date_to": "0000-12-31"}, "settlement_date_to", [DATE]),
    # Read as "either", these would list every payout to a caller asking for the late ones.
    ("late-1", {"late": "1"}, "late", [not_a_choice("1")]),
    ("late-yes", {"late": "yes"}, "late", [not_a_choice("yes")]),
    ("late-full-width-true", {"late": "ｔｒｕｅ"}, "late", [not_a_choice("ｔｒｕｅ")]),
    ("late-nul", {"late": NUL}, "late", [not_a_choice(NUL)]),
    ("late-script", {"late": SCRIPT}, "late", [not_a_choice(SCRIPT)]),
    ("late-10000-chars", {"late": "t" * LONG}, "late", [not_a_choice("t" * LONG)]),
]
REFUSED_PAYOUT_IDS = [case[0] for case in REFUSED_PAYOUT_SEARCHES]
REFUSED_PAYOUTS = [case[1:] for case in REFUSED_PAYOUT_SEARCHES]


@pytest.mark.parametrize(("query", "field", "messages"), REFUSED_PAYOUTS, ids=REFUSED_PAYOUT_IDS)
def test_a_hostile_payout_search_answers_400_naming_the_field_and_lists_nothing(
    shop_client, ledger, query, field, messages
):
    before = stored_rows()

    response = shop_client.get(url(PAYOUTS, query))

    body = response.content.decode()
    assert response.status_code == 400
    assert response.context["filter"].form.errors[field] == messages
    assert 'data-testid="payout-row"' not in body
    assert stored_rows() == before


@pytest.mark.parametrize(("query", "field", "messages"), REFUSED_PAYOUTS, ids=REFUSED_PAYOUT_IDS)
def test_a_hostile_payout_search_in_the_api_answers_400_with_the_field_errors(
    api, ledger, query, field, messages
):
    before = stored_rows()

    response = api.get(url(f"{API}/payouts/", query))

    assert response.status_code == 400
    assert response.json() == {field: messages}
    assert stored_rows() == before


@pytest.mark.parametrize(
    "query",
    [
        {"settlement_date_from": "0001-01-01"},
        {"settlement_date_to": "9999-12-31"},
        {"settlement_date_from": "0001-01-01", "settlement_date_to": "9999-12-31"},
    ],
    ids=["from-the-first-day", "up-to-the-last-day", "first-to-last-day"],
)
def test_payout_dates_at_the_first_and_last_day_a_date_can_name_list_every_payout(
    api, ledger, query
):
    response = api.get(url(f"{API}/payouts/", query))

    assert response.status_code == 200
    assert {row["id"] for row in response.json()["results"]} == {
        str(ledger.payout_first.public_id),
        str(ledger.payout_second.public_id),
    }


# -- Page links (cursors) in the API --------------------------------------------------------------


def api_cursor(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "position",
    ["garbage", SQL, f"2026-11-25{NUL}", "9999-99-99"],
    ids=["garbage", "sql", "nul", "no-such-date"],
)
@pytest.mark.parametrize("listing", ["transactions", "payouts"])
def test_a_forged_api_page_link_answers_404_invalid_cursor(api, ledger, listing, position):
    cursor = api_cursor(urlencode({"p": position}))

    response = api.get(f"{API}/{listing}/?cursor={cursor}")

    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid cursor"}


def test_an_api_page_link_from_before_the_first_utc_moment_is_an_invalid_cursor(api, ledger):
    cursor = api_cursor(urlencode({"p": "0001-01-01 00:00:00+08:00"}))

    response = api.get(f"{API}/transactions/?cursor={cursor}")

    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid cursor"}


# -- Statements -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["pdf", "csv"])
@pytest.mark.parametrize(
    "month",
    [
        "0000-01",
        "0001-01",
        "9999-12",
        "2026-13",
        "2026-00",
        "2026-11".translate(FULL_WIDTH),
        "2026-11".translate(ARABIC_INDIC),
        "2026-1" + ZERO_WIDTH_SPACE + "1",
        "2026-11" + NUL,
        "2026-11' OR 1=1 --",
        SCRIPT,
        "2" * LONG,
    ],
    ids=[
        "year-zero",
        "first-month",
        "last-month",
        "month-13",
        "month-zero",
        "full-width",
        "arabic-indic",
        "zero-width-space",
        "nul",
        "sql",
        "script",
        "10000-chars",
    ],
)
def test_a_statement_for_a_month_that_is_not_one_of_the_merchants_is_not_found(
    shop_client, shop, month, fmt
):
    response = shop_client.get(f"/merchant/statements/{month}.{fmt}")

    assert response.status_code == 404
    assert SCRIPT not in response.content.decode()


# -- Formulas from the acquirer -------------------------------------------------------------------

# Every text field of a transaction that the exports carry, with the acquirer's value that a
# spreadsheet would run: refused, with the field named, before anything is stored.
FORMULA_FIELDS = [
    ("id", "=HYPERLINK(1)"),
    ("id", "+1+1"),
    ("id", "@SUM(A1)"),
    ("terminal_id", "=1000001"),
    ("card_masked", "=622202******0123"),
    ("card_masked", "@622202*****0123"),
    ("rrn", "+20261125233"),
    ("trace_no", "=00001"),
    ("batch_no", "-00001"),
    ("auth_code", "=A1B2C"),
    ("auth_code", "-A1B2C"),
    ("auth_code", "@A1B2C"),
    ("payout_id", "=HYPERLINK(1)"),
]


@pytest.mark.parametrize(("field", "value"), FORMULA_FIELDS)
def test_the_acquirer_cannot_record_a_formula_in_an_exported_field(shop, field, value):
    payload = factories.transaction_payload(shop, **{field: value})

    with pytest.raises(AcquirerDataError) as refused:
        services.transaction_record(data=parse_transaction(payload))

    assert refused.value.field == field
    assert not Transaction.objects.filter(merchant=shop).exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("terminal_id", "10000001".translate(ARABIC_INDIC)),
        ("rrn", "202611252330".translate(FULL_WIDTH)),
        ("trace_no", "000001".translate(ARABIC_INDIC)),
        ("batch_no", "000001".translate(FULL_WIDTH)),
        ("card_masked", "622202******0123".translate(FULL_WIDTH)),
    ],
)
def test_the_acquirer_cannot_record_look_alike_digits_no_search_could_find(shop, field, value):
    payload = factories.transaction_payload(shop, **{field: value})

    with pytest.raises(AcquirerDataError) as refused:
        parse_transaction(payload)

    assert refused.value.field == field


@pytest.mark.parametrize("control", ["\t", "\r", "\n"], ids=["tab", "cr", "lf"])
def test_a_control_character_before_an_acquirer_id_is_dropped_and_the_rest_made_inert(
    shop_client, shop, control
):
    sale = record(shop, id=f"{control}-1-1", amount="12.50")

    rows = csv_rows(shop_client.get(CSV_EXPORT))

    assert sale.acquirer_id == "-1-1"
    assert rows[1][1] == "'-1-1"


@pytest.fixture
def formula_payout(shop):
    """A payout named by the acquirer with a formula, its bank reference one too, carrying one
    sale; the merchant has been one since well before the sale's month."""
    Merchant.objects.filter(pk=shop.pk).update(created_at=timezone.now() - timedelta(days=400))
    sale = record(shop, amount="100.00", occurred_at=timezone.now() - timedelta(days=40))
    payout = services.payout_assemble(
        merchant=shop, settlement_date=sale.settlement_date, acquirer_id="@SUM(1+1)*cmd"
    )
    seen = timezone.now()
    services.payout_apply_status(
        payout=payout, status=Payout.Status.PROCESSING, seen_at=seen + timedelta(seconds=1)
    )
    services.payout_apply_status(
        payout=payout,
        status=Payout.Status.PAID,
        seen_at=seen + timedelta(seconds=2),
        bank_reference="\t=1+1",
    )
    payout.refresh_from_db()
    return payout


def test_a_payout_id_from_the_acquirer_that_is_a_formula_is_inert_in_the_csv_export(
    shop_client, formula_payout
):
    rows = csv_rows(shop_client.get(CSV_EXPORT))

    assert rows[1][16] == "'@SUM(1+1)*cmd"


def test_a_payout_id_from_the_acquirer_that_is_a_formula_is_text_in_the_xlsx_export(
    shop_client, formula_payout
):
    cells = xlsx_cells(shop_client.get(XLSX_EXPORT))

    assert cells[1][16] == ("inlineStr", "@SUM(1+1)*cmd")


def test_a_statement_csv_makes_formulas_in_payout_id_and_bank_reference_inert(
    shop_client, formula_payout
):
    month = formula_payout.settlement_date.strftime("%Y-%m")

    response = shop_client.get(f"/merchant/statements/{month}.csv")

    body = body_of(response)
    assert response.status_code == 200
    assert formula_payout.bank_reference == "\t=1+1"
    assert ",'@SUM(1+1)*cmd," in body
    assert ",'\t=1+1," in body
