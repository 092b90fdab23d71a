from datetime import date
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import translation
from stdnum import luhn
from stdnum.cn import uscc

from portal import application_rules, services
from portal.forms.onboarding import (
    BusinessForm,
    IdentityForm,
    OrderForm,
    SettlementForm,
    stored_step_form,
)
from portal.models import Application
from portal.onboarding import STEPS, STEPS_BY_SLUG
from tests import onboarding as data

pytestmark = pytest.mark.django_db

ApplicantType = Application.ApplicantType
AccountType = Application.AccountType
TODAY = data.TODAY
UNKNOWN_BIN_CARD = "7777000000000014"  # passes Luhn, issuer not in card_bins.csv
CORPORATE_ACCOUNT = "10012345678901234"  # a bank account number, not a card: no Luhn digit


def full_width(text: str) -> str:
    """As a Chinese input method types it: ６２２２ instead of 6222."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def licence_number(body: str = "92310104MA1K4A5B2") -> str:
    return body + uscc.calc_check_digit(body)


def bad_licence_number() -> str:
    good = licence_number()
    wrong = "0" if good[-1] != "0" else "1"
    return good[:-1] + wrong


def application(**fields) -> Application:
    """The application a step form is shown for (its earlier steps already filled)."""
    values = {
        "applicant_type": ApplicantType.INDIVIDUAL,
        "legal_name": "李小龙",
        "contact_mobile": "13912340000",
        "business_name": "小龙便利店",
        "province": "31",
        "city": "3101",
        "district": "310104",
        "street": "漕溪北路 1 号",
    }
    values.update(fields)
    return Application(**values)


def posted(defaults: dict, overrides: dict) -> dict:
    """Form data: ``defaults`` with ``overrides``; an override of None leaves the field out."""
    values = {**defaults, **overrides}
    return {name: value for name, value in values.items() if value is not None}


def identity_data(**overrides) -> dict:
    return posted(
        {
            "applicant_type": ApplicantType.INDIVIDUAL,
            "legal_name": "李小龙",
            "id_number": data.resident_id(),
            "id_valid_from": "2020-01-01",
            "id_valid_until": "2040-01-01",
            "contact_mobile": "13912340000",
            "contact_email": "li@example.cn",
        },
        overrides,
    )


def business_data(**overrides) -> dict:
    return posted(
        {
            "business_name": "小龙便利店",
            "province": "31",
            "city": "3101",
            "district": "310104",
            "street": "漕溪北路 1 号",
            "mcc": "5411",
            "expected_monthly_volume": "80000.00",
        },
        overrides,
    )


def settlement_data(**overrides) -> dict:
    return posted(
        {
            "account_type": AccountType.PERSONAL,
            "account_number": data.debit_card(),
            "bank_branch": "上海徐汇支行",
            "account_holder": "李小龙",
        },
        overrides,
    )


def order_data(**overrides) -> dict:
    return posted(
        {
            "product": str(data.product().pk),
            "quantity": "1",
            "ship_name": "李小龙",
            "ship_mobile": "13912340000",
            "ship_province": "31",
            "ship_city": "3101",
            "ship_district": "310104",
            "ship_street": "漕溪北路 1 号",
        },
        overrides,
    )


def identity_form(**overrides) -> IdentityForm:
    return IdentityForm(identity_data(**overrides), application=application(), today=TODAY)


def business_form(applicant_type=ApplicantType.INDIVIDUAL, **overrides) -> BusinessForm:
    return BusinessForm(
        business_data(**overrides),
        application=application(applicant_type=applicant_type),
        today=TODAY,
    )


def settlement_form(applicant_type=ApplicantType.INDIVIDUAL, **overrides) -> SettlementForm:
    return SettlementForm(
        settlement_data(**overrides),
        application=application(applicant_type=applicant_type),
        today=TODAY,
    )


def order_form(**overrides) -> OrderForm:
    return OrderForm(order_data(**overrides), application=application(), today=TODAY)


def error_code(form, field: str) -> str:
    return form.errors.as_data()[field][0].code


def errors_in(language: str, build, field: str) -> list[str]:
    with translation.override(language):
        form = build()
        form.is_valid()
        return list(form.errors[field])


# --- identity --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"id_number": data.resident_id(sequence=104)},
        {"id_long_term": "on", "id_valid_until": None},
        {"contact_mobile": "+86 139 1234 0000"},
        {"contact_email": None},
        {"id_number": data.resident_id(birth=date(2008, 11, 26))},
        {"id_valid_until": TODAY.isoformat()},
    ],
    ids=[
        "complete",
        "check-character-x",
        "long-term-without-expiry",
        "mobile-with-country-code",
        "no-email",
        "18-today",
        "expires-today",
    ],
)
def test_identity_form_accepts(overrides):
    form = identity_form(**overrides)

    assert form.is_valid(), form.errors.as_data()


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"id_number": data.resident_id()[:-1] + "5"}, "id_number", "id_checksum"),
        ({"id_number": "31010419900517123"}, "id_number", "id_format"),
        ({"id_number": data.resident_id(birth=date(2008, 11, 27))}, "id_number", "id_under_18"),
        ({"id_valid_until": "2026-11-25"}, "id_valid_until", "id_expired"),
        (
            {"id_valid_from": "2030-01-01", "id_valid_until": "2029-01-01"},
            "id_valid_until",
            "id_validity_order",
        ),
        ({"id_valid_from": "2026-11-27"}, "id_valid_from", "id_not_yet_valid"),
        ({"id_valid_until": None}, "id_valid_until", "id_validity_missing"),
        ({"contact_mobile": "12345678901"}, "contact_mobile", "invalid_mobile"),
        ({"legal_name": None}, "legal_name", "required"),
    ],
    ids=[
        "bad-checksum",
        "17-characters",
        "under-18",
        "expired",
        "until-before-from",
        "not-yet-valid",
        "no-expiry-and-not-long-term",
        "bad-mobile",
        "no-name",
    ],
)
def test_identity_form_refuses(overrides, field, code):
    form = identity_form(**overrides)

    assert not form.is_valid()
    assert error_code(form, field) == code
    assert list(form.errors) == [field]


def test_a_long_term_id_stores_no_expiry_even_when_one_was_typed():
    form = identity_form(id_long_term="on", id_valid_until="2030-01-01")

    assert form.is_valid(), form.errors.as_data()
    assert form.cleaned_data["id_valid_until"] is None
    assert form.values()["id_long_term"] is True


def test_a_full_width_id_number_is_accepted_in_ascii():
    number = data.resident_id()

    form = identity_form(id_number=full_width(number))

    assert form.is_valid(), form.errors.as_data()
    assert form.cleaned_data["id_number"] == number


def test_a_lower_case_x_check_character_is_stored_upper_case():
    number = data.resident_id(sequence=104)

    form = identity_form(id_number=number.lower())

    assert number.endswith("X")
    assert form.is_valid(), form.errors.as_data()
    assert form.cleaned_data["id_number"] == number


def test_a_mobile_number_is_stored_as_11_digits():
    form = identity_form(contact_mobile="+86 139-1234-0000")

    assert form.is_valid(), form.errors.as_data()
    assert form.cleaned_data["contact_mobile"] == "13912340000"


# --- business --------------------------------------------------------------------------------


def test_an_individual_is_not_asked_for_a_credit_code():
    form = business_form(ApplicantType.INDIVIDUAL)

    assert "licence_number" not in form.fields
    assert form.is_valid(), form.errors.as_data()
    assert form.values()["licence_number"] == ""


@pytest.mark.parametrize("applicant_type", [ApplicantType.SOLE_PROPRIETOR, ApplicantType.COMPANY])
def test_a_licensed_business_must_give_its_credit_code(applicant_type):
    form = business_form(applicant_type)

    assert not form.is_valid()
    assert error_code(form, "licence_number") == "required"


@pytest.mark.parametrize("applicant_type", [ApplicantType.SOLE_PROPRIETOR, ApplicantType.COMPANY])
def test_a_licensed_business_with_a_valid_credit_code_is_accepted(applicant_type):
    form = business_form(applicant_type, licence_number=licence_number().lower())

    assert form.is_valid(), form.errors.as_data()
    assert form.values()["licence_number"] == licence_number()


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"licence_number": bad_licence_number()}, "licence_number", "uscc_checksum"),
        ({"licence_number": "92310104MA1K4A5B"}, "licence_number", "uscc_format"),
        ({"district": "440106"}, "district", "region_mismatch"),
        ({"mcc": "0000"}, "mcc", "invalid_choice"),
        ({"expected_monthly_volume": "-1"}, "expected_monthly_volume", "min_value"),
        ({"business_name": None}, "business_name", "required"),
    ],
    ids=[
        "credit-code-checksum",
        "credit-code-too-short",
        "district-not-in-city",
        "unknown-category",
        "negative-volume",
        "no-name",
    ],
)
def test_business_form_refuses(overrides, field, code):
    form = business_form(ApplicantType.COMPANY, **{"licence_number": licence_number(), **overrides})

    assert not form.is_valid()
    assert error_code(form, field) == code
    assert list(form.errors) == [field]


# --- settlement ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("applicant_type", "offered"),
    [
        (ApplicantType.INDIVIDUAL, [AccountType.PERSONAL]),
        (ApplicantType.SOLE_PROPRIETOR, [AccountType.PERSONAL, AccountType.CORPORATE]),
        (ApplicantType.COMPANY, [AccountType.CORPORATE]),
    ],
)
def test_account_types_offered_depend_on_the_applicant_type(applicant_type, offered):
    form = SettlementForm(application=application(applicant_type=applicant_type), today=TODAY)

    assert [value for value, _label in form.fields["account_type"].choices] == offered


def test_an_individual_cannot_choose_a_corporate_account():
    form = settlement_form(
        ApplicantType.INDIVIDUAL,
        account_type=AccountType.CORPORATE,
        account_number=CORPORATE_ACCOUNT,
        bank_code="ICBC",
    )

    assert not form.is_valid()
    assert error_code(form, "account_type") == "invalid_choice"


def test_a_company_cannot_choose_a_personal_card():
    form = settlement_form(ApplicantType.COMPANY, account_holder="小龙便利店")

    assert not form.is_valid()
    assert error_code(form, "account_type") == "invalid_choice"


def test_a_personal_debit_card_in_the_applicants_name_is_accepted_with_its_bank():
    form = settlement_form()

    assert form.is_valid(), form.errors.as_data()
    assert form.values() == {
        "account_type": AccountType.PERSONAL,
        "account_number": data.debit_card(),
        "bank_code": "ICBC",
        "bank_branch": "上海徐汇支行",
        "account_holder": "李小龙",
        "account_class": None,
    }


def test_a_declared_type_ii_account_is_warned_about_but_accepted():
    form = settlement_form(account_class="2")

    assert form.is_valid(), form.errors.as_data()
    assert form.values()["account_class"] == 2
    assert any("II" in warning and "退回" in warning for warning in form.warnings)


def test_a_full_width_card_number_is_accepted_in_ascii():
    form = settlement_form(account_number=full_width(data.debit_card()))

    assert form.is_valid(), form.errors.as_data()
    assert form.cleaned_data["account_number"] == data.debit_card()


@pytest.mark.parametrize(
    ("applicant_type", "overrides", "field", "code"),
    [
        (
            ApplicantType.INDIVIDUAL,
            {"account_number": data.credit_card()},
            "account_number",
            "card_credit",
        ),
        (
            ApplicantType.INDIVIDUAL,
            {"account_number": data.debit_card()[:-1] + "9"},
            "account_number",
            "card_checksum",
        ),
        (
            ApplicantType.INDIVIDUAL,
            {"account_holder": "王五"},
            "account_holder",
            "holder_not_applicant",
        ),
        (
            ApplicantType.SOLE_PROPRIETOR,
            {"account_holder": "小龙便利店"},
            "account_holder",
            "holder_not_applicant",
        ),
        (ApplicantType.INDIVIDUAL, {"account_number": UNKNOWN_BIN_CARD}, "bank_code", "no_bank"),
        (
            ApplicantType.COMPANY,
            {
                "account_type": AccountType.CORPORATE,
                "account_number": CORPORATE_ACCOUNT,
                "account_holder": "小龙便利店",
            },
            "bank_code",
            "no_bank",
        ),
        (
            ApplicantType.COMPANY,
            {
                "account_type": AccountType.CORPORATE,
                "account_number": CORPORATE_ACCOUNT,
                "account_holder": "小龙便利店",
                "bank_code": "ICBC",
                "bank_branch": None,
            },
            "bank_branch",
            "no_branch",
        ),
        (
            ApplicantType.COMPANY,
            {
                "account_type": AccountType.CORPORATE,
                "account_number": "1234567",
                "account_holder": "小龙便利店",
                "bank_code": "ICBC",
            },
            "account_number",
            "account_format",
        ),
    ],
    ids=[
        "credit-card",
        "card-checksum",
        "someone-elses-card",
        "personal-card-in-the-business-name",
        "unknown-bank",
        "corporate-account-without-bank",
        "corporate-account-without-branch",
        "corporate-account-too-short",
    ],
)
def test_settlement_form_refuses(applicant_type, overrides, field, code):
    form = settlement_form(applicant_type, **overrides)

    assert not form.is_valid()
    assert error_code(form, field) == code
    assert list(form.errors) == [field]


def test_a_card_from_an_unknown_bank_is_accepted_once_the_bank_is_chosen():
    form = settlement_form(account_number=UNKNOWN_BIN_CARD, bank_code="CCB")

    assert form.is_valid(), form.errors.as_data()
    assert form.values()["bank_code"] == "CCB"
    assert len(form.warnings) == 1


def test_a_company_account_without_a_card_check_digit_is_accepted_with_bank_and_branch():
    form = settlement_form(
        ApplicantType.COMPANY,
        account_type=AccountType.CORPORATE,
        account_number="1001 2345 6789 0123 4",
        bank_code="ICBC",
        bank_branch="上海分行徐汇支行",
        account_holder="小龙便利店",
    )

    assert not luhn.is_valid(CORPORATE_ACCOUNT)
    assert form.is_valid(), form.errors.as_data()
    assert form.values() == {
        "account_type": AccountType.CORPORATE,
        "account_number": CORPORATE_ACCOUNT,
        "bank_code": "ICBC",
        "bank_branch": "上海分行徐汇支行",
        "account_holder": "小龙便利店",
        "account_class": None,
    }
    assert form.warnings == []


def test_a_corporate_account_in_another_name_is_accepted_with_a_warning():
    form = settlement_form(
        ApplicantType.COMPANY,
        account_type=AccountType.CORPORATE,
        account_number=CORPORATE_ACCOUNT,
        bank_code="ICBC",
        account_holder="上海龙腾贸易有限公司",
    )

    assert form.is_valid(), form.errors.as_data()
    assert len(form.warnings) == 1


# --- order -----------------------------------------------------------------------------------


def test_an_order_up_to_the_products_maximum_is_accepted():
    form = order_form(quantity=str(data.product().max_quantity))

    assert form.is_valid(), form.errors.as_data()


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"quantity": "6"}, "quantity", "too_many"),
        ({"quantity": "0"}, "quantity", "min_value"),
        ({"ship_mobile": "0211234567"}, "ship_mobile", "invalid_mobile"),
        ({"ship_district": "440106"}, "ship_district", "region_mismatch"),
        ({"product": "999999"}, "product", "invalid_choice"),
    ],
    ids=[
        "above-product-maximum",
        "zero",
        "bad-recipient-mobile",
        "district-not-in-city",
        "unknown-product",
    ],
)
def test_order_form_refuses(overrides, field, code):
    form = order_form(**overrides)

    assert data.product().max_quantity == 5
    assert not form.is_valid()
    assert error_code(form, field) == code
    assert list(form.errors) == [field]


def test_a_missing_delivery_street_is_refused_with_the_required_code():
    form = order_form(ship_street=None)

    assert not form.is_valid()
    assert list(form.errors) == ["ship_street"]
    assert error_code(form, "ship_street") == "required"


def test_shipping_to_the_business_copies_the_business_address():
    business = application(contact_mobile="13800001111", street="漕溪北路 8 号")
    empty_address = dict.fromkeys(
        ("ship_name", "ship_mobile", "ship_province", "ship_city", "ship_district", "ship_street")
    )

    form = OrderForm(
        order_data(ship_to_business="on", **empty_address), application=business, today=TODAY
    )

    assert form.is_valid(), form.errors.as_data()
    assert form.values() == {
        "product": data.product(),
        "quantity": 1,
        "ship_name": "李小龙",
        "ship_mobile": "13800001111",
        "ship_province": "31",
        "ship_city": "3101",
        "ship_district": "310104",
        "ship_street": "漕溪北路 8 号",
    }


# --- fixing what a reviewer asked about -----------------------------------------------------


def test_a_business_form_opened_to_fix_one_item_returns_only_that_item():
    stored = application(mcc="5411", expected_monthly_volume=Decimal("80000.00"))

    form = BusinessForm(
        business_data(mcc="5812", business_name="别的名字"),
        application=stored,
        today=TODAY,
        editable={"mcc"},
    )

    assert form.is_valid(), form.errors.as_data()
    assert form.values() == {"mcc": "5812"}


def test_an_identity_form_opened_to_fix_the_contact_ignores_other_posted_fields():
    stored = application(
        id_number=data.resident_id(),
        id_valid_from=date(2020, 1, 1),
        id_valid_until=date(2040, 1, 1),
        contact_email="li@example.cn",
    )

    form = IdentityForm(
        identity_data(legal_name="别人", contact_mobile="13800001111"),
        application=stored,
        today=TODAY,
        editable={"contact_mobile", "contact_email"},
    )

    assert form.is_valid(), form.errors.as_data()
    assert form.values() == {"contact_mobile": "13800001111", "contact_email": "li@example.cn"}


def test_an_individual_fixes_a_business_item_through_its_form_and_resubmits(staff_user):
    stored = data.in_review(staff_user)
    stored = services.application_request_info(
        application=stored, reviewer=staff_user, items=[("mcc", "经营类别与门头不符")]
    )
    form = BusinessForm(
        business_data(mcc="5812"), application=stored, today=TODAY, editable={"mcc"}
    )
    assert form.is_valid(), form.errors.as_data()

    services.application_save_fields(application=stored, values=form.values(), editable={"mcc"})
    resubmitted = services.application_submit(
        application=stored, actor=stored.applicant, today=TODAY
    )

    assert (resubmitted.status, resubmitted.mcc) == (Application.Status.SUBMITTED, "5812")


# --- messages in both languages --------------------------------------------------------------

MESSAGES = [
    (
        lambda: identity_form(id_number=data.resident_id()[:-1] + "5"),
        "id_number",
        "身份证号码有误：最后一位校验码与前17位不符，请对照身份证逐位核对。",
        "This resident ID number is not valid: its last character does not match the other "
        "17. Check each digit against the ID card.",
    ),
    (
        lambda: identity_form(id_number=data.resident_id(birth=date(2009, 1, 1))),
        "id_number",
        "申请人须年满18周岁；该身份证显示的年龄为17周岁。",
        "The applicant must be 18 or older; this ID card shows an age of 17.",
    ),
    (
        lambda: identity_form(id_valid_until="2025-06-30"),
        "id_valid_until",
        "该身份证已于2025-06-30过期，请使用有效期内的身份证申请；换领的新证号码不变。",
        "This ID card expired on 2025-06-30. Apply with a valid ID card; a renewed card has "
        "the same number.",
    ),
    (
        lambda: identity_form(id_valid_from="2030-01-01", id_valid_until="2029-01-01"),
        "id_valid_until",
        "身份证有效期的截止日期早于起始日期，请按身份证背面印制的日期填写。",
        "The ID card's expiry date is before its issue date. Enter both dates as printed on "
        "the back of the card.",
    ),
    (
        lambda: identity_form(id_valid_until=None),
        "id_valid_until",
        "请填写有效期截止日期；如身份证写“长期”，请勾选“长期有效”。",
        "Enter the expiry date, or tick “valid long-term” if the card says 长期.",
    ),
    (
        lambda: identity_form(contact_mobile="1391234000"),
        "contact_mobile",
        "请输入中国大陆手机号：以13-19开头的11位数字。",
        "Enter a mainland China mobile number: 11 digits starting with 13-19.",
    ),
    (
        lambda: business_form(ApplicantType.COMPANY, licence_number=bad_licence_number()),
        "licence_number",
        "统一社会信用代码有误：最后一位校验码与前17位不符，请对照营业执照逐位核对。",
        "This unified social credit code is not valid: its last character does not match the "
        "other 17. Check each character against the business licence.",
    ),
    (
        lambda: business_form(district="440106"),
        "district",
        "该区县不属于所选城市，请重新选择城市。",
        "This district is not in the chosen city. Choose the city again.",
    ),
    (
        lambda: settlement_form(account_number=data.credit_card()),
        "account_number",
        "信用卡不能用于接收结算款，请使用本人名下的借记卡。",
        "A credit card cannot receive payouts; use a debit card in your own name.",
    ),
    (
        lambda: settlement_form(account_holder="王五"),
        "account_holder",
        "个人结算卡必须是您本人（李小龙）名下的账户。他人名下的卡会被银行拒收，结算款会被退回。",
        "Payouts to a personal card must go to an account in your own name (李小龙). A card in "
        "someone else's name is refused by the bank and the payout comes back.",
    ),
    (
        lambda: settlement_form(account_number=UNKNOWN_BIN_CARD),
        "bank_code",
        "请选择该账户的开户银行。",
        "Choose the bank that holds this account.",
    ),
    (
        lambda: order_form(quantity="6"),
        "quantity",
        "每份申请最多可申请 5 台该终端。",
        "At most 5 of this terminal per application.",
    ),
]
MESSAGE_IDS = [
    "id-checksum",
    "under-18",
    "expired",
    "until-before-from",
    "no-expiry",
    "bad-mobile",
    "credit-code-checksum",
    "region-mismatch",
    "credit-card",
    "someone-elses-card",
    "unknown-bank",
    "too-many",
]


@pytest.mark.parametrize(("build", "field", "chinese", "english"), MESSAGES, ids=MESSAGE_IDS)
def test_a_refusal_says_what_is_wrong_in_chinese_by_default(build, field, chinese, english):
    assert errors_in(settings.LANGUAGE_CODE, build, field) == [chinese]


@pytest.mark.parametrize(("build", "field", "chinese", "english"), MESSAGES, ids=MESSAGE_IDS)
def test_a_refusal_says_what_is_wrong_in_english(build, field, chinese, english):
    assert errors_in("en", build, field) == [english]


# --- stored steps ----------------------------------------------------------------------------


def test_a_new_draft_has_every_step_still_to_do(customer):
    application, _created = services.application_start(applicant=customer)

    incomplete = application_rules.incomplete_steps(application, today=TODAY)

    assert [step.slug for step in incomplete] == ["identity", "business", "settlement", "order"]


def test_a_complete_draft_has_no_step_still_to_do():
    application = data.draft()

    assert application_rules.incomplete_steps(application, today=TODAY) == []


@pytest.mark.parametrize(
    ("overrides", "missing"),
    [
        ({"id_number": ""}, ["identity"]),
        ({"street": ""}, ["business"]),
        ({"account_holder": ""}, ["settlement"]),
        ({"ship_street": ""}, ["order"]),
        ({"contact_mobile": "", "mcc": ""}, ["identity", "business"]),
    ],
    ids=["identity", "business", "settlement", "order", "identity-and-business"],
)
def test_only_the_steps_with_missing_data_are_incomplete(overrides, missing):
    application = data.draft(**overrides)

    incomplete = application_rules.incomplete_steps(application, today=TODAY)

    assert [step.slug for step in incomplete] == missing


def test_an_id_card_that_expired_since_saving_makes_identity_incomplete():
    application = data.draft(id_valid_until=date(2026, 12, 31))

    incomplete = application_rules.incomplete_steps(application, today=date(2027, 1, 1))

    assert [step.slug for step in incomplete] == ["identity"]


@pytest.mark.parametrize("slug", [step.slug for step in STEPS])
def test_each_stored_step_of_a_complete_draft_validates(slug):
    application = data.draft()

    form = stored_step_form(application, STEPS_BY_SLUG[slug], today=TODAY)

    assert form.is_valid(), form.errors.as_data()


def test_a_stored_long_term_id_validates():
    application = data.draft(id_long_term=True, id_valid_until=None)

    form = stored_step_form(application, STEPS_BY_SLUG["identity"], today=TODAY)

    assert form.is_valid(), form.errors.as_data()


def test_a_stored_company_with_a_corporate_account_validates():
    application = data.draft(
        applicant_type=ApplicantType.COMPANY,
        licence_number=licence_number(),
        account_type=AccountType.CORPORATE,
        account_number=CORPORATE_ACCOUNT,
        bank_code="ICBC",
        account_holder="小龙便利店",
        expected_monthly_volume=Decimal("80000.00"),
    )

    assert application_rules.incomplete_steps(application, today=TODAY) == []
