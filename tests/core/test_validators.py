import pytest
from django.core.exceptions import ValidationError

from core.masking import mask_account_number, mask_email, mask_mobile
from core.validators import (
    canonical_login,
    normalize_cn_mobile,
    parse_login,
    validate_cn_mobile,
)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("13800138000", "13800138000"),
        (" 138 0013 8000 ", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("008613800138000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("19912345678", "19912345678"),
        ("１３８００１３８０００", "13800138000"),
        ("＋８６ １３８ ００１３ ８０００", "13800138000"),
    ],
)
def test_mainland_mobile_numbers_are_normalised(typed, expected):
    assert normalize_cn_mobile(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "12800138000",
        "1380013800",
        "138001380001",
        "23800138000",
        "+1 415 555 0100",
        "",
        "abc",
        "13٨00138000",  # an Arabic-Indic digit: a digit, but not one a mobile number has
    ],
)
def test_other_numbers_are_not_mainland_mobiles(typed):
    assert normalize_cn_mobile(typed) is None


def test_mobile_validator_refuses_an_unnormalised_number():
    with pytest.raises(ValidationError) as excinfo:
        validate_cn_mobile("+8613800138000")
    assert excinfo.value.code == "invalid_mobile"


def test_parse_login_tells_mobile_from_email():
    assert parse_login("+86 138 0013 8000") == ("mobile", "13800138000")
    assert parse_login(" Li.Wei@Example.CN ") == ("email", "Li.Wei@Example.CN")


@pytest.mark.parametrize(
    ("typed", "code"),
    [("12345", "invalid_mobile"), ("lin@", "invalid"), ("linwei", "invalid_login")],
)
def test_parse_login_says_what_is_wrong(typed, code):
    with pytest.raises(ValidationError) as excinfo:
        parse_login(typed)
    assert excinfo.value.code == code


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("+86 138-0013-8000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        (" Li.Wei@Example.CN ", "li.wei@example.cn"),
        ("li.wei＠example.cn", "li.wei@example.cn"),
        ("reviewer", "reviewer"),
    ],
)
def test_every_spelling_of_a_login_has_one_canonical_form(typed, canonical):
    assert canonical_login(typed) == canonical


def test_masks_keep_only_what_identifies():
    assert mask_mobile("13800138000") == "138****8000"
    assert mask_email("linwei@example.cn") == "l***@example.cn"
    assert mask_account_number("6222020200112233445") == "622202*********3445"
    assert mask_account_number("1234") == "****"
