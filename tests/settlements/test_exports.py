"""Transaction exports (CSV and XLSX): what they hold, whose rows, and that they stream."""

import csv
import io
import tracemalloc
import zipfile
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from xml.etree import ElementTree

import pytest
from django.conf import settings
from django.utils import timezone

from settlements import exports, selectors
from settlements.models import Transaction
from tests import factories
from tests.settlements.test_views import active_merchant, record, search_ledger

pytestmark = pytest.mark.django_db

CSV = "/merchant/transactions/export.csv"
XLSX = "/merchant/transactions/export.xlsx"
SHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
HEADINGS = [
    "Time (Beijing)",
    "Transaction ID",
    "Terminal (TID)",
    "Type",
    "Channel",
    "Result",
    "Amount (CNY)",
    "Fee (CNY)",
    "Net (CNY)",
    "Fee charged by the acquirer (CNY)",
    "Card",
    "Reference number (RRN)",
    "Voucher number",
    "Batch number",
    "Authorisation code",
    "Settlement date",
    "Payout",
]


@pytest.fixture
def shop(db):
    return active_merchant()


@pytest.fixture
def shop_client(client, shop):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(shop.user)
    return client


@pytest.fixture
def ledger(shop):
    return search_ledger(shop)


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


def xlsx_rows(content: bytes) -> list[list]:
    """The first sheet's rows: text as str, numbers as Decimal."""
    with zipfile.ZipFile(io.BytesIO(content)) as workbook:
        # The portal's own export, just written: not untrusted XML.
        sheet = ElementTree.fromstring(workbook.read("xl/worksheets/sheet1.xml"))  # noqa: S314
    rows = []
    for row in sheet.iter(f"{SHEET}row"):
        cells = []
        for cell in row.iter(f"{SHEET}c"):
            if cell.get("t") == "inlineStr":
                cells.append("".join(text.text or "" for text in cell.iter(f"{SHEET}t")))
            else:
                cells.append(Decimal(cell.find(f"{SHEET}v").text))
        rows.append(cells)
    return rows


def xlsx_content(response) -> bytes:
    return b"".join(response.streaming_content)


# -- CSV ------------------------------------------------------------------------------------------


def test_the_csv_export_streams(shop_client, ledger):
    response = shop_client.get(CSV)

    assert response.status_code == 200
    assert response.streaming is True
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Cache-Control"] == "private, no-store"


def test_the_csv_export_is_an_attachment_named_for_the_merchant(shop_client, shop, ledger):
    response = shop_client.get(CSV)

    disposition = response["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="transactions-{shop.mid}-')
    assert disposition.endswith('.csv"')


def test_the_csv_export_starts_with_a_byte_order_mark_for_excel(shop_client, ledger):
    content = b"".join(shop_client.get(CSV).streaming_content)

    assert content.startswith("\ufeff".encode())
    assert content[3:].decode().startswith("Time (Beijing),Transaction ID,")


def test_the_csv_export_has_a_heading_and_one_row_per_transaction(shop_client, ledger):
    rows = csv_rows(shop_client.get(CSV))

    assert rows[0] == HEADINGS
    assert len(rows) == 1 + 10
    assert {row[1] for row in rows[1:]} == {
        t.acquirer_id for t in Transaction.objects.filter(merchant=ledger.payout_first.merchant)
    }


def test_the_csv_export_holds_only_the_searched_transactions(shop_client, ledger):
    rows = csv_rows(shop_client.get(f"{CSV}?channel=alipay"))

    assert [row[1] for row in rows[1:]] == [
        ledger.refund.acquirer_id,
        ledger.refunded_sale.acquirer_id,
    ]


def test_the_csv_export_writes_amounts_as_plain_signed_numbers(shop_client, ledger):
    rows = csv_rows(shop_client.get(f"{CSV}?channel=alipay"))

    refund, sale = rows[1], rows[2]
    assert refund[6:10] == ["-50.00", "-0.19", "-49.81", "-0.19"]
    assert sale[6:10] == ["200.00", "0.76", "199.24", "0.76"]


def test_the_csv_export_writes_each_field_as_the_merchant_reads_it(shop_client, ledger):
    rows = csv_rows(shop_client.get(f"{CSV}?rrn=202611252330"))

    sale = ledger.late_evening
    assert rows[1] == [
        "2026-11-25 23:30:00",
        sale.acquirer_id,
        "10000001",
        "Sale",
        "Credit card",
        "Approved",
        "100.00",
        "0.60",
        "99.40",
        "0.60",
        "622202******0123",
        "202611252330",
        sale.trace_no,
        "000001",
        "A1B2C3",
        sale.settlement_date.isoformat(),
        ledger.payout_first.acquirer_id,
    ]


def test_the_csv_export_neutralises_text_a_spreadsheet_would_run(shop_client, shop):
    # The acquirer's IDs are untrusted; "-1-1" passes its format and Excel would compute it.
    sale = record(shop, id="-1-1", amount="12.50")

    rows = csv_rows(shop_client.get(CSV))

    assert rows[1][1] == "'-1-1"
    assert rows[1][6] == "12.50"
    assert sale.acquirer_id == "-1-1"


def test_the_csv_export_of_a_bad_search_answers_400(shop_client, ledger):
    response = shop_client.get(f"{CSV}?tid=abc")

    assert response.status_code == 400
    assert response.streaming is False
    assert ledger.refund.acquirer_id not in response.content.decode()


def test_the_export_of_a_bad_search_says_to_correct_it(shop_client, ledger):
    response = shop_client.get(f"{CSV}?tid=abc")

    assert "Correct the search before exporting it." in response.content.decode()


def test_an_unknown_export_format_is_not_found(shop_client, ledger):
    assert shop_client.get("/merchant/transactions/export.pdf").status_code == 404


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+1+1", "'+1+1"),
        ("-1-1", "'-1-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("\ncmd", "'\ncmd"),
        ("622202******0123", "622202******0123"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
    ],
)
def test_safe_cell_makes_formula_looking_text_inert(value, cell):
    assert exports.safe_cell(value) == cell


@pytest.mark.parametrize("value", [Decimal("-12.50"), Decimal("0.00"), 7, -3])
def test_safe_cell_leaves_numbers_as_numbers(value):
    assert exports.safe_cell(value) is value


# -- XLSX -----------------------------------------------------------------------------------------


def test_the_xlsx_export_is_a_workbook_with_one_row_per_transaction(shop_client, ledger):
    response = shop_client.get(XLSX)

    rows = xlsx_rows(xlsx_content(response))
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response["Content-Disposition"].endswith('.xlsx"')
    assert rows[0] == HEADINGS
    assert len(rows) == 1 + 10


def test_the_xlsx_export_writes_amounts_as_numbers(shop_client, ledger):
    rows = xlsx_rows(xlsx_content(shop_client.get(f"{XLSX}?channel=alipay")))

    refund = rows[1]
    assert refund[1] == ledger.refund.acquirer_id
    assert refund[6:10] == [Decimal("-50"), Decimal("-0.19"), Decimal("-49.81"), Decimal("-0.19")]


def test_the_xlsx_export_writes_text_as_text(shop_client, shop):
    record(shop, id="-1-1", amount="12.50")

    rows = xlsx_rows(xlsx_content(shop_client.get(XLSX)))

    # An inline string is never evaluated, so the text is kept exactly.
    assert rows[1][1] == "-1-1"


# -- Another merchant's transactions --------------------------------------------------------------


@pytest.fixture
def other_shop(db):
    other = active_merchant()
    payout = factories.PayoutFactory(merchant=other, acquirer_id="PO-OTHER-EXPORT")
    sale = record(other, id="OTHER-SALE-1", amount="987.65", payout_id=payout.acquirer_id)
    return SimpleNamespace(merchant=other, payout=payout, sale=sale)


def test_the_csv_export_holds_none_of_another_merchants_transactions(
    shop_client, ledger, other_shop
):
    content = b"".join(shop_client.get(CSV).streaming_content).decode("utf-8-sig")

    assert "OTHER-SALE-1" not in content
    assert "987.65" not in content
    assert len(list(csv.reader(io.StringIO(content)))) == 1 + 10


def test_the_csv_export_by_another_merchants_payout_is_empty(shop_client, ledger, other_shop):
    rows = csv_rows(shop_client.get(f"{CSV}?payout={other_shop.payout.public_id}"))

    assert rows == [HEADINGS]


def test_the_xlsx_export_holds_none_of_another_merchants_transactions(
    shop_client, ledger, other_shop
):
    rows = xlsx_rows(xlsx_content(shop_client.get(XLSX)))

    assert "OTHER-SALE-1" not in {row[1] for row in rows}
    assert len(rows) == 1 + 10


def test_the_xlsx_export_by_another_merchants_payout_is_empty(shop_client, ledger, other_shop):
    response = shop_client.get(f"{XLSX}?payout={other_shop.payout.public_id}")

    assert xlsx_rows(xlsx_content(response)) == [HEADINGS]


# -- Memory ---------------------------------------------------------------------------------------

BIG = 20_000


def bulk_transactions(merchant, count: int = BIG) -> None:
    """``count`` approved credit-card sales of ¥100.00, written in bulk."""
    start = timezone.now() - timedelta(days=3)
    settlement = timezone.localdate() - timedelta(days=1)
    Transaction.objects.bulk_create(
        (
            Transaction(
                acquirer="demo",
                acquirer_id=f"BULK{index:010d}",
                merchant=merchant,
                tid="10000001",
                type=Transaction.Type.SALE,
                channel="credit_card",
                amount=Decimal("100.00"),
                fee=Decimal("0.60"),
                acquirer_fee=Decimal("0.60"),
                net=Decimal("99.40"),
                card_masked="622202******0123",
                card_last4="0123",
                rrn=f"{index:012d}",
                trace_no=f"{index % 1_000_000:06d}",
                batch_no="000001",
                auth_code="A1B2C3",
                status=Transaction.Status.APPROVED,
                occurred_at=start + timedelta(seconds=index),
                settlement_date=settlement,
            )
            for index in range(count)
        ),
        batch_size=2000,
    )


def peak_memory(work) -> int:
    """The most memory Python held at once while ``work()`` ran, in bytes."""
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def materialised_peak(merchant) -> int:
    # The least a non-streaming export would hold: every row's exported values at once, before
    # formatting a single line. The export reads the same columns in chunks instead.
    queryset = selectors.transaction_list(merchant=merchant).order_by("-occurred_at", "-pk")
    rows = []
    peak = peak_memory(lambda: rows.extend(queryset.values_list(*exports.COLUMNS)))
    assert len(rows) == BIG
    return peak


def warm_up(client, url: str) -> None:
    # Translation catalogues, the XLSX library and the like load once per process; an empty
    # export first keeps that one-off cost out of the measurement.
    b"".join(client.get(url).streaming_content)


def test_a_big_csv_export_never_holds_all_its_rows_in_memory(shop_client, shop):
    warm_up(shop_client, CSV)
    bulk_transactions(shop)
    response = shop_client.get(CSV)
    lines = 0

    def consume():
        nonlocal lines
        for chunk in response.streaming_content:
            lines += chunk.count(b"\n")

    export_peak = peak_memory(consume)
    whole_peak = materialised_peak(shop)

    assert lines == 1 + BIG
    # Chunks of exports.CHUNK_ROWS (2,000) rows against all 20,000: a streaming export stays
    # far below a third of the materialised rows, while one that built a list would not.
    assert export_peak < whole_peak / 3, (export_peak, whole_peak)


def test_a_big_xlsx_export_never_holds_all_its_rows_in_memory(shop_client, shop, tmp_path):
    warm_up(shop_client, XLSX)
    bulk_transactions(shop)
    saved = tmp_path / "export.xlsx"

    def export():
        response = shop_client.get(XLSX)
        with saved.open("wb") as file:
            for chunk in response.streaming_content:
                file.write(chunk)

    export_peak = peak_memory(export)
    whole_peak = materialised_peak(shop)

    with zipfile.ZipFile(saved) as workbook:
        assert workbook.read("xl/worksheets/sheet1.xml").count(b"<row ") == 1 + BIG
    # XlsxWriter's constant-memory mode writes each row to disk as it goes and the response
    # reads the finished file back in blocks: only one chunk of rows is held at a time.
    assert export_peak < whole_peak / 3, (export_peak, whole_peak)
