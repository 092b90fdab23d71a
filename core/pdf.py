"""PDF building blocks in Simplified Chinese, with the font embedded: the contract and the
monthly statement are both drawn with these.

ReportLab's built-in CID fonts (STSong-Light) are only referenced, never embedded, so a reader
without Chinese fonts shows boxes or substitutes glyphs. Every PDF made here embeds subsets of
the bundled Noto Sans SC TrueType file instead (see core/fonts/README.md).

The bytes are deterministic for the same input (``build_pdf`` fixes dates and ids): the SHA-256
of the exact contract PDF is recorded when a merchant signs, so re-rendering the same contract
must give the same hash.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from xml.sax.saxutils import escape

from pypdf import PdfReader
from reportlab.lib import colors
from reportlab.lib import textsplit as rl_textsplit
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import SUBSETN, TTFont, makeToUnicodeCMap
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle
from reportlab.platypus import paragraph as rl_paragraph

FONT_NAME = "NotoSansSC"
FONT_PATH = Path(__file__).resolve().parent / "fonts" / "NotoSansSC-Subset.ttf"

PAGE_SIZE = A4
MARGIN_X = 20 * mm
MARGIN_TOP = 25 * mm
MARGIN_BOTTOM = 22 * mm
TEXT_COLOR = colors.HexColor("#1f2328")
MUTED_COLOR = colors.HexColor("#59636e")
RULE_COLOR = colors.HexColor("#d0d7de")
LABEL_BACKGROUND = colors.HexColor("#f3f5f7")


# Metadata strings are fixed so that nothing environment-specific reaches the bytes.
PDF_CREATOR = "POS merchant portal"
PDF_PRODUCER = "POS merchant portal (ReportLab, pypdf)"

_registration_lock = threading.Lock()

# ReportLab's CJK wrapping keeps these off the start of a line (they hang in the margin instead),
# but its list is the Japanese one and lacks the full-width Chinese punctuation used in contracts.
_CHINESE_CANNOT_START_LINE = "，。、；：！？）］｝》〉」』】〕〗”’…％"


class FontMissingError(RuntimeError):
    pass


class _EmbeddedTTFont(TTFont):
    """TTFont whose ToUnicode maps are valid for hanzi outside the BMP.

    ReportLab 4/5 writes a code point such as U+2B5AE (𫖮, a 通用规范汉字表 name character) into the
    ToUnicode CMap as five hex digits; the PDF spec requires UTF-16BE there, so readers and pypdf
    could not copy or extract that character. Drawing is unaffected; only the map is rewritten.
    """

    def addObjects(self, doc) -> None:
        state = self.state.get(doc)
        subsets = [list(subset) for subset in state.subsets] if state else []
        super().addObjects(doc)
        for index, subset in enumerate(subsets):
            if max(subset, default=0) <= 0xFFFF:
                continue
            base_font_name = b"".join(
                (SUBSETN(index), b"+", self.face.name, self.face.subfontNameX)
            ).decode("pdfdoc")
            content = makeToUnicodeCMap(base_font_name, subset)
            for code, codepoint in enumerate(subset):
                if codepoint > 0xFFFF:
                    utf16 = chr(codepoint).encode("utf-16-be").hex().upper()
                    content = content.replace(
                        f"<{code:02X}> <{codepoint:X}>", f"<{code:02X}> <{utf16}>"
                    )
            doc.idToObject["toUnicodeCMap:" + base_font_name].content = content


def register_font() -> str:
    """Register the bundled font with ReportLab once per process and return its name.

    There is deliberately no fallback: a contract rendered in another font would not be the
    document the merchant saw, and a non-embedded font would render differently elsewhere.
    """
    if FONT_NAME in pdfmetrics.getRegisteredFontNames():
        return FONT_NAME
    with _registration_lock:
        if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
            if not FONT_PATH.is_file():
                raise FontMissingError(
                    f"PDF font {FONT_PATH} is missing; rebuild it with "
                    "`python scripts/build_cjk_font.py` (see core/fonts/README.md)."
                )
            # Both wrapping paths (single- and multi-fragment paragraphs) read their own copy.
            for module in (rl_textsplit, rl_paragraph):
                module.ALL_CANNOT_START += "".join(
                    c for c in _CHINESE_CANNOT_START_LINE if c not in module.ALL_CANNOT_START
                )
            # TTFont embeds only the glyphs a document uses (subsetting is ReportLab's default).
            pdfmetrics.registerFont(_EmbeddedTTFont(FONT_NAME, str(FONT_PATH)))
            # Bold markup maps to the same face; headings use FauxBoldParagraph instead.
            pdfmetrics.registerFontFamily(
                FONT_NAME, normal=FONT_NAME, bold=FONT_NAME, italic=FONT_NAME, boldItalic=FONT_NAME
            )
    return FONT_NAME


# ---------------------------------------------------------------------------------------------
# Styles and flowables
# ---------------------------------------------------------------------------------------------


@functools.cache
def pdf_styles() -> dict[str, ParagraphStyle]:
    font = register_font()
    body = ParagraphStyle(
        "contract-body",
        fontName=font,
        fontSize=10.5,
        leading=17,
        textColor=TEXT_COLOR,
        alignment=TA_JUSTIFY,
        # CJK wrapping may break between any two hanzi; Latin words wrap as usual.
        wordWrap="CJK",
        spaceAfter=4,
    )
    return {
        "body": body,
        "title": ParagraphStyle(
            "contract-title",
            parent=body,
            fontSize=18,
            leading=26,
            alignment=TA_CENTER,
            spaceAfter=4,
        ),
        "subtitle": ParagraphStyle(
            "contract-subtitle",
            parent=body,
            fontSize=10,
            leading=14,
            textColor=MUTED_COLOR,
            alignment=TA_CENTER,
            spaceAfter=14,
        ),
        "heading": ParagraphStyle(
            "contract-heading",
            parent=body,
            fontSize=12,
            leading=18,
            spaceBefore=10,
            spaceAfter=6,
        ),
        "cell": ParagraphStyle("contract-cell", parent=body, fontSize=10, leading=15, spaceAfter=0),
        "cell-label": ParagraphStyle(
            "contract-cell-label",
            parent=body,
            fontSize=10,
            leading=15,
            spaceAfter=0,
            textColor=MUTED_COLOR,
        ),
    }


class FauxBoldParagraph(Paragraph):
    """Paragraph drawn with fill+stroke text, a synthetic bold.

    A real bold face would double the bundled font's size (~2.9 MB each); stroking the outline
    with a hairline is how PDF producers customarily embolden a single face.
    """

    def draw(self) -> None:
        canv = self.canv
        canv.saveState()
        canv.setStrokeColor(self.style.textColor)
        canv.setLineWidth(self.style.fontSize * 0.04)
        canv.setLineJoin(1)
        canv.addLiteral("2 Tr")
        super().draw()
        canv.restoreState()


def paragraph_text(value: str) -> str:
    """Escape caller text for Paragraph markup and keep its line breaks."""
    return escape(value).replace("\n", "<br/>")


def key_value_table(rows: list[tuple[str, str]], *, label_width: float) -> Table:
    styles = pdf_styles()
    data = [
        [
            Paragraph(paragraph_text(label), styles["cell-label"]),
            Paragraph(paragraph_text(value), styles["cell"]),
        ]
        for label, value in rows
    ]
    available = PAGE_SIZE[0] - 2 * MARGIN_X
    table = Table(data, colWidths=[label_width, available - label_width], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                # Tables set a cell font even around Paragraphs; the default would be Helvetica.
                ("FONT", (0, 0), (-1, -1), FONT_NAME, 10),
                ("BACKGROUND", (0, 0), (0, -1), LABEL_BACKGROUND),
                ("GRID", (0, 0), (-1, -1), 0.5, RULE_COLOR),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 6),
                ("RIGHTPADDING", (0, 0), (-1, -1), 6),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
            ]
        )
    )
    return table


# ---------------------------------------------------------------------------------------------
# Page furniture
# ---------------------------------------------------------------------------------------------


class _PagedCanvas(Canvas):
    """Canvas that holds pages back until the end so each can show "of y pages".

    The label is drawn by `page_label(canvas, page_number, page_count)`.
    """

    def __init__(self, *args, page_label: Callable[[Canvas, int, int], None], **kwargs):
        super().__init__(*args, **kwargs)
        self._page_label = page_label
        self._held_pages: list[dict] = []

    def showPage(self) -> None:
        self._held_pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        page_count = len(self._held_pages)
        for page_number, state in enumerate(self._held_pages, start=1):
            self.__dict__.update(state)
            self._page_label(self, page_number, page_count)
            super().showPage()
        super().save()


def _draw_footer_rule(canv: Canvas) -> None:
    width, _ = PAGE_SIZE
    canv.setStrokeColor(RULE_COLOR)
    canv.setLineWidth(0.5)
    canv.line(MARGIN_X, MARGIN_BOTTOM - 6 * mm, width - MARGIN_X, MARGIN_BOTTOM - 6 * mm)


def page_footer(left_text: str, page_label: str) -> Callable[[Canvas, int, int], None]:
    """Footer with `left_text` and `page_label` formatted with {page} and {pages}."""

    def draw(canv: Canvas, page_number: int, page_count: int) -> None:
        width, _ = PAGE_SIZE
        canv.saveState()
        _draw_footer_rule(canv)
        canv.setFillColor(MUTED_COLOR)
        canv.setFont(FONT_NAME, 8.5)
        baseline = MARGIN_BOTTOM - 11 * mm
        if left_text:
            canv.drawString(MARGIN_X, baseline, left_text)
        label = page_label.format(page=page_number, pages=page_count)
        canv.drawRightString(width - MARGIN_X, baseline, label)
        canv.restoreState()

    return draw


def build_pdf(
    flowables: list,
    *,
    title: str,
    subject: str,
    page_label: Callable[[Canvas, int, int], None],
    on_page: Callable[[Canvas, SimpleDocTemplate], None] | None = None,
    lang: str = "zh-CN",
) -> bytes:
    font = register_font()
    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=PAGE_SIZE,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM,
        title=title,
        subject=subject,
        author=PDF_CREATOR,
        creator=PDF_CREATOR,
        producer=PDF_PRODUCER,
        lang=lang,
        # invariant fixes the creation date and the document /ID, so equal input → equal bytes.
        invariant=1,
        pageCompression=1,
        # Without this ReportLab names Helvetica (not embedded) in every page's preamble.
        initialFontName=font,
    )
    callback = on_page or (lambda canv, doc: None)
    doc.build(
        flowables,
        onFirstPage=callback,
        onLaterPages=callback,
        canvasmaker=functools.partial(_PagedCanvas, page_label=page_label),
    )
    return buffer.getvalue()


def pdf_text(pdf: bytes) -> str:
    """All text of the PDF, page by page, as pypdf extracts it (for tests and checks)."""
    reader = PdfReader(BytesIO(pdf))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def unprintable_characters(text: str) -> str:
    """The characters of ``text`` the contract font cannot draw (they would vanish from the
    PDF), in order of appearance, each once. Whitespace never counts."""
    face = pdfmetrics.getFont(register_font()).face
    missing = []
    for char in text:
        if char.isspace() or ord(char) in face.charToGlyph or char in missing:
            continue
        missing.append(char)
    return "".join(missing)
