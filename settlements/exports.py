"""Transaction exports as CSV and XLSX, streamed: rows come from the database in chunks and
leave as they are written, so an export of a year of traffic never sits in memory whole."""

import csv
import tempfile
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import IO

import xlsxwriter
from django.utils import timezone
from django.utils.translation import gettext as _

from settlements.models import Channel, Transaction

CHUNK_ROWS = 2000
# A cell a spreadsheet would read as a formula (CSV injection). Numbers are written as
# numbers, so a refund's "-12.50" is never affected.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")

COLUMNS = [
    "occurred_at",
    "acquirer_id",
    "tid",
    "type",
    "channel",
    "status",
    "amount",
    "fee",
    "net",
    "acquirer_fee",
    "card_masked",
    "rrn",
    "trace_no",
    "batch_no",
    "auth_code",
    "settlement_date",
    "payout__acquirer_id",
]
MONEY_COLUMNS = {"amount", "fee", "net", "acquirer_fee"}


def headings() -> list[str]:
    return [
        _("Time (Beijing)"),
        _("Transaction ID"),
        _("Terminal (TID)"),
        _("Type"),
        _("Channel"),
        _("Result"),
        _("Amount (CNY)"),
        _("Fee (CNY)"),
        _("Net (CNY)"),
        _("Fee charged by the acquirer (CNY)"),
        _("Card"),
        _("Reference number (RRN)"),
        _("Voucher number"),
        _("Batch number"),
        _("Authorisation code"),
        _("Settlement date"),
        _("Payout"),
    ]


def safe_cell(value):
    """A value as a spreadsheet cell that can never run as a formula."""
    if value is None:
        return ""
    # Numbers stay numbers (a refund of -12.50 must still sum); only text can hide a formula.
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def export_rows(queryset) -> Iterator[list]:
    """Display values for each transaction, read from the database in chunks."""
    types = dict(Transaction.Type.choices)
    channels = dict(Channel.choices)
    statuses = dict(Transaction.Status.choices)
    for row in queryset.values_list(*COLUMNS).iterator(chunk_size=CHUNK_ROWS):
        values = dict(zip(COLUMNS, row, strict=True))
        yield [
            timezone.localtime(values["occurred_at"]).strftime("%Y-%m-%d %H:%M:%S"),
            values["acquirer_id"],
            values["tid"],
            str(types.get(values["type"], values["type"])),
            str(channels.get(values["channel"], values["channel"])),
            str(statuses.get(values["status"], values["status"])),
            values["amount"],
            values["fee"],
            values["net"],
            values["acquirer_fee"],
            values["card_masked"],
            values["rrn"],
            values["trace_no"],
            values["batch_no"],
            values["auth_code"],
            values["settlement_date"].isoformat() if values["settlement_date"] else "",
            values["payout__acquirer_id"] or "",
        ]


class Echo:
    """A file-like object csv.writer writes to, handing each line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def csv_stream(queryset) -> Iterator[bytes]:
    # A byte-order mark: Excel on Chinese Windows otherwise reads UTF-8 as GBK.
    yield "\ufeff".encode()
    writer = csv.writer(Echo())
    yield writer.writerow([safe_cell(h) for h in headings()]).encode()
    for row in export_rows(queryset):
        yield writer.writerow([safe_cell(value) for value in row]).encode()


def xlsx_file(queryset, *, title: str) -> IO[bytes]:
    """The export as an XLSX workbook in a temporary file, rewound for reading.

    XlsxWriter's constant-memory mode flushes each row to disk as it is written, so memory
    stays flat however many rows there are; text is always written as text, never a formula.
    """
    output = tempfile.TemporaryFile()  # noqa: SIM115 (handed to the response, which closes it)
    workbook = xlsxwriter.Workbook(
        output,
        {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False},
    )
    sheet = workbook.add_worksheet(title[:31])
    bold = workbook.add_format({"bold": True})
    money = workbook.add_format({"num_format": "#,##0.00"})
    widths = [20, 18, 10, 8, 12, 8, 12, 10, 12, 12, 20, 14, 8, 8, 8, 12, 28]
    for index, width in enumerate(widths):
        sheet.set_column(index, index, width)
    for column, heading in enumerate(headings()):
        sheet.write_string(0, column, heading, bold)
    money_at = {COLUMNS.index(name) for name in MONEY_COLUMNS}
    for row_index, row in enumerate(export_rows(queryset), start=1):
        for column, value in enumerate(row):
            if column in money_at:
                sheet.write_number(row_index, column, float(value), money)
            else:
                sheet.write_string(row_index, column, str(value))
    sheet.freeze_panes(1, 0)
    workbook.close()
    output.seek(0)
    return output


def export_filename(*, mid: str, extension: str, now: datetime | None = None) -> str:
    stamp = timezone.localtime(now).strftime("%Y%m%d-%H%M")
    return f"transactions-{mid}-{stamp}.{extension}"
