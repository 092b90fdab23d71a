"""A merchant's monthly statement (对账单): what the month's transactions came to, by channel
and by day, the payouts settled in it and what needs attention, as a PDF and as a CSV file.

A month is a Beijing calendar month of ``occurred_at``: a sale at 23:30 on 31 October Beijing
time is October's even though it is also 31 October in UTC, and one at 00:10 on 1 November is
November's. Every figure is summed in the database, so a statement costs the same handful of
queries whether the merchant took ten payments that month or a hundred thousand.
"""

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

# The embedded CJK font and the page machinery are shared with the contract.
from core.pdf import (
    FONT_NAME,
    LABEL_BACKGROUND,
    MARGIN_TOP,
    MARGIN_X,
    MUTED_COLOR,
    PAGE_SIZE,
    RULE_COLOR,
    FauxBoldParagraph,
    build_pdf,
    key_value_table,
    page_footer,
    paragraph_text,
    pdf_styles,
    register_font,
)
from portal.models import Merchant
from portal.models.onboarding import localized
from settlements import ledger
from settlements.exports import safe_cell
from settlements.models import Channel, Payout, Transaction

CSV_BOM = "\ufeff"

CYCLE_SHORT = {"t1": "T+1", "d0": "D0"}

# Payout ids are long unbroken tokens; the payout table uses a smaller type to fit A4.
TABLE_FONT_SIZE = 8.5
PAYOUT_FONT_SIZE = 7.5
LATE_COLOR = "#b42318"


# -- What a statement holds ---------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    """The month's approved money, and what was declined. Amounts signed as in the ledger."""

    sales_count: int
    sales_amount: Decimal
    # Refunds, voids and reversals: everything that gives money back.
    undo_count: int
    undo_amount: Decimal
    fee: Decimal
    net: Decimal
    declined_count: int

    @property
    def count(self) -> int:
        return self.sales_count + self.undo_count

    @property
    def amount(self) -> Decimal:
        return self.sales_amount + self.undo_amount


@dataclass(frozen=True)
class ChannelLine:
    channel: str
    count: int
    amount: Decimal
    fee: Decimal
    net: Decimal

    @property
    def label(self) -> str:
        return str(Channel(self.channel).label)


@dataclass(frozen=True)
class DayLine:
    day: date
    count: int
    amount: Decimal
    fee: Decimal
    net: Decimal


@dataclass(frozen=True)
class PayoutLine:
    settlement_date: date
    acquirer_id: str
    cycle: str
    gross: Decimal
    fee: Decimal
    adjustment: Decimal
    net: Decimal
    status: str
    bank_reference: str
    paid_at: datetime | None
    late: bool

    @property
    def status_display(self) -> str:
        return str(Payout.Status(self.status).label)

    @property
    def cycle_display(self) -> str:
        return CYCLE_SHORT.get(self.cycle, self.cycle.upper())


@dataclass(frozen=True)
class Statement:
    """Everything a monthly statement shows. Labels are looked up when read, so one statement
    renders in whichever language is active at the time."""

    merchant_name: str
    mid: str
    fee_schedule_name: str
    fee_schedule_name_en: str
    account_masked: str
    bank_name: str
    month: date
    period_start: date
    period_end: date
    generated_at: datetime
    totals: Totals
    channels: tuple[ChannelLine, ...]
    days: tuple[DayLine, ...]
    payouts: tuple[PayoutLine, ...]
    fee_mismatch_count: int

    @property
    def fee_schedule_display(self) -> str:
        return localized(self.fee_schedule_name, self.fee_schedule_name_en)

    @property
    def late_payouts(self) -> tuple[PayoutLine, ...]:
        return tuple(payout for payout in self.payouts if payout.late)

    @property
    def late_payout_count(self) -> int:
        return len(self.late_payouts)

    @property
    def needs_attention(self) -> bool:
        return bool(self.fee_mismatch_count or self.late_payouts)


# -- Reading the ledger -------------------------------------------------------------------------


def _first_of_month(day: date) -> date:
    return day.replace(day=1)


def _next_month(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def _month_bounds(month: date) -> tuple[datetime, datetime]:
    """The month as an aware half-open interval of Beijing time."""
    zone = ZoneInfo(settings.TIME_ZONE)
    start = _first_of_month(month)
    end = _next_month(start)
    return (
        datetime(start.year, start.month, 1, tzinfo=zone),
        datetime(end.year, end.month, 1, tzinfo=zone),
    )


def _fen(value) -> Decimal:
    # An empty SUM is NULL, and SQLite sums decimals as floats: a day whose fees cancel out can
    # come back as -5.5e-17, which rounds to -0.00; adding zero makes that 0.00.
    return ledger.to_fen(value if value is not None else ledger.ZERO) + ledger.ZERO


def statement_months(*, merchant: Merchant) -> list[date]:
    """The first day of every month from the merchant's first transaction or payout to the
    last, newest first; empty when there is neither.

    Two MIN/MAX queries that the merchant indexes answer without reading the rows between;
    the price is that a quiet month between two busy ones is listed too (its statement shows
    zeros), which a merchant looking for a month also expects to find.
    """
    occurred = Transaction.objects.filter(merchant=merchant).aggregate(
        first=Min("occurred_at"), last=Max("occurred_at")
    )
    settled = Payout.objects.filter(merchant=merchant).aggregate(
        first=Min("settlement_date"), last=Max("settlement_date")
    )
    firsts, lasts = [], []
    if occurred["first"] is not None:
        firsts.append(timezone.localdate(occurred["first"]))
        lasts.append(timezone.localdate(occurred["last"]))
    if settled["first"] is not None:
        firsts.append(settled["first"])
        lasts.append(settled["last"])
    if not firsts:
        return []
    months = []
    month, last = _first_of_month(min(firsts)), _first_of_month(max(lasts))
    while month <= last:
        months.append(month)
        month = _next_month(month)
    return months[::-1]


def statement_for(*, merchant: Merchant, month: date, now: datetime | None = None) -> Statement:
    """The statement of ``merchant`` for the Beijing calendar month containing ``month``.

    Reads only, in a fixed number of queries (five, six for a merchant without an application);
    ``now`` is the generation time, which also decides which payouts count as late.
    """
    now = now or timezone.now()
    merchant = Merchant.objects.select_related("fee_schedule", "application").get(pk=merchant.pk)
    month = _first_of_month(month)
    period_end = _next_month(month) - timedelta(days=1)
    start, end = _month_bounds(month)
    in_month = Transaction.objects.filter(
        merchant=merchant, occurred_at__gte=start, occurred_at__lt=end
    )

    approved = Q(status=Transaction.Status.APPROVED)
    sale = approved & Q(type=Transaction.Type.SALE)
    undo = approved & Q(type__in=sorted(Transaction.UNDOING_TYPES))
    by_channel = {
        row["channel"]: row
        for row in in_month.values("channel")
        .annotate(
            sales_count=Count("pk", filter=sale),
            sales_amount=Sum("amount", filter=sale),
            undo_count=Count("pk", filter=undo),
            undo_amount=Sum("amount", filter=undo),
            fee=Sum("fee", filter=approved),
            net=Sum("net", filter=approved),
            declined_count=Count("pk", filter=Q(status=Transaction.Status.DECLINED)),
            mismatch_count=Count("pk", filter=Q(fee_mismatch=True)),
        )
        .order_by("channel")
    }
    # At most one row per channel: the totals are sums of a handful of rows, not of the month.
    rows = by_channel.values()
    totals = Totals(
        sales_count=sum(row["sales_count"] for row in rows),
        sales_amount=sum((_fen(row["sales_amount"]) for row in rows), ledger.ZERO),
        undo_count=sum(row["undo_count"] for row in rows),
        undo_amount=sum((_fen(row["undo_amount"]) for row in rows), ledger.ZERO),
        fee=sum((_fen(row["fee"]) for row in rows), ledger.ZERO),
        net=sum((_fen(row["net"]) for row in rows), ledger.ZERO),
        declined_count=sum(row["declined_count"] for row in rows),
    )
    channels = tuple(
        ChannelLine(
            channel=channel,
            count=row["sales_count"] + row["undo_count"],
            amount=_fen(row["sales_amount"]) + _fen(row["undo_amount"]),
            fee=_fen(row["fee"]),
            net=_fen(row["net"]),
        )
        for channel in Channel.values
        if (row := by_channel.get(channel)) and row["sales_count"] + row["undo_count"]
    )

    days = tuple(
        DayLine(
            day=row["day"],
            count=row["count"],
            amount=_fen(row["amount"]),
            fee=_fen(row["fee"]),
            net=_fen(row["net"]),
        )
        for row in in_month.filter(approved)
        .annotate(day=TruncDate("occurred_at", tzinfo=ZoneInfo(settings.TIME_ZONE)))
        .values("day")
        .annotate(count=Count("pk"), amount=Sum("amount"), fee=Sum("fee"), net=Sum("net"))
        .order_by("day")
    )

    settled_in_month = Payout.objects.filter(
        merchant=merchant, settlement_date__gte=month, settlement_date__lte=period_end
    )
    late = set(settled_in_month.overdue(now).values_list("pk", flat=True))
    payouts = tuple(
        PayoutLine(
            settlement_date=payout.settlement_date,
            acquirer_id=payout.acquirer_id,
            cycle=payout.cycle,
            gross=payout.gross_amount,
            fee=payout.fee_amount,
            adjustment=payout.adjustment_amount,
            net=payout.net_amount,
            status=payout.status,
            bank_reference=payout.bank_reference,
            paid_at=payout.paid_at,
            late=payout.pk in late,
        )
        for payout in settled_in_month.order_by("settlement_date", "pk")
    )

    application = getattr(merchant, "application", None)
    if application is not None:
        account_masked, bank_name = application.account_number_masked, application.bank_name
    else:
        account_masked, bank_name = (
            Payout.objects.filter(merchant=merchant)
            .order_by("-settlement_date", "-pk")
            .values_list("account_masked", "bank_name")
            .first()
        ) or ("", "")

    schedule = merchant.fee_schedule
    return Statement(
        merchant_name=merchant.name,
        mid=merchant.mid,
        fee_schedule_name=schedule.name if schedule else "",
        fee_schedule_name_en=schedule.name_en if schedule else "",
        account_masked=account_masked,
        bank_name=bank_name,
        month=month,
        period_start=month,
        period_end=period_end,
        generated_at=now,
        totals=totals,
        channels=channels,
        days=days,
        payouts=payouts,
        fee_mismatch_count=sum(row["mismatch_count"] for row in rows),
    )


# -- Shared wording -----------------------------------------------------------------------------


def _local_time(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


def _period(statement: Statement) -> str:
    return _("%(start)s to %(end)s") % {
        "start": statement.period_start.isoformat(),
        "end": statement.period_end.isoformat(),
    }


def _generated(statement: Statement) -> str:
    return _("Generated %(time)s (Beijing time)") % {"time": _local_time(statement.generated_at)}


def _header_rows(statement: Statement) -> list[tuple[str, str]]:
    return [
        (_("Merchant"), statement.merchant_name),
        (_("Merchant number (MID)"), statement.mid),
        (_("Fee schedule"), statement.fee_schedule_display),
        (_("Settlement account"), statement.account_masked),
        (_("Bank"), statement.bank_name),
        (_("Period"), _period(statement)),
        (_("Generated at (Beijing time)"), _local_time(statement.generated_at)),
    ]


def _figure_headings(first: str) -> list[str]:
    return [first, _("Count"), _("Amount (CNY)"), _("Fees (CNY)"), _("Net (CNY)")]


# -- CSV ----------------------------------------------------------------------------------------


def statement_csv(statement: Statement) -> bytes:
    """The statement as UTF-8 CSV with a byte-order mark (Excel in China otherwise reads it as
    GBK): header, totals, by channel, by day and payouts, separated by blank lines."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def section(rows):
        for row in rows:
            writer.writerow([safe_cell(cell) for cell in row])

    totals = statement.totals
    section(_header_rows(statement))
    writer.writerow([])
    section(
        [
            [_("Totals"), _("Count"), _("Amount (CNY)")],
            [_("Sales"), totals.sales_count, totals.sales_amount],
            [_("Refunds, voids and reversals"), totals.undo_count, totals.undo_amount],
            [_("Fees charged"), None, totals.fee],
            [_("Net"), None, totals.net],
            [_("Declined"), totals.declined_count, None],
            [_("Fee differences with the acquirer"), statement.fee_mismatch_count, None],
            [_("Late payouts"), statement.late_payout_count, None],
        ]
    )
    writer.writerow([])
    section(
        [
            _figure_headings(_("Channel")),
            *(
                [line.label, line.count, line.amount, line.fee, line.net]
                for line in statement.channels
            ),
        ]
    )
    writer.writerow([])
    section(
        [
            _figure_headings(_("Date")),
            *(
                [line.day.isoformat(), line.count, line.amount, line.fee, line.net]
                for line in statement.days
            ),
        ]
    )
    writer.writerow([])
    section(
        [
            [
                _("Settlement date"),
                _("Payout ID"),
                _("Settlement cycle"),
                _("Gross (CNY)"),
                _("Fees (CNY)"),
                _("Adjustments (CNY)"),
                _("Net (CNY)"),
                _("Status"),
                _("Bank reference"),
                _("Paid at (Beijing time)"),
                _("Late"),
            ],
            *(
                [
                    payout.settlement_date.isoformat(),
                    payout.acquirer_id,
                    payout.cycle_display,
                    payout.gross,
                    payout.fee,
                    payout.adjustment,
                    payout.net,
                    payout.status_display,
                    payout.bank_reference,
                    _local_time(payout.paid_at),
                    _("Yes") if payout.late else "",
                ]
                for payout in statement.payouts
            ),
        ]
    )
    return (CSV_BOM + buffer.getvalue()).encode("utf-8")


# -- PDF ----------------------------------------------------------------------------------------


def _money(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def _cell_styles(font_size: float) -> dict[str, ParagraphStyle]:
    cell = ParagraphStyle(
        f"statement-cell-{font_size}",
        parent=pdf_styles()["cell"],
        fontSize=font_size,
        leading=font_size * 1.4,
    )
    return {
        "cell": cell,
        "number": ParagraphStyle(f"statement-number-{font_size}", parent=cell, alignment=TA_RIGHT),
        "head": ParagraphStyle(f"statement-head-{font_size}", parent=cell, textColor=MUTED_COLOR),
        "head-number": ParagraphStyle(
            f"statement-head-number-{font_size}",
            parent=cell,
            textColor=MUTED_COLOR,
            alignment=TA_RIGHT,
        ),
        "late": ParagraphStyle(f"statement-late-{font_size}", parent=cell, textColor=LATE_COLOR),
    }


def _table(
    headings: list[str],
    rows: list[list],
    *,
    widths: list[float],
    numeric: set[int],
    font_size: float = TABLE_FONT_SIZE,
    total_row: bool = False,
) -> Table:
    """A table whose heading row repeats on every page it runs onto. Cells given as strings
    are escaped and wrapped; Paragraphs pass through."""
    styles = _cell_styles(font_size)

    def cell(value, column: int, *, head: bool = False):
        if isinstance(value, Paragraph):
            return value
        if head:
            style = styles["head-number" if column in numeric else "head"]
        else:
            style = styles["number" if column in numeric else "cell"]
        return Paragraph(paragraph_text(str(value)), style)

    data = [[cell(value, column, head=True) for column, value in enumerate(headings)]]
    data += [[cell(value, column) for column, value in enumerate(row)] for row in rows]
    table = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    style = [
        ("FONT", (0, 0), (-1, -1), FONT_NAME, font_size),
        ("BACKGROUND", (0, 0), (-1, 0), LABEL_BACKGROUND),
        ("LINEBELOW", (0, 0), (-1, -1), 0.5, RULE_COLOR),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]
    if total_row and rows:
        style.append(("BACKGROUND", (0, -1), (-1, -1), LABEL_BACKGROUND))
    table.setStyle(TableStyle(style))
    return table


def _figure_table(first_heading: str, lines, label, totals: Totals) -> Table:
    available = PAGE_SIZE[0] - 2 * MARGIN_X
    rows = [
        [label(line), str(line.count), _money(line.amount), _money(line.fee), _money(line.net)]
        for line in lines
    ]
    rows.append(
        [
            _("Total"),
            str(totals.count),
            _money(totals.amount),
            _money(totals.fee),
            _money(totals.net),
        ]
    )
    return _table(
        _figure_headings(first_heading),
        rows,
        widths=[available - 130 * mm, 25 * mm, 37 * mm, 33 * mm, 35 * mm],
        numeric={1, 2, 3, 4},
        total_row=True,
    )


def _payout_table(statement: Statement) -> Table:
    styles = _cell_styles(PAYOUT_FONT_SIZE)
    rows = []
    for payout in statement.payouts:
        status = paragraph_text(payout.status_display)
        if payout.late:
            status += "<br/>" + paragraph_text(_("Late"))
        if payout.paid_at:
            status += "<br/>" + paragraph_text(_local_time(payout.paid_at))
        rows.append(
            [
                payout.settlement_date.isoformat(),
                Paragraph(
                    "<br/>".join(
                        paragraph_text(value)
                        for value in (payout.acquirer_id, payout.bank_reference)
                        if value
                    ),
                    styles["cell"],
                ),
                payout.cycle_display,
                _money(payout.gross),
                _money(payout.fee),
                _money(payout.adjustment),
                _money(payout.net),
                Paragraph(status, styles["late" if payout.late else "cell"]),
            ]
        )
    return _table(
        [
            _("Settlement date"),
            _("Payout ID / bank reference"),
            _("Cycle"),
            _("Gross (CNY)"),
            _("Fees (CNY)"),
            _("Adjustments (CNY)"),
            _("Net (CNY)"),
            _("Status / paid at"),
        ],
        rows,
        widths=[18 * mm, 42 * mm, 10 * mm, 19 * mm, 15 * mm, 19 * mm, 19 * mm, 28 * mm],
        numeric={3, 4, 5, 6},
        font_size=PAYOUT_FONT_SIZE,
    )


def _totals_table(statement: Statement) -> Table:
    totals = statement.totals
    available = PAGE_SIZE[0] - 2 * MARGIN_X
    return _table(
        [_("Totals"), _("Count"), _("Amount (CNY)")],
        [
            [_("Sales"), str(totals.sales_count), _money(totals.sales_amount)],
            [
                _("Refunds, voids and reversals"),
                str(totals.undo_count),
                _money(totals.undo_amount),
            ],
            [_("Fees charged"), "", _money(totals.fee)],
            [_("Net"), "", _money(totals.net)],
            [_("Declined"), str(totals.declined_count), ""],
        ],
        widths=[available - 70 * mm, 30 * mm, 40 * mm],
        numeric={1, 2},
    )


def _attention(statement: Statement) -> list[str]:
    notes = []
    if statement.fee_mismatch_count:
        notes.append(
            _(
                "Transactions this month whose fee differs from the acquirer's: %(count)d. "
                "Contact support if you want them explained."
            )
            % {"count": statement.fee_mismatch_count}
        )
    if statement.late_payouts:
        notes.append(
            _(
                "Payouts that have not arrived on time: %(count)d, marked “Late” in the payouts "
                "table. Each payout's page in the portal says why and what to do next."
            )
            % {"count": statement.late_payout_count}
        )
    return notes


def _page_header(statement: Statement, title: str):
    def draw(canv, doc) -> None:
        width, height = PAGE_SIZE
        baseline = height - MARGIN_TOP + 8 * mm
        canv.saveState()
        canv.setFillColor(MUTED_COLOR)
        canv.setFont(FONT_NAME, 8.5)
        canv.drawString(MARGIN_X, baseline, f"{title} · {_period(statement)}")
        canv.drawRightString(
            width - MARGIN_X, baseline, f"{statement.merchant_name} · {statement.mid}"
        )
        canv.setStrokeColor(RULE_COLOR)
        canv.setLineWidth(0.5)
        canv.line(MARGIN_X, baseline - 2.5 * mm, width - MARGIN_X, baseline - 2.5 * mm)
        canv.restoreState()

    return draw


def statement_pdf(statement: Statement) -> bytes:
    """The statement as an A4 PDF with the CJK font embedded, in the active language."""
    register_font()
    styles = pdf_styles()
    # A heading never ends a page alone: it moves with the first lines of what it heads.
    heading_style = ParagraphStyle("statement-heading", parent=styles["heading"], keepWithNext=1)
    title = _("Monthly statement")

    def heading(text: str) -> Paragraph:
        return FauxBoldParagraph(paragraph_text(text), heading_style)

    def paragraph(text: str) -> Paragraph:
        return Paragraph(paragraph_text(text), styles["body"])

    no_transactions = _("No transactions this month.")
    story: list = [
        FauxBoldParagraph(paragraph_text(title), styles["title"]),
        Paragraph(paragraph_text(_period(statement)), styles["subtitle"]),
        key_value_table(_header_rows(statement), label_width=50 * mm),
        Spacer(1, 5 * mm),
    ]
    notes = _attention(statement)
    if notes:
        story += [heading(_("Needs attention")), *(paragraph(note) for note in notes)]
    story += [
        heading(_("Totals")),
        _totals_table(statement),
        heading(_("By channel")),
        _figure_table(_("Channel"), statement.channels, lambda line: line.label, statement.totals)
        if statement.channels
        else paragraph(no_transactions),
        heading(_("By day")),
        _figure_table(
            _("Date"), statement.days, lambda line: line.day.isoformat(), statement.totals
        )
        if statement.days
        else paragraph(no_transactions),
        heading(_("Payouts settled this month")),
        _payout_table(statement) if statement.payouts else paragraph(_("No payouts this month.")),
    ]
    page_label = _("Page %(page)s of %(pages)s") % {"page": "{page}", "pages": "{pages}"}
    return build_pdf(
        story,
        title=f"{title} {statement.mid} {statement.month:%Y-%m}",
        subject=f"{statement.merchant_name} {_period(statement)}",
        page_label=page_footer(_generated(statement), page_label),
        on_page=_page_header(statement, title),
        lang=translation.get_language() or settings.LANGUAGE_CODE,
    )
