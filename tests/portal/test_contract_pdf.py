import hashlib
from io import BytesIO

import pytest
from PIL import Image, ImageDraw
from pypdf import PdfReader

from core.pdf import pdf_text
from portal.contract_pdf import render_contract, render_signed

STANDARD_14 = {
    "Courier",
    "Courier-Bold",
    "Courier-BoldOblique",
    "Courier-Oblique",
    "Helvetica",
    "Helvetica-Bold",
    "Helvetica-BoldOblique",
    "Helvetica-Oblique",
    "Symbol",
    "Times-Bold",
    "Times-BoldItalic",
    "Times-Italic",
    "Times-Roman",
    "ZapfDingbats",
}

CONTRACT = {
    "title": "商户收单服务协议",
    "number": "HT-2025-000123",
    "fields": [
        ("商户名称", "上海示例餐饮管理有限公司（静安分店）"),
        ("商户编号（MID）", "898310058120001"),
        ("结算账户", "招商银行 6225 **** **** 1234"),
        ("借记卡费率", "0.50%，单笔封顶 ¥20.00"),
        ("贷记卡费率", "0.60%"),
    ],
    "sections": [
        (
            "定义与解释",
            [
                "本协议所称“收单服务”，是指乙方为甲方提供的银行卡及条码支付交易资金结算服务。",
                "“T+1 结算”指交易日次一工作日将结算资金划入甲方指定结算账户。",
            ],
        ),
        (
            "商户义务",
            [
                "甲方应遵守《银行卡收单业务管理办法》，不得利用受理终端从事套现、洗钱等违法活动；"
                "发现异常交易应立即（24 小时内）通知乙方。"
            ]
            * 30,
        ),
        ("争议解决", ["因本协议引起的争议，双方应友好协商解决！"]),
    ],
    "footer": "上海示例支付服务有限公司 · 商户收单服务协议（2025 版）",
}


def signature_png() -> bytes:
    image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(20, 150), (150, 40), (300, 160), (560, 60)], fill="navy", width=8)
    buffer = BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def contract() -> bytes:
    return render_contract(**CONTRACT)


def sign(original: bytes, **overrides) -> bytes:
    arguments = {
        "original_pdf": original,
        "signature_png": signature_png(),
        "signer_name": "张三",
        "signed_at_text": "2025-03-01 14:23:05 +08:00（北京时间）",
        "audit": [
            ("合同编号", "HT-2025-000123"),
            ("原文件 SHA-256", hashlib.sha256(original).hexdigest()),
            ("签约方", "张三（法定代表人）"),
            ("签署时间", "2025-03-01 14:23:05 +08:00"),
            ("IP 地址", "203.0.113.24"),
            ("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)"),
            ("验证码渠道", "短信 138****8000"),
            ("同意声明", "本人已阅读并同意《商户收单服务协议》全部条款。"),
        ],
        "certificate_title": "电子签署证书",
    }
    return render_signed(**(arguments | overrides))


@pytest.fixture(scope="module")
def signed(contract) -> bytes:
    return sign(contract)


def pages(pdf: bytes):
    return PdfReader(BytesIO(pdf)).pages


def font_dicts(pdf: bytes) -> list:
    fonts = []
    for page in pages(pdf):
        for reference in page["/Resources"]["/Font"].values():
            font = reference.get_object()
            fonts.append(font)
            fonts += [d.get_object() for d in font.get("/DescendantFonts", [])]
    return fonts


def test_contract_text_survives_extraction(contract):
    text = pdf_text(contract)

    assert "商户收单服务协议" in text
    assert "上海示例餐饮管理有限公司（静安分店）" in text
    assert "0.50%，单笔封顶 ¥20.00" in text
    assert "《银行卡收单业务管理办法》" in text
    assert "协商解决！" in text


def test_contract_numbers_sections_and_pages(contract):
    text = pdf_text(contract)
    page_count = len(pages(contract))

    assert page_count > 1
    assert "第一条" in text
    assert "第三条" in text
    assert "2.30" in text
    assert f"第 1 页 / 共 {page_count} 页" in text
    assert f"第 {page_count} 页 / 共 {page_count} 页" in text


def test_contract_header_repeats_the_number_on_every_page(contract):
    for page in pages(contract):
        assert "合同编号：HT-2025-000123" in page.extract_text()


def test_contract_embeds_every_font_and_uses_no_standard_or_cid_font(contract):
    fonts = font_dicts(contract)

    assert fonts
    for font in fonts:
        base_font = str(font["/BaseFont"])
        assert base_font.split("+")[-1] not in STANDARD_14
        assert "STSong" not in base_font
        if font["/Subtype"] != "/Type0":
            assert "/FontFile2" in font["/FontDescriptor"].get_object(), base_font


def test_same_contract_input_gives_byte_identical_pdf(contract):
    assert render_contract(**CONTRACT) == contract


def test_different_contract_input_gives_different_pdf(contract):
    other = CONTRACT | {"number": "HT-2025-000124"}

    assert render_contract(**other) != contract


def test_markup_characters_in_input_are_printed_literally():
    pdf = render_contract(
        title="协议 <b>A&B</b>",
        number="N-1",
        sections=[("条款 <i>", ["甲方 & 乙方 <约定> 如下"])],
        fields=[("商户名称", "A&B <商贸> 有限公司")],
        footer="页脚 & <footer>",
    )

    text = pdf_text(pdf)
    assert "协议 <b>A&B</b>" in text
    assert "A&B <商贸> 有限公司" in text
    assert "甲方 & 乙方 <约定> 如下" in text


def test_name_characters_beyond_gb2312_and_the_bmp_are_drawn_and_extractable():
    # 堃/喆 are 通用规范汉字表 name characters outside GB 2312; 𫖮 (U+2B5AE) lies outside the BMP.
    pdf = render_contract(
        title="协议",
        number="N-2",
        sections=[],
        fields=[("法定代表人", "陶喆 王堃 刘𫖮")],
        footer="",
    )

    assert "陶喆 王堃 刘𫖮" in pdf_text(pdf)


def test_signed_pdf_has_the_original_pages_plus_signature_and_certificate(contract, signed):
    assert len(pages(signed)) == len(pages(contract)) + 2


def test_signed_pdf_copies_the_original_pages_unchanged(contract, signed):
    originals = pages(contract)
    copies = pages(signed)[: len(originals)]

    for original, copy in zip(originals, copies, strict=True):
        assert copy.get_contents().get_data() == original.get_contents().get_data()


def test_signed_pdf_shows_signer_time_and_audit_trail(contract, signed):
    text = pdf_text(signed)

    assert "签约方：张三" in text
    assert "签署时间：2025-03-01 14:23:05 +08:00（北京时间）" in text
    assert "电子签署证书" in text
    assert hashlib.sha256(contract).hexdigest() in text
    assert "短信 138****8000" in text


def test_signature_page_carries_the_signature_as_an_image_with_its_transparency(contract, signed):
    signature_page = pages(signed)[len(pages(contract))]

    images = [
        xobject.get_object()
        for xobject in signature_page["/Resources"]["/XObject"].values()
        if xobject.get_object()["/Subtype"] == "/Image"
    ]
    assert len(images) == 1
    assert "/SMask" in images[0]


def test_signed_pdf_embeds_every_font_under_distinct_subset_names(signed):
    fonts = {font.indirect_reference.idnum: font for font in font_dicts(signed)}
    names = [str(font["/BaseFont"]) for font in fonts.values()]

    assert len(names) == len(set(names))
    for font in fonts.values():
        assert "/FontFile2" in font["/FontDescriptor"].get_object()


def test_same_signing_input_gives_byte_identical_pdf(contract, signed):
    assert sign(contract) == signed


def test_signing_refuses_a_signature_that_is_not_a_png(contract):
    with pytest.raises(ValueError, match="PNG"):
        sign(contract, signature_png=b"GIF89a not a png")
