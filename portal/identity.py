"""Validators for the identity and bank details on a merchant application: resident ID
numbers (GB 11643), unified social credit codes (GB 32100), settlement cards and corporate
bank accounts.

Each refusal is a ``ValidationError`` with its own ``code``, so forms and the API can tell the
cases apart, and a message that says what is wrong and what is expected.
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Literal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum import luhn
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError

from portal.reference import CardInfo, card_lookup

ADULT_AGE = 18
# 18-digit resident ID numbers date from 1999; nobody they were issued to was born before 1900.
_EARLIEST_BIRTH_YEAR = 1900

_WHITESPACE = re.compile(r"\s+")
_RESIDENT_ID = re.compile(r"[0-9]{17}[0-9X]")
# GB 32100: characters 3-8 are the registering region's code; the rest use an alphabet
# without I, O, S, V and Z, so they cannot be mistaken for 1, 0, 5, U and 2.
_USCC = re.compile(r"[0-9A-HJ-NP-RTUWXY]{2}[0-9]{6}[0-9A-HJ-NP-RTUWXY]{10}")
_DIGITS = re.compile(r"[0-9]+")
# Minority and foreign names are written with a separator dot, typed as any of these.
_NAME_SEPARATORS = re.compile(r"[\s·•・‧∙⋅.]+")


def _compact(value: str) -> str:
    """Full-width to ASCII (Chinese input methods type ６２２２ and ｘ), then no whitespace."""
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", value))


# ---------------------------------------------------------------------------------------------
# Resident ID (居民身份证)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResidentId:
    number: str
    birth_date: date
    gender: Literal["male", "female"]

    def age(self, today: date) -> int:
        """Age in completed years. Someone born on 29 February turns a year older on
        1 March in other years."""
        before_birthday = (today.month, today.day) < (self.birth_date.month, self.birth_date.day)
        return today.year - self.birth_date.year - before_birthday


def resident_id_validate(value: str, *, today: date) -> ResidentId:
    """Check an 18-character resident ID number and return it with what it encodes."""
    number = _compact(value).upper()
    if not _RESIDENT_ID.fullmatch(number):
        raise ValidationError(
            _("Enter the 18-character resident ID number: 17 digits followed by a digit or X."),
            code="id_format",
        )
    if ric.calc_check_digit(number) != number[-1]:
        raise ValidationError(
            _(
                "This resident ID number is not valid: its last character does not match the "
                "other 17. Check each digit against the ID card."
            ),
            code="id_checksum",
        )
    try:
        birth_date = ric.get_birth_date(number)
    except StdnumError:
        birth_date = None
    if birth_date is None or birth_date.year < _EARLIEST_BIRTH_YEAR or birth_date > today:
        raise ValidationError(
            _(
                "This resident ID number is not valid: digits 7 to 14 must be a past date of "
                "birth (YYYYMMDD). Check the number against the ID card."
            ),
            code="id_birth_date",
        )
    # The 17th digit is the sequence code: odd for men, even for women (GB 11643).
    gender: Literal["male", "female"] = "male" if int(number[16]) % 2 else "female"
    return ResidentId(number=number, birth_date=birth_date, gender=gender)


def applicant_age_check(resident_id: ResidentId, *, today: date) -> None:
    age = resident_id.age(today)
    if age < ADULT_AGE:
        raise ValidationError(
            _("The applicant must be 18 or older; this ID card shows an age of %(age)d."),
            code="id_under_18",
            params={"age": age},
        )


def id_validity_check(*, valid_from: date, valid_until: date | None, today: date) -> None:
    """Check the validity period printed on the back of the ID card. ``valid_until`` None
    means the card is valid long-term (长期)."""
    if valid_until is not None and valid_until < valid_from:
        raise ValidationError(
            _(
                "The ID card's expiry date is before its issue date. Enter both dates as "
                "printed on the back of the card."
            ),
            code="id_validity_order",
        )
    if valid_from > today:
        raise ValidationError(
            _(
                "The ID card's issue date is in the future. Enter the dates as printed on the "
                "back of the card."
            ),
            code="id_not_yet_valid",
        )
    if valid_until is not None and valid_until < today:
        raise ValidationError(
            _(
                "This ID card expired on %(date)s. Apply with a valid ID card; a renewed "
                "card has the same number."
            ),
            code="id_expired",
            params={"date": valid_until.isoformat()},
        )


# ---------------------------------------------------------------------------------------------
# Unified social credit code (统一社会信用代码)
# ---------------------------------------------------------------------------------------------


def uscc_validate(value: str) -> str:
    """Check a unified social credit code; return it as 18 upper-case characters."""
    code = _compact(value).upper()
    if not _USCC.fullmatch(code):
        raise ValidationError(
            _(
                "Enter the 18-character unified social credit code from the business licence: "
                "digits and capital letters other than I, O, S, V and Z."
            ),
            code="uscc_format",
        )
    if uscc.calc_check_digit(code) != code[-1]:
        raise ValidationError(
            _(
                "This unified social credit code is not valid: its last character does not "
                "match the other 17. Check each character against the business licence."
            ),
            code="uscc_checksum",
        )
    return code


# ---------------------------------------------------------------------------------------------
# Bank cards and accounts
# ---------------------------------------------------------------------------------------------


def settlement_card_validate(value: str) -> tuple[str, CardInfo | None]:
    """Check the card that payouts go to; return its digits and its issuer, None when the
    BIN is not in the table (allowed: the table does not cover every bank)."""
    number = _compact(value)
    if not _DIGITS.fullmatch(number):
        raise ValidationError(
            _("Enter the card number using digits only; spaces are fine."), code="card_format"
        )
    if not 16 <= len(number) <= 19:
        raise ValidationError(
            _(
                "A bank card number has 16 to 19 digits; this one has %(length)d. Check it "
                "against the card."
            ),
            code="card_length",
            params={"length": len(number)},
        )
    if not luhn.is_valid(number):
        raise ValidationError(
            _(
                "This card number is not valid: a digit is wrong or two digits are swapped. "
                "Check it against the card."
            ),
            code="card_checksum",
        )
    info = card_lookup(number)
    if info is not None and info.card_type in ("credit", "quasi_credit"):
        raise ValidationError(
            _("A credit card cannot receive payouts; use a debit card in your own name."),
            code="card_credit",
        )
    if info is not None and info.card_type == "prepaid":
        raise ValidationError(
            _("A prepaid card cannot receive payouts; use a debit card in your own name."),
            code="card_prepaid",
        )
    return number, info


def corporate_account_validate(value: str) -> str:
    """Check a corporate bank account number (对公账户); return its digits. These are not card
    numbers: their length varies by bank and they carry no Luhn check digit."""
    number = _compact(value)
    if not (_DIGITS.fullmatch(number) and 8 <= len(number) <= 30):
        raise ValidationError(
            _(
                "Enter the company's bank account number: 8 to 30 digits, spaces are fine. "
                "It is the account number, not a card number."
            ),
            code="account_format",
        )
    return number


def card_warnings(info: CardInfo | None, *, declared_class: int | None = None) -> list[str]:
    """Things a merchant should double-check about a settlement card that passed validation.

    The account class comes from the BIN table when it knows it, else from what the applicant
    said (most people know whether they opened an e-account in an app).
    """
    warnings = []
    if info is None:
        warnings.append(
            _(
                "The bank that issued this card could not be identified. Check that the "
                "number is correct."
            )
        )
    account_class = info.account_class if info and info.account_class else declared_class
    if account_class in (2, 3):
        warnings.append(
            _(
                "This card belongs to a Type %(account_class)s bank account. Type II and III "
                "accounts limit how much they can receive each day and are a common cause of "
                "returned payouts; a Type I account is safer."
            )
            % {"account_class": "II" if account_class == 2 else "III"}
        )
    return warnings


def holder_name_matches(holder: str, legal_name: str) -> bool:
    """Whether the card holder's name is the applicant's legal name, ignoring spacing, the
    separator dot in names like 买买提·艾力, and the case of Latin letters."""

    def fold(name: str) -> str:
        return _NAME_SEPARATORS.sub("", unicodedata.normalize("NFKC", name)).casefold()

    folded = fold(holder)
    return bool(folded) and folded == fold(legal_name)
