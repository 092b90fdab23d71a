"""Settlement accounts: the checks an acquirer runs before it pays into one, and how an
account is shown (masked) everywhere after the request that carried it.

A change is ``verified`` or ``rejected`` with a reason code and the bank's words for it. The
reason codes are the payout reason codes where the meaning is the same, so a merchant sees
one vocabulary: ACCOUNT_NAME_MISMATCH, INVALID_ACCOUNT_NUMBER, ACCOUNT_CLOSED.
"""

import re
from dataclasses import dataclass

ACCOUNT_RE = re.compile(r"^[0-9]{8,30}$")
BRANCH_RE = re.compile(r"^[0-9]{12}$")
BANK_CODE_RE = re.compile(r"^[A-Z0-9]{2,12}$")
# Personal bank cards (个人借记卡) carry a UnionPay BIN and a Luhn check digit; corporate
# accounts (对公账户) have bank-specific formats without one.
PERSONAL_CARD_RE = re.compile(r"^62[0-9]{14,17}$")
# The banks most merchants settle to, by the portal's bank codes; others show their code.
BANK_NAMES = {
    "ABC": "中国农业银行",
    "BJBANK": "北京银行",
    "BOC": "中国银行",
    "CCB": "中国建设银行",
    "CEB": "中国光大银行",
    "CIB": "兴业银行",
    "CITIC": "中信银行",
    "CMB": "招商银行",
    "CMBC": "中国民生银行",
    "COMM": "交通银行",
    "GDB": "广发银行",
    "HXBANK": "华夏银行",
    "ICBC": "中国工商银行",
    "PSBC": "中国邮政储蓄银行",
    "SHBANK": "上海银行",
    "SPABANK": "平安银行",
    "SPDB": "上海浦东发展银行",
}


def mask_account(number: str) -> str:
    """First 6 and last 4 digits, the rest as asterisks."""
    if len(number) <= 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def luhn_valid(number: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def bank_name(code: str) -> str:
    return BANK_NAMES.get(code, code)


@dataclass(frozen=True)
class Verdict:
    status: str  # verified | rejected
    reason_code: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Account:
    holder_name: str
    account_number: str
    bank_code: str
    branch_code: str

    @classmethod
    def from_payload(cls, payload) -> "Account":
        """The four fields as strings (missing ones empty); ``check`` judges them."""
        payload = payload if isinstance(payload, dict) else {}

        def text(name: str) -> str:
            value = payload.get(name)
            return value.strip() if isinstance(value, str) else ""

        return cls(
            holder_name=text("holder_name"),
            account_number=text("account_number").replace(" ", ""),
            bank_code=text("bank_code").upper(),
            branch_code=text("branch_code"),
        )

    def check(self) -> Verdict:
        """What the acquirer's account verification answers (the first problem found)."""
        if not self.holder_name or len(self.holder_name) > 100:
            return Verdict("rejected", "ACCOUNT_NAME_MISMATCH", "户名不能为空或过长")
        if not ACCOUNT_RE.match(self.account_number):
            return Verdict("rejected", "INVALID_ACCOUNT_NUMBER", "账号格式错误")
        if PERSONAL_CARD_RE.match(self.account_number) and not luhn_valid(self.account_number):
            return Verdict("rejected", "INVALID_ACCOUNT_NUMBER", "卡号校验位错误")
        if not BANK_CODE_RE.match(self.bank_code):
            return Verdict("rejected", "INVALID_ACCOUNT_NUMBER", "开户行代码错误")
        if not BRANCH_RE.match(self.branch_code):
            return Verdict("rejected", "INVALID_ACCOUNT_NUMBER", "联行号错误")
        return Verdict("verified")

    @property
    def masked(self) -> str:
        return mask_account(self.account_number)

    def as_stored(self) -> dict:
        return {
            "holder_name": self.holder_name,
            "account_number": self.account_number,
            "bank_code": self.bank_code,
            "branch_code": self.branch_code,
        }

    def as_shown(self) -> dict:
        """The account as every answer shows it: the number masked, the bank named."""
        return {
            "holder_name": self.holder_name,
            "account_masked": self.masked,
            "bank_code": self.bank_code,
            "bank_name": bank_name(self.bank_code),
            "branch_code": self.branch_code,
        }
