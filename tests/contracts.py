"""Getting a merchant to a contract and signing it, for the contract, terminal and merchant-file
tests."""

import base64
import io
import re

from django.core import mail
from PIL import Image, ImageDraw

from portal import services
from portal.models import Contract, Merchant, User
from tests import factories
from tests import onboarding as data

LEGAL_NAME = "李小龙"  # the legal name in tests/onboarding.py complete_values()
CODE_PATTERN = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def signature_png(*, drawn: bool = True) -> bytes:
    """A signature as the signing pad sends it: a PNG on a transparent background."""
    image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    if drawn:
        ImageDraw.Draw(image).line((40, 150, 560, 50), fill=(0, 0, 0, 255), width=8)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def signature_data_url(png: bytes | None = None) -> str:
    png = signature_png() if png is None else png
    return "data:image/png;base64," + base64.b64encode(png).decode()


def approved_merchant(reviewer: User | None = None, applicant: User | None = None) -> Merchant:
    """An approved applicant's merchant, with the contract offered on approval."""
    reviewer = reviewer or factories.StaffFactory(group="reviewer")
    application = data.in_review(reviewer, applicant)
    return services.application_approve(application=application, reviewer=reviewer).merchant


def pending_contract(merchant: Merchant) -> Contract:
    return merchant.contracts.get(status=Contract.Status.PENDING)


def send_code(contract: Contract) -> str:
    """Ask for a signing code and read it from the e-mail that carried it."""
    services.contract_send_code(contract=contract, user=contract.merchant.user)
    return CODE_PATTERN.search(mail.outbox[-1].body).group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def signing(**overrides) -> services.SigningRequest:
    values = {
        "typed_name": LEGAL_NAME,
        "code": "",
        "signature_png": signature_png(),
        "consent": True,
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (iPhone) test",
    }
    values.update(overrides)
    return services.SigningRequest(**values)


def sign(contract: Contract, **overrides) -> Contract:
    code = overrides.pop("code", None) or send_code(contract)
    return services.contract_sign(
        contract=contract, user=contract.merchant.user, signing=signing(code=code, **overrides)
    )


def signed_contract(reviewer: User | None = None, applicant: User | None = None) -> Contract:
    """Approval through to a signed contract (the merchant is then contract_signed)."""
    return sign(pending_contract(approved_merchant(reviewer, applicant)))
