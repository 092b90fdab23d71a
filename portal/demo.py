"""
Demo data for `manage.py seed_demo`: the terminal catalogue and applications in every status,
built through the same services the portal uses, so the demo shows what real use produces.
Every function is idempotent: what exists is left as it is.
"""

import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image, ImageDraw
from stdnum import luhn
from stdnum.cn import ric

from core import uploads
from portal import services
from portal.models import (
    Application,
    ApplicationEvent,
    Contract,
    FeeSchedule,
    Merchant,
    Terminal,
    TerminalProduct,
    User,
)
from portal.models.documents import required_slots
from portal.services import contracts as contract_services

FEE_SCHEDULES = [
    {
        "code": "standard-t1",
        "name": "标准费率（T+1 到账）",
        "name_en": "Standard rates (next-day settlement)",
        "debit_rate": Decimal("0.0050"),
        "debit_cap": Decimal("20.00"),
        "credit_rate": Decimal("0.0060"),
        "unionpay_qr_rate": Decimal("0.0038"),
        "wechat_pay_rate": Decimal("0.0038"),
        "alipay_rate": Decimal("0.0038"),
        "settlement_cycle": FeeSchedule.Cycle.T1,
    },
    {
        "code": "instant-d0",
        "name": "秒到费率（D0 当日到账）",
        "name_en": "Instant rates (same-day settlement)",
        "debit_rate": Decimal("0.0050"),
        "debit_cap": Decimal("25.00"),
        "credit_rate": Decimal("0.0060"),
        "unionpay_qr_rate": Decimal("0.0038"),
        "wechat_pay_rate": Decimal("0.0038"),
        "alipay_rate": Decimal("0.0038"),
        "settlement_cycle": FeeSchedule.Cycle.D0,
        "d0_surcharge_rate": Decimal("0.0005"),
    },
]

PRODUCTS = [
    {
        "code": "mpos",
        "kind": TerminalProduct.Kind.MPOS,
        "name": "电签 POS 机",
        "name_en": "mPOS card reader",
        "description": "小巧便携，手机号即可开通；支持刷卡、插卡、挥卡和扫码。",
        "description_en": "Pocket-sized; takes swipe, chip, tap and QR payments.",
        "price": Decimal("99.00"),
        "deposit": Decimal("0.00"),
        "fee_schedule": "instant-d0",
        "sort_order": 1,
    },
    {
        "code": "traditional",
        "kind": TerminalProduct.Kind.TRADITIONAL,
        "name": "传统 POS 机",
        "name_en": "Countertop POS terminal",
        "description": "带打印机的台式终端，适合固定门店。",
        "description_en": "Countertop terminal with a receipt printer, for a fixed shop.",
        "price": Decimal("299.00"),
        "deposit": Decimal("99.00"),
        "fee_schedule": "standard-t1",
        "sort_order": 2,
    },
    {
        "code": "smart",
        "kind": TerminalProduct.Kind.SMART,
        "name": "智能 POS 机",
        "name_en": "Smart POS terminal",
        "description": "安卓大屏，收银、会员和扫码一体。",
        "description_en": "Android touch screen: till, loyalty and QR in one.",
        "price": Decimal("699.00"),
        "deposit": Decimal("0.00"),
        "fee_schedule": "standard-t1",
        "sort_order": 3,
    },
    {
        "code": "qr-stand",
        "kind": TerminalProduct.Kind.QR_STAND,
        "name": "收款码牌",
        "name_en": "QR code stand",
        "description": "一牌多码，微信、支付宝、云闪付都能扫。",
        "description_en": "One stand for WeChat Pay, Alipay and UnionPay QR.",
        "price": Decimal("0.00"),
        "deposit": Decimal("0.00"),
        "fee_schedule": "standard-t1",
        "sort_order": 4,
    },
]


def seed_catalogue() -> None:
    for values in FEE_SCHEDULES:
        FeeSchedule.objects.get_or_create(code=values["code"], defaults=values)
    for values in PRODUCTS:
        schedule = FeeSchedule.objects.get(code=values["fee_schedule"])
        TerminalProduct.objects.get_or_create(
            code=values["code"], defaults={**values, "fee_schedule": schedule}
        )


def resident_id(area: str, birth: date, sequence: int) -> str:
    body = f"{area}{birth:%Y%m%d}{sequence:03d}"
    # stdnum computes the check character from the first 17 of 18: give it a placeholder.
    return body + ric.calc_check_digit(body + "0")


def card_number(prefix: str, length: int, serial: int) -> str:
    body = f"{prefix}{serial:0{length - len(prefix) - 1}d}"
    return body + luhn.calc_check_digit(body)


@dataclass(frozen=True)
class DemoApplicant:
    mobile: str
    name: str
    status: str
    business: str
    birth: date
    card: str


APPLICANTS = [
    DemoApplicant(
        "13900000001",
        "陈小花",
        Application.Status.DRAFT,
        "小花鲜花店",
        date(1992, 3, 8),
        card_number("622202", 19, 1001),
    ),
    DemoApplicant(
        "13900000002",
        "刘建国",
        Application.Status.SUBMITTED,
        "建国五金",
        date(1975, 7, 1),
        card_number("621700", 19, 1002),
    ),
    DemoApplicant(
        "13900000003",
        "赵丽",
        Application.Status.IN_REVIEW,
        "丽丽美发",
        date(1988, 11, 20),
        card_number("622848", 19, 1003),
    ),
    DemoApplicant(
        "13900000004",
        "孙强",
        Application.Status.NEEDS_INFO,
        "强子烧烤",
        date(1990, 5, 5),
        card_number("622588", 16, 1004),
    ),
    DemoApplicant(
        "13900000005",
        "周敏",
        Application.Status.REJECTED,
        "敏敏服饰",
        date(1952, 1, 15),
        card_number("621483", 16, 1005),
    ),
    # Approved, contract waiting: log in to try signing it.
    DemoApplicant(
        "13900000007",
        "郑爽",
        Application.Status.APPROVED,
        "爽爽奶茶",
        date(1995, 4, 4),
        card_number("622202", 19, 1007),
    ),
    # Shares the in-review applicant's card: the reviewer sees a duplicate-account flag.
    DemoApplicant(
        "13900000006",
        "吴磊",
        Application.Status.IN_REVIEW,
        "吴记面馆",
        date(1985, 9, 9),
        card_number("622848", 19, 1003),
    ),
]


def demo_values(person: DemoApplicant, index: int, product: TerminalProduct) -> dict:
    return {
        "applicant_type": Application.ApplicantType.INDIVIDUAL,
        "legal_name": person.name,
        "id_number": resident_id("310104", person.birth, 10 + index),
        "id_valid_from": date(2020, 6, 1),
        "id_valid_until": date(2040, 6, 1),
        "id_long_term": False,
        "contact_mobile": person.mobile,
        "contact_email": f"applicant{index}@demo.pos-portal.local",
        "business_name": person.business,
        "province": "31",
        "city": "3101",
        "district": "310104",
        "street": f"漕溪北路 {100 + index} 号",
        "mcc": "5411",
        "expected_monthly_volume": Decimal("50000.00"),
        "account_type": Application.AccountType.PERSONAL,
        "account_number": person.card,
        "bank_branch": "上海徐汇支行",
        "account_holder": person.name,
        "product": product,
        "quantity": 1,
        "ship_name": person.name,
        "ship_mobile": person.mobile,
        "ship_province": "31",
        "ship_city": "3101",
        "ship_district": "310104",
        "ship_street": f"漕溪北路 {100 + index} 号",
    }


def demo_photo(slot: str) -> uploads.CleanUpload:
    """A stand-in photo for a document slot (a card-shaped drawing marked DEMO), passed
    through the same checks as a real upload."""
    image = Image.new("RGB", (856, 540), (232, 240, 254))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((20, 20, 836, 520), radius=28, outline=(13, 110, 253), width=6)
    draw.rectangle((60, 80, 260, 320), fill=(200, 214, 240))
    draw.text((300, 90), f"DEMO · {slot}", fill=(33, 37, 41))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    upload = SimpleUploadedFile(f"{slot}.png", buffer.getvalue(), content_type="image/png")
    return uploads.upload_clean(upload)


def upload_required_documents(application: Application, actor: User) -> None:
    """Upload a stand-in for every required document the application does not have yet."""
    present = services.documents_current(application)
    for slot in required_slots(application):
        if slot in present:
            continue
        services.document_upload(
            application=application, slot=slot, document=demo_photo(slot), actor=actor
        )


def seed_application(
    *, user: User, values: dict, status: str, reviewer: User, today: date
) -> Application:
    """An application for ``user`` brought to ``status`` through the real services."""
    application, _created = services.application_start(applicant=user)
    if application.status == Application.Status.DRAFT:
        services.application_save_fields(application=application, values=values)
        upload_required_documents(application, user)
    Status = Application.Status
    if status == Status.DRAFT:
        return application
    services.application_submit(application=application, actor=user, today=today)
    if status == Status.SUBMITTED:
        return application
    services.application_start_review(application=application, reviewer=reviewer)
    if status == Status.IN_REVIEW:
        return application
    if status == Status.NEEDS_INFO:
        return services.application_request_info(
            application=application,
            reviewer=reviewer,
            items=[("settlement_account", "银行卡照片上的卡号与填写的不一致，请核对后重新填写。")],
        )
    if status == Status.REJECTED:
        return services.application_reject(
            application=application,
            reviewer=reviewer,
            reason=ApplicationEvent.RejectionReason.CATEGORY,
            note="该经营类别暂不支持个人商户。",
        )
    return services.application_approve(application=application, reviewer=reviewer)


def seed_applications(*, reviewer: User, today: date, password: str) -> list[tuple[str, str]]:
    product = TerminalProduct.objects.get(code="mpos")
    logins = []
    for index, person in enumerate(APPLICANTS, start=1):
        user, created = User.objects.get_or_create(
            username=person.mobile, defaults={"mobile": person.mobile}
        )
        if created or not user.has_usable_password():
            user.set_password(password)
            user.save()
        if not user.applications.exists():
            seed_application(
                user=user,
                values=demo_values(person, index, product),
                status=person.status,
                reviewer=reviewer,
                today=today,
            )
        logins.append((person.mobile, f"applicant, application {person.status}"))
    return logins


def seed_merchant_application(
    *, user: User, name: str, business: str, reviewer: User, today: date
) -> Application | None:
    """The demo merchant, approved from an application like any other merchant."""
    if hasattr(user, "merchant") or user.applications.exists():
        return None
    person = DemoApplicant(
        user.mobile,
        name,
        Application.Status.APPROVED,
        business,
        date(1980, 8, 18),
        card_number("621226", 19, 2001),
    )
    values = demo_values(person, 99, TerminalProduct.objects.get(code="traditional"))
    values["contact_email"] = user.email
    return seed_application(
        user=user, values=values, status=Application.Status.APPROVED, reviewer=reviewer, today=today
    )


def demo_signature() -> bytes:
    """A drawn-looking signature: a few strokes on a transparent canvas."""
    image = Image.new("RGBA", (600, 180), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.line(
        [(30, 120), (120, 40), (180, 130), (260, 50), (330, 140), (420, 60)], fill="black", width=6
    )
    draw.line([(440, 100), (570, 90)], fill="black", width=5)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


DEMO_CODE = "246810"


def sign_contract(contract: Contract, user: User) -> Contract:
    """Sign a demo contract the way the merchant would, with a code set for the demo instead
    of one sent by e-mail."""
    Contract.objects.filter(pk=contract.pk).update(
        code_hash=contract_services._code_digest(contract, DEMO_CODE),
        code_expires_at=timezone.now() + timedelta(minutes=10),
        code_attempts=0,
        code_sent_to="demo",
    )
    application = contract.merchant.application
    return services.contract_sign(
        contract=contract,
        user=user,
        signing=services.SigningRequest(
            typed_name=application.legal_name,
            code=DEMO_CODE,
            signature_png=demo_signature(),
            consent=True,
            ip="127.0.0.1",
            user_agent="seed_demo",
        ),
    )


def make_merchant_active(merchant: Merchant, *, staff: User, serial: str, tid: str) -> None:
    """Sign the contract, ship a terminal and activate it: a merchant ready to take payments."""
    contract = merchant.contracts.filter(status=Contract.Status.PENDING).first()
    if contract is not None:
        sign_contract(contract, merchant.user)
    if merchant.terminals.exists():
        return
    terminal = services.terminal_assign(
        merchant=merchant,
        product=merchant.application.product,
        serial_number=serial,
        tid=tid,
        model="DEMO-P2",
        actor=staff,
    )
    services.terminal_transition(
        terminal=terminal, to_status=Terminal.Status.READY_TO_SHIP, actor=staff
    )
    services.terminal_transition(
        terminal=terminal,
        to_status=Terminal.Status.SHIPPED,
        actor=staff,
        carrier="顺丰速运",
        tracking_number=f"SF{tid}0000",
    )
    terminal.refresh_from_db()
    services.terminal_activate(terminal=terminal, user=merchant.user, code=terminal.activation_code)


def add_terminal(
    merchant: Merchant, *, staff: User, product_code: str, serial: str, tid: str, model: str
) -> Terminal:
    """One more terminal for a merchant, assigned, shipped and activated through the services
    like the first. A terminal with this TID already there is returned as it is."""
    existing = Terminal.objects.filter(tid=tid).first()
    if existing is not None:
        return existing
    terminal = services.terminal_assign(
        merchant=merchant,
        product=TerminalProduct.objects.get(code=product_code),
        serial_number=serial,
        tid=tid,
        model=model,
        actor=staff,
    )
    services.terminal_transition(
        terminal=terminal, to_status=Terminal.Status.READY_TO_SHIP, actor=staff
    )
    services.terminal_transition(
        terminal=terminal,
        to_status=Terminal.Status.SHIPPED,
        actor=staff,
        carrier="顺丰速运",
        tracking_number=f"SF{tid}0000",
    )
    terminal.refresh_from_db()
    return services.terminal_activate(
        terminal=terminal, user=merchant.user, code=terminal.activation_code
    )
