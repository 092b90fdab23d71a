import re
import unicodedata

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils.translation import gettext_lazy as _

from core.pdf import unprintable_characters

# Mainland China mobile numbers: 11 digits, 1 then 3-9 (carriers' number ranges). ASCII
# digits only: \d would also accept other scripts' digits and store them.
_CN_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_SEPARATORS = re.compile(r"[\s\-()]")


def fold_width(value: str) -> str:
    """Full-width characters to their ASCII forms: Chinese input methods type １３８… and ＠."""
    return unicodedata.normalize("NFKC", value)


def drop_invisible(value: str) -> str:
    """Text without control and format characters (zero-width spaces, direction overrides, NUL):
    pasted from chat apps they are invisible, and a direction override makes a name or an
    address display as something else."""
    return "".join(c for c in value if unicodedata.category(c) not in {"Cc", "Cf", "Co", "Cs"})


def normalize_cn_mobile(value: str) -> str | None:
    """Return the 11-digit form of a mainland mobile number, or None if it is not one.

    Accepts what people type: spaces, dashes and a +86 / 0086 / 86 country prefix.
    """
    digits = _SEPARATORS.sub("", fold_width(value).strip())
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == 11 + len(prefix):
            digits = digits[len(prefix) :]
            break
    return digits if _CN_MOBILE.fullmatch(digits) else None


def validate_cn_mobile(value: str) -> None:
    if normalize_cn_mobile(value) != value:
        raise ValidationError(
            _("Enter a mainland China mobile number: 11 digits starting with 13-19."),
            code="invalid_mobile",
        )


def parse_login(value: str) -> tuple[str, str]:
    """Tell a sign-up login apart: ``("mobile", "13800138000")`` or ``("email", "a@b.cn")``.

    Raises ``ValidationError`` for anything else, with a message that says what is expected.
    """
    value = fold_width(value).strip()
    if mobile := normalize_cn_mobile(value):
        return "mobile", mobile
    if "@" in value:
        EmailValidator(message=_("Enter a valid e-mail address."))(value)
        return "email", value
    if re.fullmatch(r"\+?[0-9 \-()]+", value):
        raise ValidationError(
            _("Enter a mainland China mobile number: 11 digits starting with 13-19."),
            code="invalid_mobile",
        )
    raise ValidationError(
        _("Enter a mainland China mobile number or an e-mail address."), code="invalid_login"
    )


def canonical_login(value: str) -> str:
    """One spelling per login, whatever was typed: "+86 138-0013-8000" → "13800138000",
    "Li@X.cn" → "li@x.cn". Lockouts and look-ups key on it."""
    value = fold_width(value).strip()
    if mobile := normalize_cn_mobile(value):
        return mobile
    return value.lower() if "@" in value else value


def validate_printable_in_contract(value: str) -> None:
    """Text that goes into the contract PDF must be drawable by its font (the 8,105
    standard characters of 通用规范汉字表 and more); anything else would vanish from the
    signed document. Traditional forms are the usual cause."""
    missing = unprintable_characters(value)
    if missing:
        raise ValidationError(
            _(
                "These characters cannot be printed in your contract: %(characters)s. Use the "
                "simplified forms, as on your ID card or business licence."
            ),
            code="unprintable",
            params={"characters": missing},
        )
