import pytest
from fontTools.ttLib import TTFont

from core import pdf


def test_missing_font_file_raises_a_clear_error(monkeypatch, tmp_path):
    missing = tmp_path / "absent.ttf"
    monkeypatch.setattr(pdf, "FONT_NAME", "PdfFontMissingTest")
    monkeypatch.setattr(pdf, "FONT_PATH", missing)

    with pytest.raises(pdf.FontMissingError, match=r"absent\.ttf"):
        pdf.register_font()


def test_bundled_font_is_truetype_and_covers_every_gb2312_hanzi():
    font = TTFont(pdf.FONT_PATH)
    cmap = font.getBestCmap()
    hanzi = set()
    for high in range(0xB0, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                hanzi.add(ord(bytes((high, low)).decode("gb2312")))
            except UnicodeDecodeError:
                continue

    assert "glyf" in font
    assert "CFF " not in font
    assert len(hanzi) == 6763
    assert hanzi <= set(cmap)
    assert {ord(c) for c in "¥，。：；！？（）《》“”、"} <= set(cmap)
