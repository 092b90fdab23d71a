"""Acquiring-contract PDFs: the contract itself and, once signed, its signature page and
certificate. Fonts, styles and the page machinery are the shared ones in ``core.pdf``.

The bytes are deterministic for the same input: the SHA-256 of the exact contract PDF is recorded
when a merchant signs, so re-rendering the same contract must give the same hash.
"""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO

from pypdf import PageObject, PdfReader, PdfWriter
from pypdf.generic import DictionaryObject, NameObject, TextStringObject
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from core.pdf import (
    FONT_NAME,
    MARGIN_TOP,
    MARGIN_X,
    MUTED_COLOR,
    PAGE_SIZE,
    PDF_CREATOR,
    PDF_PRODUCER,
    RULE_COLOR,
    FauxBoldParagraph,
    build_pdf,
    key_value_table,
    page_footer,
    paragraph_text,
    pdf_styles,
)

SIGNATURE_MAX_WIDTH = 80 * mm
SIGNATURE_MAX_HEIGHT = 35 * mm

_CN_DIGITS = "零一二三四五六七八九"


def _chinese_ordinal(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十, 99 → 九十九 (contract article numbers)."""
    if not 0 < n < 100:
        return str(n)
    tens, units = divmod(n, 10)
    text = (("" if tens == 1 else _CN_DIGITS[tens]) + "十") if tens else ""
    return text + (_CN_DIGITS[units] if units else "")


def _contract_header(title: str, number: str) -> Callable[[Canvas, SimpleDocTemplate], None]:
    def draw(canv: Canvas, doc: SimpleDocTemplate) -> None:
        width, height = PAGE_SIZE
        baseline = height - MARGIN_TOP + 8 * mm
        canv.saveState()
        canv.setFillColor(MUTED_COLOR)
        canv.setFont(FONT_NAME, 8.5)
        canv.drawString(MARGIN_X, baseline, title)
        canv.drawRightString(width - MARGIN_X, baseline, f"合同编号：{number}")
        canv.setStrokeColor(RULE_COLOR)
        canv.setLineWidth(0.5)
        canv.line(MARGIN_X, baseline - 2.5 * mm, width - MARGIN_X, baseline - 2.5 * mm)
        canv.restoreState()

    return draw


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def render_contract(
    *,
    title: str,
    number: str,
    sections: list[tuple[str, list[str]]],
    fields: list[tuple[str, str]],
    footer: str,
) -> bytes:
    """Render the contract as an A4 PDF; the same arguments always give the same bytes.

    `fields` are the key facts shown in a table under the title (merchant name, MID, masked
    settlement account, fee rates …); `sections` are (heading, paragraphs) and are numbered
    第一条, 第二条 … with paragraphs 1.1, 1.2 ….
    """
    styles = pdf_styles()
    story: list = [
        FauxBoldParagraph(paragraph_text(title), styles["title"]),
        Paragraph(paragraph_text(f"合同编号：{number}"), styles["subtitle"]),
    ]
    if fields:
        story += [key_value_table(fields, label_width=38 * mm), Spacer(1, 6 * mm)]
    for section_number, (heading, paragraphs) in enumerate(sections, start=1):
        ordinal = _chinese_ordinal(section_number)
        heading_flowable = FauxBoldParagraph(
            paragraph_text(f"第{ordinal}条\u3000{heading}"), styles["heading"]
        )
        body = [
            Paragraph(f"{section_number}.{index}\u3000{paragraph_text(text)}", styles["body"])
            for index, text in enumerate(paragraphs, start=1)
        ]
        # A heading never ends a page alone.
        story.append(KeepTogether([heading_flowable, *body[:1]]))
        story += body[1:]
    return build_pdf(
        story,
        title=title,
        subject=f"合同编号：{number}",
        page_label=page_footer(footer, "第 {page} 页 / 共 {pages} 页"),
        on_page=_contract_header(title, number),
    )


def render_signed(
    *,
    original_pdf: bytes,
    signature_png: bytes,
    signer_name: str,
    signed_at_text: str,
    audit: list[tuple[str, str]],
    certificate_title: str,
) -> bytes:
    """Return a new PDF: every page of `original_pdf` unchanged, then a signature page and an
    audit-trail certificate page (continued on further pages only if `audit` is very long).
    The same arguments always give the same bytes.

    The original pages are copied, not re-rendered, so their content streams stay exactly what
    the signer was shown (and what the recorded SHA-256 was computed over).
    """
    original = PdfReader(BytesIO(original_pdf))
    contract_title = str((original.metadata or {}).get("/Title") or "")
    annex = _render_annex(
        contract_title=contract_title,
        signature_png=signature_png,
        signer_name=signer_name,
        signed_at_text=signed_at_text,
        audit=audit,
        certificate_title=certificate_title,
    )
    annex_reader = PdfReader(BytesIO(annex))
    _retag_font_subsets(annex_reader, taken=_font_subset_tags(original))

    writer = PdfWriter()
    writer.append(original)
    writer.append(annex_reader)
    writer.add_metadata(
        {
            "/Title": contract_title or certificate_title,
            "/Subject": certificate_title,
            "/Creator": PDF_CREATOR,
            "/Producer": PDF_PRODUCER,
        }
    )
    writer.root_object[NameObject("/Lang")] = TextStringObject("zh-CN")
    buffer = BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# Signature annex
# ---------------------------------------------------------------------------------------------


def _signature_image(signature_png: bytes) -> Image:
    if not signature_png.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError("signature_png is not a PNG image")
    try:
        pixel_width, pixel_height = ImageReader(BytesIO(signature_png)).getSize()
    except OSError as error:
        raise ValueError("signature_png is not a readable PNG image") from error
    if pixel_width <= 0 or pixel_height <= 0:
        raise ValueError("signature_png has no pixels")
    scale = min(SIGNATURE_MAX_WIDTH / pixel_width, SIGNATURE_MAX_HEIGHT / pixel_height)
    # mask="auto" keeps the PNG's alpha channel as a soft mask, so strokes sit on the page.
    return Image(
        BytesIO(signature_png),
        width=pixel_width * scale,
        height=pixel_height * scale,
        mask="auto",
        hAlign="LEFT",
    )


def _render_annex(
    *,
    contract_title: str,
    signature_png: bytes,
    signer_name: str,
    signed_at_text: str,
    audit: list[tuple[str, str]],
    certificate_title: str,
) -> bytes:
    styles = pdf_styles()
    signature_box = Table(
        [[_signature_image(signature_png)]],
        colWidths=[SIGNATURE_MAX_WIDTH + 12 * mm],
        rowHeights=[SIGNATURE_MAX_HEIGHT + 10 * mm],
        hAlign="LEFT",
    )
    signature_box.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT_NAME, 10),
                ("BOX", (0, 0), (-1, -1), 0.5, RULE_COLOR),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 6 * mm),
            ]
        )
    )
    story: list = [
        FauxBoldParagraph("签署页", styles["title"]),
        Paragraph(
            paragraph_text(
                f"本页为《{contract_title}》的签署页" if contract_title else "本页为合同签署页"
            ),
            styles["subtitle"],
        ),
        Paragraph("签约方已阅读并同意本协议全部条款，并以电子签名方式签署如下：", styles["body"]),
        Spacer(1, 4 * mm),
        Paragraph("签名：", styles["cell-label"]),
        Spacer(1, 2 * mm),
        signature_box,
        Spacer(1, 6 * mm),
        Paragraph(paragraph_text(f"签约方：{signer_name}"), styles["body"]),
        Paragraph(paragraph_text(f"签署时间：{signed_at_text}"), styles["body"]),
        PageBreak(),
        FauxBoldParagraph(paragraph_text(certificate_title), styles["title"]),
        Spacer(1, 4 * mm),
        key_value_table(audit, label_width=34 * mm),
    ]
    return build_pdf(
        story,
        title=certificate_title,
        subject=certificate_title,
        page_label=page_footer(certificate_title, "附页 第 {page} 页 / 共 {pages} 页"),
    )


def _subset_tag(font: DictionaryObject) -> str | None:
    """ "ABCDEF" for a font named /ABCDEF+NotoSansSC-Regular, None for an unsubsetted font."""
    base_font = str(font.get("/BaseFont", ""))
    return base_font[1:7] if len(base_font) > 8 and base_font[7] == "+" else None


def _font_subset_tags(reader: PdfReader) -> set[str]:
    return {
        tag for page in reader.pages for font in _page_fonts(page) if (tag := _subset_tag(font))
    }


def _retag_font_subsets(reader: PdfReader, *, taken: set[str]) -> None:
    """Give the annex's font subsets tags the original does not use.

    ReportLab tags every document's subsets AAAAAA+, AAAAAB+ …; after concatenation two
    different subsets would share a name, which the PDF spec forbids and which lets some
    viewers and print RIPs reuse the wrong glyphs. The rename is deterministic.
    """
    renames: dict[str, str] = {}
    for page in reader.pages:
        for font in _page_fonts(page):
            tag = _subset_tag(font)
            if tag is None or tag in renames.values():
                continue  # not a subset, or a font shared by several pages and already renamed
            if tag not in renames:
                renames[tag] = _free_tag(tag, taken | set(renames.values()))
            new_name = NameObject(f"/{renames[tag]}{str(font['/BaseFont'])[7:]}")
            font[NameObject("/BaseFont")] = new_name
            descriptor = font.get("/FontDescriptor")
            if descriptor is not None:
                descriptor.get_object()[NameObject("/FontName")] = new_name


def _free_tag(tag: str, taken: set[str]) -> str:
    for first in "ZYXWVUTSRQPONM":
        candidate = first + tag[1:]
        if candidate not in taken:
            return candidate
    raise ValueError(f"no free font subset tag for {tag}")


def _page_fonts(page: PageObject) -> list[DictionaryObject]:
    resources = page.get("/Resources")
    if resources is None:
        return []
    fonts = resources.get_object().get("/Font")
    if fonts is None:
        return []
    return [font.get_object() for font in fonts.get_object().values()]
