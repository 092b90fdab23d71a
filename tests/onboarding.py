"""Valid application data and applications in any status, for the onboarding tests."""

from datetime import date
from decimal import Decimal

from portal import demo, services
from portal.models import Application, FeeSchedule, TerminalProduct, User
from tests import factories

TODAY = date(2026, 11, 26)


def resident_id(birth: date = date(1990, 5, 17), sequence: int = 123, area: str = "310104"):
    return demo.resident_id(area, birth, sequence)


def debit_card(serial: int = 1) -> str:
    """A valid 19-digit ICBC debit card number (BIN 622202)."""
    return demo.card_number("622202", 19, serial)


def credit_card(serial: int = 1) -> str:
    """A valid 16-digit CMB credit card number (BIN 622575)."""
    return demo.card_number("622575", 16, serial)


def product(code: str = "mpos") -> TerminalProduct:
    schedule, _created = FeeSchedule.objects.get_or_create(
        code="test-standard",
        defaults={
            "name": "测试费率",
            "name_en": "Test rates",
            "debit_rate": Decimal("0.0050"),
            "debit_cap": Decimal("20.00"),
            "credit_rate": Decimal("0.0060"),
            "unionpay_qr_rate": Decimal("0.0038"),
            "wechat_pay_rate": Decimal("0.0038"),
            "alipay_rate": Decimal("0.0038"),
        },
    )
    item, _created = TerminalProduct.objects.get_or_create(
        code=code,
        defaults={
            "kind": TerminalProduct.Kind.MPOS,
            "name": "电签 POS 机",
            "name_en": "mPOS card reader",
            "price": Decimal("99.00"),
            "fee_schedule": schedule,
        },
    )
    return item


def complete_values(**overrides) -> dict:
    """Everything an individual applicant enters, valid on TODAY."""
    values = {
        "applicant_type": Application.ApplicantType.INDIVIDUAL,
        "legal_name": "李小龙",
        "id_number": resident_id(),
        "id_valid_from": date(2020, 1, 1),
        "id_valid_until": date(2040, 1, 1),
        "id_long_term": False,
        "contact_mobile": "13912340000",
        "contact_email": "li@example.cn",
        "business_name": "小龙便利店",
        "province": "31",
        "city": "3101",
        "district": "310104",
        "street": "漕溪北路 1 号",
        "mcc": "5411",
        "expected_monthly_volume": Decimal("80000.00"),
        "licence_number": "",
        "account_type": Application.AccountType.PERSONAL,
        "account_number": debit_card(),
        "bank_branch": "上海徐汇支行",
        "account_holder": "李小龙",
        "quantity": 1,
        "ship_name": "李小龙",
        "ship_mobile": "13912340000",
        "ship_province": "31",
        "ship_city": "3101",
        "ship_district": "310104",
        "ship_street": "漕溪北路 1 号",
    }
    values.update(overrides)
    values.setdefault("product", None)
    if values["product"] is None:
        values["product"] = product()
    return values


def draft(applicant: User | None = None, *, documents: bool = True, **overrides) -> Application:
    """A complete draft, with its required documents unless ``documents=False``."""
    applicant = applicant or factories.CustomerFactory()
    application, _created = services.application_start(applicant=applicant)
    application = services.application_save_fields(
        application=application, values=complete_values(**overrides)
    )
    if documents:
        demo.upload_required_documents(application, applicant)
    return application


def submitted(applicant: User | None = None, **overrides) -> Application:
    application = draft(applicant, **overrides)
    return services.application_submit(
        application=application, actor=application.applicant, today=TODAY
    )


def in_review(reviewer: User, applicant: User | None = None, **overrides) -> Application:
    application = submitted(applicant, **overrides)
    return services.application_start_review(application=application, reviewer=reviewer)
