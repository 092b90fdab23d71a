"""Rebuild core/fonts/NotoSansSC-Subset.ttf from the pinned upstream Noto Sans SC TrueType.

Usage (from the repository root, with the project venv):

    .venv/bin/python scripts/build_cjk_font.py                 # fetches the font with `npm pack`
    .venv/bin/python scripts/build_cjk_font.py --source X.ttf  # uses an already extracted file

The source must be NotoSansSC_400Regular.ttf from the npm package
@expo-google-fonts/noto-sans-sc@0.4.3 (Google Fonts "Noto Sans SC" v40, font version 2.004,
TrueType/glyf outlines, SIL OFL 1.1). Its SHA-256 is checked so a changed upstream file is
noticed instead of silently producing a different font. The output is reproducible: the
`head.modified` timestamp is kept from the source rather than set to the build time.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

REPO_ROOT = Path(__file__).resolve().parent.parent
FONTS_DIR = REPO_ROOT / "core" / "fonts"
OUTPUT = FONTS_DIR / "NotoSansSC-Subset.ttf"
EXTRA_HANZI_FILE = FONTS_DIR / "tonggui-not-in-gb2312.txt"

NPM_PACKAGE = "@expo-google-fonts/noto-sans-sc@0.4.3"
MEMBER = "package/400Regular/NotoSansSC_400Regular.ttf"
SOURCE_SHA256 = "d45f67f0a7c0ca3f256950777ce6a61cc7ce5f9696d02900cbbaac25f8aa7d16"

RANGES = (
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1 supplement: ¥ · × ÷ …
    (0x2000, 0x206F),  # General punctuation: — ‘ ’ “ ” … ‰ ※
    (0x20AC, 0x20AC),  # €
    (0x3000, 0x303F),  # CJK symbols and punctuation: 、。〈〉《》「」【】〔〕
    (0xFF00, 0xFFEF),  # Full-width forms: ，：；（）！？￥
)


def gb2312_characters(first_rows: range) -> set[str]:
    chars = set()
    for high in first_rows:
        for low in range(0xA1, 0xFF):
            try:
                chars.add(bytes((high, low)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return chars


def wanted_hanzi() -> set[int]:
    hanzi = gb2312_characters(range(0xB0, 0xF8))
    if len(hanzi) != 6763:
        raise SystemExit(f"expected 6,763 GB 2312 hanzi, decoded {len(hanzi)}")
    extras = EXTRA_HANZI_FILE.read_text(encoding="utf-8").strip()
    return {ord(c) for c in hanzi} | {ord(c) for c in extras}


def wanted_symbols() -> set[int]:
    codepoints = {cp for start, end in RANGES for cp in range(start, end + 1)}
    # Rows 0xA1-0xA9 are GB 2312's symbols: ①, Ⅰ, №, ℃, arrows, pinyin tone letters.
    return codepoints | {ord(c) for c in gb2312_characters(range(0xA1, 0xAA))}


def fetch_source(workdir: Path) -> Path:
    # npm verifies the tarball against the registry's integrity hash while packing.
    subprocess.run(  # noqa: S603
        ["npm", "pack", "--loglevel=error", NPM_PACKAGE, "--pack-destination", str(workdir)],  # noqa: S607
        check=True,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
    )
    (tarball,) = workdir.glob("*.tgz")
    with tarfile.open(tarball) as archive:
        member = archive.getmember(MEMBER)
        archive.extractall(workdir, members=[member], filter="data")
    return workdir / MEMBER


def build(source: Path, output: Path) -> None:
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    if digest != SOURCE_SHA256:
        raise SystemExit(f"{source}: SHA-256 {digest} is not the pinned {SOURCE_SHA256}")
    font = TTFont(source, recalcTimestamp=False)
    if "glyf" not in font:
        raise SystemExit("source has no glyf table; ReportLab needs TrueType outlines")
    hanzi = wanted_hanzi()
    missing = sorted(hanzi - set(font.getBestCmap()))
    if missing:
        raise SystemExit(f"source lacks {len(missing)} hanzi, e.g. U+{missing[0]:04X}")
    subsetter = subset.Subsetter(subset.Options())
    # Unassigned code points in the ranges (U+FF00, …) are skipped by the subsetter.
    subsetter.populate(unicodes=hanzi | wanted_symbols())
    subsetter.subset(font)
    output.parent.mkdir(parents=True, exist_ok=True)
    font.save(output)
    size = output.stat().st_size
    print(
        f"{output}: {size:,} bytes, {len(font.getGlyphOrder()):,} glyphs, "
        f"{len(font.getBestCmap()):,} code points, "
        f"sha256 {hashlib.sha256(output.read_bytes()).hexdigest()}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help=f"{MEMBER} from {NPM_PACKAGE}")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if args.source:
        build(args.source, args.output)
        return
    with tempfile.TemporaryDirectory() as tmp:
        build(fetch_source(Path(tmp)), args.output)


if __name__ == "__main__":
    main(sys.argv[1:])
