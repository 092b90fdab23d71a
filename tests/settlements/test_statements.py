import csv
import io
import itertools
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import translation
from pypdf import PdfReader

from core.pdf import pdf_text
from settlements.models import Channel, Payout, Transaction
from settlements.statements import (
    CSV_BOM,
    safe_cell,
    statement_csv,
    statement_for,
    statement_months,
    statement_pdf,
)
from tests import factories
from tests.contracts import approved_merchant
from tests.helpers import assert_constant_queries

OCTOBER = date(2026, 10, 1)
NOVEMBER = date(2026, 11, 1)
NOW = datetime.fromisoformat("2026-11-05T10:00:00+08:00")
FORMULA_NAME = "=cmd|' /C calc'!A0"


def at(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


def txn(merchant, moment: str, channel: str, gross: str, type="sale", **extra) -> Transaction:
    return factories.TransactionFactory(
        merchant=merchant,
        occurred_at=at(moment),
        channel=channel,
        gross=Decimal(gross),
        type=type,
        **extra,
    )


@pytest.fixture
def shop(db):
    """A month of business and the first days of the next, on the demo rates (debit 0.50%
    capped at 25.00, credit 0.60%, QR 0.38%); fees and nets by hand in the comments."""
    merchant = factories.MerchantFactory(name="张记面馆")
    # 07:00 Beijing is 23:00 UTC on 30 September: October's, and the 1st in the daily table.
    txn(merchant, "2026-10-01T07:00:00+08:00", "unionpay_qr", "10.00")  # fee 0.04, net 9.96
    txn(merchant, "2026-10-08T10:00:00+08:00", "credit_card", "1000.00")  # 6.00, 994.00
    txn(  # the acquirer charged 1.00 where the schedule says 0.95
        merchant,
        "2026-10-08T15:00:00+08:00",
        "wechat_pay",
        "250.00",
        acquirer_fee=Decimal("1.00"),
    )  # 0.95, 249.05
    txn(merchant, "2026-10-12T12:00:00+08:00", "alipay", "88.00", status="declined")
    txn(merchant, "2026-10-15T11:00:00+08:00", "debit_card", "8000.00")  # capped 25.00
    txn(merchant, "2026-10-20T09:00:00+08:00", "credit_card", "300.00")  # 1.80, 298.20
    txn(merchant, "2026-10-20T09:05:00+08:00", "credit_card", "300.00", type="void")  # -1.80
    txn(merchant, "2026-10-20T14:00:00+08:00", "wechat_pay", "100.00", type="refund")  # -0.38
    # A bank-card refund returns no fee.
    txn(merchant, "2026-10-25T16:00:00+08:00", "credit_card", "12.50", type="refund")
    # 23:30 Beijing on the 31st and 00:10 on 1 November are both 31 October in UTC.
    txn(merchant, "2026-10-31T23:30:00+08:00", "alipay", "123.45")  # 0.47, 122.98
    txn(merchant, "2026-11-01T00:10:00+08:00", "alipay", "200.00")  # 0.76, 199.24
    txn(merchant, "2026-11-03T10:00:00+08:00", "credit_card", "500.00")  # 3.00, 497.00
    factories.PayoutFactory(
        merchant=merchant,
        acquirer_id="PO20261009A",
        settlement_date=date(2026, 10, 9),
        status=Payout.Status.PAID,
        gross_amount=Decimal("1250.00"),
        fee_amount=Decimal("6.95"),
    )
    factories.PayoutFactory(
        merchant=merchant,
        acquirer_id="PO20261016A",
        settlement_date=date(2026, 10, 16),
        status=Payout.Status.RETURNED,
        gross_amount=Decimal("8000.00"),
        fee_amount=Decimal("25.00"),
        adjustment_amount=Decimal("-12.50"),
    )
    factories.PayoutFactory(
        merchant=merchant,
        acquirer_id="PO20261102A",
        settlement_date=date(2026, 11, 2),
        account_masked="621700******9876",
        bank_name="中国建设银行",
    )
    return merchant


def rows(statement_bytes: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(statement_bytes.decode("utf-8").removeprefix(CSV_BOM))))


def sections(statement_bytes: bytes) -> list[list[list[str]]]:
    grouped = itertools.groupby(rows(statement_bytes), key=bool)
    return [list(group) for non_empty, group in grouped if non_empty]


# -- statement_for ------------------------------------------------------------------------------


def test_statement_totals_are_the_beijing_month_to_the_fen(shop):
    statement = statement_for(merchant=shop, month=OCTOBER, now=NOW)

    totals = statement.totals
    assert (totals.sales_count, totals.sales_amount) == (6, Decimal("9683.45"))
    assert (totals.undo_count, totals.undo_amount) == (3, Decimal("-412.50"))
    assert totals.amount == Decimal("9270.95")
    assert totals.fee == Decimal("32.08")
    assert totals.net == Decimal("9238.87")
    assert totals.declined_count == 1


def test_statement_by_channel_is_exact_and_in_model_order(shop):
    statement = statement_for(merchant=shop, month=OCTOBER, now=NOW)

    assert [
        (line.channel, line.count, line.amount, line.fee, line.net) for line in statement.channels
    ] == [
        ("debit_card", 1, Decimal("8000.00"), Decimal("25.00"), Decimal("7975.00")),
        ("credit_card", 4, Decimal("987.50"), Decimal("6.00"), Decimal("981.50")),
        ("unionpay_qr", 1, Decimal("10.00"), Decimal("0.04"), Decimal("9.96")),
        ("wechat_pay", 2, Decimal("150.00"), Decimal("0.57"), Decimal("149.43")),
        ("alipay", 1, Decimal("123.45"), Decimal("0.47"), Decimal("122.98")),
    ]


def test_statement_by_day_groups_by_the_beijing_date(shop):
    statement = statement_for(merchant=shop, month=OCTOBER, now=NOW)

    assert [(line.day, line.count, line.amount, line.fee, line.net) for line in statement.days] == [
        (date(2026, 10, 1), 1, Decimal("10.00"), Decimal("0.04"), Decimal("9.96")),
        (date(2026, 10, 8), 2, Decimal("1250.00"), Decimal("6.95"), Decimal("1243.05")),
        (date(2026, 10, 15), 1, Decimal("8000.00"), Decimal("25.00"), Decimal("7975.00")),
        (date(2026, 10, 20), 3, Decimal("-100.00"), Decimal("-0.38"), Decimal("-99.62")),
        (date(2026, 10, 25), 1, Decimal("-12.50"), Decimal("0.00"), Decimal("-12.50")),
        (date(2026, 10, 31), 1, Decimal("123.45"), Decimal("0.47"), Decimal("122.98")),
    ]


def test_a_sale_ten_minutes_after_beijing_midnight_belongs_to_the_next_month(shop):
    statement = statement_for(merchant=shop, month=NOVEMBER, now=NOW)

    assert [(line.day, line.count, line.amount) for line in statement.days] == [
        (date(2026, 11, 1), 1, Decimal("200.00")),
        (date(2026, 11, 3), 1, Decimal("500.00")),
    ]
    assert (statement.totals.sales_count, statement.totals.fee) == (2, Decimal("3.76"))


def test_statement_accepts_any_day_of_the_month_and_covers_the_whole_month(shop):
    statement = statement_for(merchant=shop, month=date(2026, 10, 17), now=NOW)

    assert (statement.month, statement.period_start, statement.period_end) == (
        OCTOBER,
        OCTOBER,
        date(2026, 10, 31),
    )
    assert statement.totals.net == Decimal("9238.87")


def test_statement_counts_fee_mismatches_of_the_month(shop):
    statement = statement_for(merchant=shop, month=OCTOBER, now=NOW)

    assert statement.fee_mismatch_count == 1
    assert statement_for(merchant=shop, month=NOVEMBER, now=NOW).fee_mismatch_count == 0


def test_statement_lists_the_payouts_settled_in_the_month_and_which_are_late(shop):
    statement = statement_for(merchant=shop, month=OCTOBER, now=NOW)

    assert [
        (
            p.settlement_date,
            p.acquirer_id,
            p.cycle,
            p.gross,
            p.fee,
            p.adjustment,
            p.net,
            p.status,
            p.late,
        )
        for p in statement.payouts
    ] == [
        (
            date(2026, 10, 9),
            "PO20261009A",
            "t1",
            Decimal("1250.00"),
            Decimal("6.95"),
            Decimal("0.00"),
            Decimal("1243.05"),
            "paid",
            False,
        ),
        (
            date(2026, 10, 16),
            "PO20261016A",
            "t1",
            Decimal("8000.00"),
            Decimal("25.00"),
            Decimal("-12.50"),
            Decimal("7962.50"),
            "returned",
            True,
        ),
    ]
    paid = statement.payouts[0]
    assert (paid.bank_reference, paid.paid_at) == (
        "BRPO20261009A",
        Payout.objects.get(acquirer_id="PO20261009A").expected_at,
    )
    assert [p.acquirer_id for p in statement.late_payouts] == ["PO20261016A"]


def test_a_payout_is_not_late_before_its_grace_period_ends(shop, settings):
    returned = Payout.objects.get(acquirer_id="PO20261016A")
    just_before = returned.expected_at + settings.PAYOUT_LATE_AFTER - timedelta(minutes=1)

    statement = statement_for(merchant=shop, month=OCTOBER, now=just_before)

    assert statement.late_payouts == ()


def test_statement_without_an_application_shows_the_latest_payouts_account(shop):
    statement = statement_for(merchant=shop, month=OCTOBER, now=NOW)

    assert (statement.merchant_name, statement.mid) == ("张记面馆", shop.mid)
    assert (statement.account_masked, statement.bank_name) == ("621700******9876", "中国建设银行")
    assert statement.fee_schedule_name == shop.fee_schedule.name
    assert statement.generated_at == NOW


def test_statement_shows_the_settlement_account_of_the_merchants_application(db):
    merchant = approved_merchant()
    factories.PayoutFactory(merchant=merchant, account_masked="999999******0000", bank_name="X")
    application = merchant.application

    statement = statement_for(merchant=merchant, month=OCTOBER, now=NOW)

    assert application.account_number_masked
    assert (statement.account_masked, statement.bank_name) == (
        application.account_number_masked,
        application.bank_name,
    )


def test_statement_of_a_month_without_business_is_all_zeros(shop):
    statement = statement_for(merchant=shop, month=date(2026, 7, 1), now=NOW)

    assert statement.totals.amount == Decimal("0.00")
    assert (statement.totals.fee, statement.totals.net) == (Decimal("0.00"), Decimal("0.00"))
    assert (statement.channels, statement.days, statement.payouts) == ((), (), ())


def test_statement_for_makes_six_queries_for_a_merchant_without_an_application(
    shop, django_assert_num_queries
):
    with django_assert_num_queries(6):
        statement_for(merchant=shop, month=OCTOBER, now=NOW)


def test_statement_for_queries_do_not_grow_with_the_months_data(shop):
    serial = itertools.count(1)
    channels = itertools.cycle(Channel.values)

    def grow():
        n = next(serial)
        for hour in range(3):
            factories.TransactionFactory(
                merchant=shop,
                occurred_at=at(f"2026-10-{n + 1:02d}T{hour + 8:02d}:00:00+08:00"),
                channel=next(channels),
            )
        factories.PayoutFactory(
            merchant=shop,
            settlement_date=date(2026, 10, n + 1),
            status=Payout.Status.HELD,
        )

    assert_constant_queries(lambda: statement_for(merchant=shop, month=OCTOBER, now=NOW), grow)


# -- statement_months ---------------------------------------------------------------------------


def test_statement_months_run_from_the_first_beijing_month_to_the_last_newest_first(db):
    merchant = factories.MerchantFactory()
    # 31 August 16:10 UTC, already September in Beijing.
    txn(merchant, "2026-09-01T00:10:00+08:00", "alipay", "20.00")
    txn(merchant, "2026-10-03T10:00:00+08:00", "alipay", "20.00")
    factories.PayoutFactory(merchant=merchant, settlement_date=date(2026, 12, 1))

    assert statement_months(merchant=merchant) == [
        date(2026, 12, 1),
        date(2026, 11, 1),
        date(2026, 10, 1),
        date(2026, 9, 1),
    ]


def test_statement_months_cross_the_year_end(db):
    merchant = factories.MerchantFactory()
    txn(merchant, "2026-12-31T23:30:00+08:00", "alipay", "20.00")
    factories.PayoutFactory(merchant=merchant, settlement_date=date(2027, 1, 4))

    assert statement_months(merchant=merchant) == [date(2027, 1, 1), date(2026, 12, 1)]


def test_statement_months_count_declined_transactions_and_ignore_other_merchants(db):
    merchant = factories.MerchantFactory()
    txn(merchant, "2026-10-03T10:00:00+08:00", "alipay", "20.00", status="declined")
    txn(factories.MerchantFactory(), "2026-06-03T10:00:00+08:00", "alipay", "20.00")

    assert statement_months(merchant=merchant) == [OCTOBER]


def test_statement_months_of_a_merchant_without_business_are_empty(db):
    assert statement_months(merchant=factories.MerchantFactory()) == []


def test_statement_months_make_two_queries(shop, django_assert_num_queries):
    with django_assert_num_queries(2):
        statement_months(merchant=shop)


# -- CSV ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-12.50", "'-12.50"),  # text that looks like a number is still text
        ("张记面馆", "张记面馆"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (Decimal("-12.50"), Decimal("-12.50")),
        (Decimal("3.00"), Decimal("3.00")),
        (-3, -3),
    ],
)
def test_safe_cell_neutralises_formulas_but_keeps_numbers(value, cell):
    assert safe_cell(value) == cell
    assert type(safe_cell(value)) is type(cell)


def test_statement_csv_is_utf8_with_a_bom(shop):
    data = statement_csv(statement_for(merchant=shop, month=OCTOBER, now=NOW))

    assert data.startswith(b"\xef\xbb\xbf")
    assert "张记面馆" in data.decode("utf-8")


def test_statement_csv_has_header_totals_channel_day_and_payout_sections(shop):
    with translation.override("en"):
        data = statement_csv(statement_for(merchant=shop, month=OCTOBER, now=NOW))

    header, totals, channels, days, payouts = sections(data)
    assert header == [
        ["Merchant", "张记面馆"],
        ["Merchant number (MID)", shop.mid],
        ["Fee schedule", shop.fee_schedule.name],
        ["Settlement account", "621700******9876"],
        ["Bank", "中国建设银行"],
        ["Period", "2026-10-01 to 2026-10-31"],
        ["Generated at (Beijing time)", "2026-11-05 10:00"],
    ]
    assert totals == [
        ["Totals", "Count", "Amount (CNY)"],
        ["Sales", "6", "9683.45"],
        ["Refunds, voids and reversals", "3", "-412.50"],
        ["Fees charged", "", "32.08"],
        ["Net", "", "9238.87"],
        ["Declined", "1", ""],
        ["Fee differences with the acquirer", "1", ""],
        ["Late payouts", "1", ""],
    ]
    assert channels == [
        ["Channel", "Count", "Amount (CNY)", "Fees (CNY)", "Net (CNY)"],
        ["Debit card", "1", "8000.00", "25.00", "7975.00"],
        ["Credit card", "4", "987.50", "6.00", "981.50"],
        ["UnionPay QR", "1", "10.00", "0.04", "9.96"],
        ["WeChat Pay", "2", "150.00", "0.57", "149.43"],
        ["Alipay", "1", "123.45", "0.47", "122.98"],
    ]
    assert days[0] == ["Date", "Count", "Amount (CNY)", "Fees (CNY)", "Net (CNY)"]
    assert days[1:] == [
        ["2026-10-01", "1", "10.00", "0.04", "9.96"],
        ["2026-10-08", "2", "1250.00", "6.95", "1243.05"],
        ["2026-10-15", "1", "8000.00", "25.00", "7975.00"],
        ["2026-10-20", "3", "-100.00", "-0.38", "-99.62"],
        ["2026-10-25", "1", "-12.50", "0.00", "-12.50"],
        ["2026-10-31", "1", "123.45", "0.47", "122.98"],
    ]
    paid_at = Payout.objects.get(acquirer_id="PO20261009A").expected_at
    assert payouts == [
        [
            "Settlement date",
            "Payout ID",
            "Settlement cycle",
            "Gross (CNY)",
            "Fees (CNY)",
            "Adjustments (CNY)",
            "Net (CNY)",
            "Status",
            "Bank reference",
            "Paid at (Beijing time)",
            "Late",
        ],
        [
            "2026-10-09",
            "PO20261009A",
            "T+1",
            "1250.00",
            "6.95",
            "0.00",
            "1243.05",
            "Paid",
            "BRPO20261009A",
            paid_at.astimezone(NOW.tzinfo).strftime("%Y-%m-%d %H:%M"),
            "",
        ],
        [
            "2026-10-16",
            "PO20261016A",
            "T+1",
            "8000.00",
            "25.00",
            "-12.50",
            "7962.50",
            "Returned by the bank",
            "",
            "",
            "Yes",
        ],
    ]


def test_statement_csv_neutralises_a_formula_in_the_merchant_name_but_not_negative_amounts(shop):
    shop.name = FORMULA_NAME
    shop.save()

    data = statement_csv(statement_for(merchant=shop, month=OCTOBER, now=NOW))

    header, _totals, _channels, days, payouts = sections(data)
    assert header[0][1] == "'=cmd|' /C calc'!A0"
    assert days[5][2:] == ["-12.50", "0.00", "-12.50"]
    assert payouts[2][5] == "-12.50"
    assert b",-12.50," in data
    assert b"'-12.50" not in data


def test_statement_csv_of_an_empty_month_keeps_every_section_heading(shop):
    data = statement_csv(statement_for(merchant=shop, month=date(2026, 7, 1), now=NOW))

    _header, totals, channels, days, payouts = sections(data)
    assert (len(channels), len(days), len(payouts)) == (1, 1, 1)
    assert len(totals) == 8


# -- PDF ----------------------------------------------------------------------------------------


def test_statement_pdf_shows_the_chinese_merchant_name_mid_and_totals(shop):
    statement = statement_for(merchant=shop, month=OCTOBER, now=NOW)

    pdf = statement_pdf(statement)

    text = pdf_text(pdf)
    assert pdf.startswith(b"%PDF-")
    assert "张记面馆" in text
    assert "中国建设银行" in text
    assert shop.mid in text
    for figure in ("9,683.45", "-412.50", "32.08", "9,238.87", "9,270.95", "7,962.50"):
        assert figure in text
    assert "2026-11-05 10:00" in text


def test_statement_pdf_is_a4_with_the_cjk_font_embedded(shop):
    pdf = statement_pdf(statement_for(merchant=shop, month=OCTOBER, now=NOW))

    page = PdfReader(io.BytesIO(pdf)).pages[0]
    assert [round(float(v)) for v in page.mediabox[2:]] == [595, 842]
    fonts = [font.get_object() for font in page["/Resources"]["/Font"].values()]
    assert {str(font["/BaseFont"]).split("+")[-1] for font in fonts} == {"NotoSansSC-Regular"}
    assert all("/FontFile2" in font["/FontDescriptor"].get_object() for font in fonts)


def test_statement_pdf_bytes_are_the_same_for_the_same_statement(shop):
    statement = statement_for(merchant=shop, month=OCTOBER, now=NOW)

    assert statement_pdf(statement) == statement_pdf(statement)


def test_statement_pdf_is_in_the_language_active_when_rendered(shop):
    statement = statement_for(merchant=shop, month=OCTOBER, now=NOW)

    with translation.override("en"):
        english = pdf_text(statement_pdf(statement))
    with translation.override("zh-hans"):
        chinese = pdf_text(statement_pdf(statement))

    assert "Credit card" in english
    assert "Monthly statement" in english
    assert "贷记卡" in chinese
    assert "Credit card" not in chinese


def test_statement_pdf_flags_late_payouts_and_fee_differences(shop):
    with translation.override("en"):
        text = pdf_text(statement_pdf(statement_for(merchant=shop, month=OCTOBER, now=NOW)))

    assert "Needs attention" in text
    assert "differs from the acquirer's: 1." in text
    assert "Payouts that have not arrived on time: 1," in text
    paid_row, returned_row = text.split("PO20261009A", 1)[1].split("PO20261016A")
    assert "Late" not in paid_row
    assert "Late" in returned_row.split("Generated")[0]


def test_statement_pdf_runs_over_pages_repeating_the_table_headings(db):
    merchant = factories.MerchantFactory(name="张记面馆")
    for day in range(1, 32):
        txn(merchant, f"2026-10-{day:02d}T10:00:00+08:00", "wechat_pay", "100.00")
        factories.PayoutFactory(merchant=merchant, settlement_date=date(2026, 10, day))
    statement = statement_for(merchant=merchant, month=OCTOBER, now=NOW)

    with translation.override("en"):
        pdf = statement_pdf(statement)

    pages = [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]
    assert len(pages) >= 3
    assert all("Gross (CNY)" in page for page in pages[-2:])
    assert pages[-1].rstrip().endswith(f"Page {len(pages)} of {len(pages)}")
    assert all(f"张记面馆 · {merchant.mid}" in page for page in pages)


def test_statement_pdf_of_an_empty_month_says_so(shop):
    with translation.override("en"):
        text = pdf_text(statement_pdf(statement_for(merchant=shop, month=date(2026, 7, 1))))

    assert text.count("No transactions this month.") == 2
    assert "No payouts this month." in text
