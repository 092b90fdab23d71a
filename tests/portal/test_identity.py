from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from stdnum import luhn
from stdnum.cn import ric, uscc

from portal.identity import (
    ResidentId,
    applicant_age_check,
    card_warnings,
    corporate_account_validate,
    holder_name_matches,
    id_validity_check,
    resident_id_validate,
    settlement_card_validate,
    uscc_validate,
)
from portal.reference import Bank, CardInfo, bank_get, card_lookup

TODAY = date(2025, 6, 15)


def resident_id(body: str) -> str:
    """17 digits plus their GB 11643 check character."""
    return body + ric.calc_check_digit(body + "?")


def resident_id_ending_in_x() -> str:
    for sequence in range(1000):
        number = resident_id(f"11010119900307{sequence:03d}")
        if number.endswith("X"):
            return number
    raise AssertionError("no sequence code gives an X check character")


def uscc_code(body: str) -> str:
    """17 characters plus their GB 32100 check character."""
    return body + uscc.calc_check_digit(body)


def card_number(prefix: str, length: int) -> str:
    """A Luhn-valid number of ``length`` digits starting with ``prefix``."""
    body = prefix.ljust(length - 1, "0")
    return body + luhn.calc_check_digit(body)


def full_width(text: str) -> str:
    """What a Chinese input method in full-width mode types: ６２２２, ＭＡ."""
    return text.translate({code: code + 0xFEE0 for code in range(0x21, 0x7F)})


def wrong_last_character(number: str) -> str:
    return number[:-1] + ("1" if number[-1] != "1" else "2")


def refusal(function, *args, **kwargs) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        function(*args, **kwargs)
    return caught.value


MAN = resident_id("11010119900307123")  # 17th digit 3: odd
WOMAN = resident_id("44030619851224002")  # 17th digit 2: even


# ---------------------------------------------------------------------------------------------
# Resident ID
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (MAN, MAN),
        (WOMAN, WOMAN),
        (f" {MAN[:6]} {MAN[6:14]} {MAN[14:]} ", MAN),
        (full_width(MAN), MAN),
        (resident_id_ending_in_x(), resident_id_ending_in_x()),
        (resident_id_ending_in_x()[:-1] + "x", resident_id_ending_in_x()),
        (resident_id_ending_in_x()[:-1] + "ｘ", resident_id_ending_in_x()),
    ],
)
def test_resident_id_accepts_valid_numbers_and_normalises_them(typed, expected):
    assert resident_id_validate(typed, today=TODAY).number == expected


def test_resident_id_returns_birth_date_and_gender():
    assert resident_id_validate(MAN, today=TODAY) == ResidentId(
        number=MAN, birth_date=date(1990, 3, 7), gender="male"
    )
    assert resident_id_validate(WOMAN, today=TODAY).gender == "female"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        MAN[:17],
        MAN + "0",
        "110101900307123",  # first-generation 15-digit number
        MAN[:10] + "A" + MAN[11:],
        MAN[:5] + "X" + MAN[6:],
        MAN[:-1] + "Y",
        MAN.replace("1", "-", 1),
    ],
)
def test_resident_id_with_wrong_shape_is_refused_as_format(typed):
    assert refusal(resident_id_validate, typed, today=TODAY).code == "id_format"


@pytest.mark.parametrize(
    "typed",
    [
        wrong_last_character(MAN),
        wrong_last_character(WOMAN),
        resident_id_ending_in_x()[:-1] + "0",
        MAN[:14] + MAN[15] + MAN[14] + MAN[16:],  # two digits swapped
    ],
)
def test_resident_id_with_wrong_check_character_is_refused_as_checksum(typed):
    assert refusal(resident_id_validate, typed, today=TODAY).code == "id_checksum"


@pytest.mark.parametrize(
    "birth",
    [
        "19900230",  # no 30 February
        "19901301",  # no month 13
        "19900000",
        "20250616",  # tomorrow
        "20990101",
        "18991231",  # before any 18-digit number holder
    ],
)
def test_resident_id_without_real_past_birth_date_is_refused(birth):
    number = resident_id(f"110101{birth}123")
    assert refusal(resident_id_validate, number, today=TODAY).code == "id_birth_date"


def test_resident_id_born_today_passes_the_number_check():
    number = resident_id("11010120250615123")
    assert resident_id_validate(number, today=TODAY).birth_date == TODAY


def test_resident_id_checksum_message_in_english():
    with translation.override("en"):
        message = refusal(resident_id_validate, wrong_last_character(MAN), today=TODAY).messages
    assert message == [
        "This resident ID number is not valid: its last character does not match the other "
        "17. Check each digit against the ID card."
    ]


# needs catalogue
def test_resident_id_checksum_message_in_chinese():
    with translation.override("zh-hans"):
        message = refusal(resident_id_validate, wrong_last_character(MAN), today=TODAY).messages
    assert message == ["身份证号码有误：最后一位校验码与前17位不符，请对照身份证逐位核对。"]


# ---------------------------------------------------------------------------------------------
# Applicant age
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "today"),
    [
        (date(2007, 6, 15), TODAY),  # 18th birthday
        (date(1990, 3, 7), TODAY),
        (date(2004, 2, 29), date(2022, 3, 1)),  # leap-day birthday, 18 on 1 March
    ],
)
def test_applicant_aged_18_or_more_is_accepted(birth, today):
    holder = ResidentId(number=MAN, birth_date=birth, gender="male")
    assert applicant_age_check(holder, today=today) is None


@pytest.mark.parametrize(
    ("birth", "today"),
    [
        (date(2007, 6, 16), TODAY),  # 18 tomorrow
        (date(2010, 1, 1), TODAY),
        (date(2004, 2, 29), date(2022, 2, 28)),
    ],
)
def test_applicant_under_18_is_refused(birth, today):
    holder = ResidentId(number=MAN, birth_date=birth, gender="male")
    assert refusal(applicant_age_check, holder, today=today).code == "id_under_18"


def test_resident_id_age_counts_completed_years():
    holder = ResidentId(number=MAN, birth_date=date(1990, 6, 16), gender="male")
    assert holder.age(TODAY) == 34
    assert holder.age(date(2025, 6, 16)) == 35


def test_under_18_message_in_english_states_the_age():
    holder = ResidentId(number=MAN, birth_date=date(2010, 1, 1), gender="male")
    with translation.override("en"):
        message = refusal(applicant_age_check, holder, today=TODAY).messages
    assert message == ["The applicant must be 18 or older; this ID card shows an age of 15."]


# needs catalogue
def test_under_18_message_in_chinese_states_the_age():
    holder = ResidentId(number=MAN, birth_date=date(2010, 1, 1), gender="male")
    with translation.override("zh-hans"):
        message = refusal(applicant_age_check, holder, today=TODAY).messages
    assert message == ["申请人须年满18周岁；该身份证显示的年龄为15周岁。"]


# ---------------------------------------------------------------------------------------------
# ID card validity period
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("valid_from", "valid_until"),
    [
        (date(2020, 1, 1), date(2030, 1, 1)),
        (date(2020, 1, 1), None),  # long-term (长期)
        (date(2015, 6, 15), TODAY),  # last valid day
        (TODAY, date(2045, 6, 15)),  # issued today
    ],
)
def test_id_card_within_its_validity_period_is_accepted(valid_from, valid_until):
    assert id_validity_check(valid_from=valid_from, valid_until=valid_until, today=TODAY) is None


@pytest.mark.parametrize(
    ("valid_from", "valid_until", "code"),
    [
        (date(2020, 1, 1), date(2019, 12, 31), "id_validity_order"),
        (date(2030, 1, 1), date(2026, 1, 1), "id_validity_order"),
        (date(2005, 6, 14), date(2025, 6, 14), "id_expired"),
        (date(2000, 1, 1), date(2010, 1, 1), "id_expired"),
        (date(2025, 6, 16), date(2045, 6, 16), "id_not_yet_valid"),
        (date(2025, 6, 16), None, "id_not_yet_valid"),
    ],
)
def test_id_card_outside_its_validity_period_is_refused(valid_from, valid_until, code):
    error = refusal(id_validity_check, valid_from=valid_from, valid_until=valid_until, today=TODAY)
    assert error.code == code


def test_expired_id_message_in_english_states_the_date():
    with translation.override("en"):
        message = refusal(
            id_validity_check,
            valid_from=date(2005, 6, 14),
            valid_until=date(2025, 6, 14),
            today=TODAY,
        ).messages
    assert message == [
        "This ID card expired on 2025-06-14. Apply with a valid ID card; a renewed card has "
        "the same number."
    ]


# ---------------------------------------------------------------------------------------------
# Unified social credit code
# ---------------------------------------------------------------------------------------------

COMPANY = uscc_code("91110000600037341")
SOLE_TRADER = uscc_code("92440300MA5F0XK3P")  # 个体工商户


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (COMPANY, COMPANY),
        (SOLE_TRADER, SOLE_TRADER),
        (SOLE_TRADER.lower(), SOLE_TRADER),
        (f"{SOLE_TRADER[:9]} {SOLE_TRADER[9:]}", SOLE_TRADER),
        (full_width(SOLE_TRADER), SOLE_TRADER),
        (uscc_code("Y1110000MA0000001"), uscc_code("Y1110000MA0000001")),
    ],
)
def test_uscc_accepts_valid_codes_and_normalises_them(typed, expected):
    assert uscc_validate(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "",
        COMPANY[:17],
        COMPANY + "0",
        "9111000060003734IL",  # I is not in the alphabet
        "91110000O00037341L",  # nor is O
        "911A0000600037341L",  # characters 3-8 are a region code: digits only
        "91110000-600037341",
    ],
)
def test_uscc_with_wrong_shape_is_refused_as_format(typed):
    assert refusal(uscc_validate, typed).code == "uscc_format"


@pytest.mark.parametrize(
    "typed",
    [
        wrong_last_character(COMPANY),
        wrong_last_character(SOLE_TRADER),
        COMPANY[:12] + COMPANY[13] + COMPANY[12] + COMPANY[14:],  # two characters swapped
    ],
)
def test_uscc_with_wrong_check_character_is_refused_as_checksum(typed):
    assert refusal(uscc_validate, typed).code == "uscc_checksum"


# ---------------------------------------------------------------------------------------------
# Settlement card
# ---------------------------------------------------------------------------------------------

ICBC_DEBIT = card_number("622202", 19)
PSBC_CREDIT = card_number("622812", 16)
CCB_QUASI_CREDIT = card_number("436728", 16)
BOC_PREPAID = card_number("620019", 16)
UNKNOWN_BIN = card_number("2000", 16)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (ICBC_DEBIT, ICBC_DEBIT),
        (" ".join(ICBC_DEBIT[i : i + 4] for i in range(0, 19, 4)), ICBC_DEBIT),
        (full_width(ICBC_DEBIT), ICBC_DEBIT),
        (card_number("402791", 16), card_number("402791", 16)),
    ],
)
def test_settlement_card_accepts_debit_cards_and_normalises_them(typed, expected):
    number, info = settlement_card_validate(typed)
    assert number == expected
    assert info.card_type == "debit"


def test_settlement_card_reports_the_issuer():
    assert settlement_card_validate(ICBC_DEBIT)[1] == card_lookup(ICBC_DEBIT)
    assert settlement_card_validate(ICBC_DEBIT)[1].bank == bank_get("ICBC")


def test_settlement_card_with_unknown_bin_is_accepted_without_issuer():
    assert settlement_card_validate(UNKNOWN_BIN) == (UNKNOWN_BIN, None)


@pytest.mark.parametrize(
    "typed", ["", "6222-0200-0000-0000", "6222O20000000000", "card 6222020000000000"]
)
def test_settlement_card_with_other_characters_is_refused(typed):
    assert refusal(settlement_card_validate, typed).code == "card_format"


@pytest.mark.parametrize(
    "typed",
    [card_number("622202", 15), card_number("622202", 20), "1234", card_number("9", 12)],
)
def test_settlement_card_not_16_to_19_digits_is_refused(typed):
    assert refusal(settlement_card_validate, typed).code == "card_length"


@pytest.mark.parametrize(
    "typed",
    [
        wrong_last_character(ICBC_DEBIT),
        wrong_last_character(UNKNOWN_BIN),
        ICBC_DEBIT[:5] + ICBC_DEBIT[6] + ICBC_DEBIT[5] + ICBC_DEBIT[7:],  # two digits swapped
    ],
)
def test_settlement_card_failing_luhn_is_refused(typed):
    assert refusal(settlement_card_validate, typed).code == "card_checksum"


@pytest.mark.parametrize("typed", [PSBC_CREDIT, CCB_QUASI_CREDIT])
def test_settlement_card_that_is_credit_or_quasi_credit_is_refused(typed):
    assert refusal(settlement_card_validate, typed).code == "card_credit"


def test_settlement_card_that_is_prepaid_is_refused():
    assert refusal(settlement_card_validate, BOC_PREPAID).code == "card_prepaid"


def test_credit_card_message_in_english():
    with translation.override("en"):
        message = refusal(settlement_card_validate, PSBC_CREDIT).messages
    assert message == ["A credit card cannot receive payouts; use a debit card in your own name."]


# needs catalogue
def test_credit_card_message_in_chinese():
    with translation.override("zh-hans"):
        message = refusal(settlement_card_validate, PSBC_CREDIT).messages
    assert message == ["信用卡不能用于接收结算款，请使用本人名下的借记卡。"]


# ---------------------------------------------------------------------------------------------
# Corporate account
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("12345678", "12345678"),
        ("1" * 30, "1" * 30),
        ("3100 1234 5678 0500 1234", "31001234567805001234"),
        (full_width("310012345678"), "310012345678"),
        (wrong_last_character(ICBC_DEBIT), wrong_last_character(ICBC_DEBIT)),  # no Luhn
    ],
)
def test_corporate_account_accepts_8_to_30_digits(typed, expected):
    assert corporate_account_validate(typed) == expected


@pytest.mark.parametrize(
    "typed", ["", "1234567", "1" * 31, "3100-1234-5678", "31001234567A", "账号31001234"]
)
def test_corporate_account_that_is_not_8_to_30_digits_is_refused(typed):
    assert refusal(corporate_account_validate, typed).code == "account_format"


# ---------------------------------------------------------------------------------------------
# Card warnings
# ---------------------------------------------------------------------------------------------


def card_info(account_class: int | None) -> CardInfo:
    bank = Bank(
        code="ICBC", name_zh="中国工商银行", name_en="Industrial and Commercial Bank of China"
    )
    return CardInfo(bin="622202", bank=bank, card_type="debit", account_class=account_class)


@pytest.mark.parametrize(("account_class", "label"), [(2, "Type II"), (3, "Type III")])
def test_card_warnings_flag_type_ii_and_iii_accounts(account_class, label):
    with translation.override("en"):
        warnings = [str(w) for w in card_warnings(card_info(account_class))]
    assert len(warnings) == 1
    assert f"belongs to a {label} bank account" in warnings[0]
    assert "returned payouts" in warnings[0]


@pytest.mark.parametrize("account_class", [1, None])
def test_card_warnings_are_empty_for_type_i_or_unclassified_cards(account_class):
    assert card_warnings(card_info(account_class)) == []


def test_card_warnings_ask_to_check_the_number_when_the_bin_is_unknown():
    with translation.override("en"):
        warnings = [str(w) for w in card_warnings(None)]
    assert warnings == [
        "The bank that issued this card could not be identified. Check that the number is correct."
    ]


# ---------------------------------------------------------------------------------------------
# Holder name
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("holder", "legal_name"),
    [
        ("张伟", "张伟"),
        ("张 伟", "张伟"),
        (" 张伟\u3000", "张伟"),
        ("买买提·艾力", "买买提艾力"),
        ("买买提•艾力", "买买提·艾力"),
        ("买买提・艾力", "买买提·艾力"),
        ("买买提･艾力", "买买提·艾力"),  # half-width katakana middle dot
        ("买买提.艾力", "买买提·艾力"),
        ("JOHN SMITH", "John Smith"),
        ("ｊｏｈｎ ｓｍｉｔｈ", "John Smith"),
    ],
)
def test_holder_name_matches_ignoring_spacing_separator_dots_and_case(holder, legal_name):
    assert holder_name_matches(holder, legal_name) is True


@pytest.mark.parametrize(
    ("holder", "legal_name"),
    [
        ("张伟", "张玮"),
        ("张伟", "张伟伟"),
        ("李伟", "张伟"),
        ("", ""),
        ("·", " "),
        ("John Smith", "Jon Smith"),
    ],
)
def test_holder_name_does_not_match_a_different_name(holder, legal_name):
    assert holder_name_matches(holder, legal_name) is False
