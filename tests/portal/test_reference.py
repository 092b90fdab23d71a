import csv
from collections import Counter
from decimal import Decimal

import pytest
from django.utils import translation

from portal.reference import (
    CARD_TYPES,
    DATA_DIR,
    Bank,
    bank_get,
    card_lookup,
    city_choices,
    district_choices,
    mcc_choices,
    mcc_get,
    province_choices,
    region_names,
    region_valid,
)


def data_rows(name: str) -> list[dict[str, str]]:
    with open(DATA_DIR / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def padded(prefix: str, length: int) -> str:
    return prefix.ljust(length, "0")


# ---------------------------------------------------------------------------------------------
# Banks
# ---------------------------------------------------------------------------------------------


def test_bank_get_returns_the_bank_with_both_names():
    assert bank_get("ICBC") == Bank(
        code="ICBC", name_zh="中国工商银行", name_en="Industrial and Commercial Bank of China"
    )


@pytest.mark.parametrize("code", ["", "icbc", "NOPE"])
def test_bank_get_returns_none_for_an_unknown_code(code):
    assert bank_get(code) is None


@pytest.mark.parametrize(
    ("language", "name"),
    [("zh-hans", "中国农业银行"), ("en", "Agricultural Bank of China")],
)
def test_bank_name_follows_the_active_language(language, name):
    with translation.override(language):
        assert bank_get("ABC").name == name


def test_every_bank_code_in_the_bin_table_has_both_names():
    codes = {row["bank_code"] for row in data_rows("card_bins.csv")}
    assert all(bank_get(code) and bank_get(code).name_en for code in codes)
    assert {row["bank_code"] for row in data_rows("banks.csv")} == codes


# ---------------------------------------------------------------------------------------------
# Card BINs
# ---------------------------------------------------------------------------------------------


def test_card_lookup_finds_the_issuer_and_type():
    info = card_lookup(padded("622202", 19))
    assert (info.bin, info.bank.code, info.card_type, info.account_class) == (
        "622202",
        "ICBC",
        "debit",
        None,
    )


@pytest.mark.parametrize(
    ("number", "bin_", "bank"),
    [
        (padded("62249802", 19), "62249802", "QHDCCB"),  # inside Bank of Hebei's 622498
        (padded("62249810", 19), "622498", "BHB"),
        (padded("6223093310", 19), "6223093310", "CZBANK"),
        (padded("622309", 19), "622309", "CZBANK"),
    ],
)
def test_card_lookup_prefers_the_longest_matching_bin(number, bin_, bank):
    info = card_lookup(number)
    assert (info.bin, info.bank.code) == (bin_, bank)


@pytest.mark.parametrize(
    ("number", "card_type"),
    [
        (padded("622812", 16), "credit"),
        (padded("436728", 16), "quasi_credit"),
        (padded("620019", 16), "prepaid"),
        (padded("402791", 16), "debit"),
    ],
)
def test_card_lookup_maps_card_types(number, card_type):
    assert card_lookup(number).card_type == card_type


@pytest.mark.parametrize(
    "number",
    [
        padded("622202", 16),  # ICBC issues 622202 with 19 digits only
        padded("2000", 16),
        "",
        "622202",
        "６２２２０２" + "0" * 13,
        "622202-000000000000",
    ],
)
def test_card_lookup_returns_none_without_a_bin_for_that_length(number):
    assert card_lookup(number) is None


def test_bin_table_has_each_bin_and_length_once_and_only_known_card_types():
    rows = data_rows("card_bins.csv")
    assert Counter((row["bin"], row["length"]) for row in rows).most_common(1)[0][1] == 1
    assert {row["card_type"] for row in rows} == set(CARD_TYPES)
    assert {row["account_class"] for row in rows} == {""}


def test_nanchang_bank_is_told_apart_from_nanyang_commercial_bank():
    assert card_lookup(padded("621269", 16)).bank.name_zh == "南昌银行"
    assert card_lookup(padded("621213", 19)).bank.name_zh == "南洋商业银行"


# ---------------------------------------------------------------------------------------------
# Merchant category codes
# ---------------------------------------------------------------------------------------------


def test_mcc_get_returns_names_and_threshold_as_decimal():
    mcc = mcc_get("5411")
    assert (mcc.code, mcc.name_en, mcc.high_volume_threshold) == (
        "5411",
        "Grocery stores and supermarkets",
        Decimal("300000"),
    )


@pytest.mark.parametrize("code", ["", "541", "0000", "5411 "])
def test_mcc_get_returns_none_for_an_unknown_code(code):
    assert mcc_get(code) is None


@pytest.mark.parametrize(
    ("language", "label"),
    [("en", "5411 · Grocery stores and supermarkets"), ("zh-hans", "5411 · 超市、杂货店")],
)
def test_mcc_choices_label_code_and_name_in_the_active_language(language, label):
    with translation.override(language):
        assert ("5411", label) in mcc_choices()


def test_mcc_choices_are_in_code_order_and_cover_small_shop_categories():
    codes = [code for code, _ in mcc_choices()]
    assert codes == sorted(codes)
    assert {"5411", "5499", "5812", "5814", "5651", "5912", "7230", "5992"} <= set(codes)
    assert {"5732", "7011", "4121", "8299", "7699", "5999", "7299"} <= set(codes)


def test_every_mcc_has_both_names_and_a_positive_threshold():
    for code, _ in mcc_choices():
        mcc = mcc_get(code)
        assert mcc.name_zh and mcc.name_en and mcc.high_volume_threshold > 0


# ---------------------------------------------------------------------------------------------
# Regions
# ---------------------------------------------------------------------------------------------


def test_province_choices_list_the_31_mainland_provinces():
    choices = province_choices()
    assert len(choices) == 31
    assert choices[0] == ("11", "北京市")
    assert ("33", "浙江省") in choices


@pytest.mark.parametrize(
    ("province", "expected"),
    [
        ("11", [("1101", "北京市")]),
        ("50", [("5001", "重庆市"), ("5002", "重庆市（县）")]),
    ],
)
def test_city_choices_show_a_municipality_as_itself(province, expected):
    assert city_choices(province) == expected


def test_city_choices_list_a_provinces_cities():
    assert ("3301", "杭州市") in city_choices("33")
    assert all(code.startswith("33") for code, _ in city_choices("33"))


@pytest.mark.parametrize("province", ["", "99", "3301", "110000"])
def test_city_choices_are_empty_for_an_unknown_province(province):
    assert city_choices(province) == []


def test_district_choices_list_a_citys_districts():
    assert district_choices("1101")[0] == ("110101", "东城区")
    assert ("330106", "西湖区") in district_choices("3301")


@pytest.mark.parametrize("city", ["", "11", "9901", "330106"])
def test_district_choices_are_empty_for_an_unknown_city(city):
    assert district_choices(city) == []


@pytest.mark.parametrize(
    ("codes", "names"),
    [
        (("11", "1101", "110101"), ("北京市", "北京市", "东城区")),
        (("50", "5002", "500229"), ("重庆市", "重庆市", "城口县")),
        (("33", "3301", "330106"), ("浙江省", "杭州市", "西湖区")),
        (("42", "4290", "429004"), ("湖北省", "仙桃市", "仙桃市")),
    ],
)
def test_region_names_give_address_display_names(codes, names):
    assert region_names(*codes) == names


def test_region_names_show_an_unknown_code_as_itself():
    assert region_names("33", "3301", "330199") == ("浙江省", "杭州市", "330199")


@pytest.mark.parametrize(
    "codes",
    [
        ("11", "1101", "110101"),
        ("50", "5002", "500229"),
        ("42", "4290", "429004"),
        ("44", "4419", "441900003"),  # Dongguan has towns, not districts
    ],
)
def test_region_valid_accepts_a_district_of_the_city_of_the_province(codes):
    assert region_valid(*codes) is True


@pytest.mark.parametrize(
    "codes",
    [
        ("11", "1201", "120101"),  # Tianjin city under Beijing
        ("11", "1101", "120101"),  # Tianjin district under Beijing's city
        ("33", "3301", "330203"),  # Ningbo district under Hangzhou
        ("50", "5001", "500229"),  # Chongqing county under its districts
        ("33", "3301", "330199"),
        ("", "", ""),
        ("11", "11", "1101"),
    ],
)
def test_region_valid_refuses_a_district_outside_the_city_or_province(codes):
    assert region_valid(*codes) is False
