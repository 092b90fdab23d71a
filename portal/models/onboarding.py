import uuid
from datetime import time
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.fields import EncryptedTextField
from core.models import StatusEvent
from portal.models.accounts import User
from portal.models.merchants import Merchant

RATE_VALIDATORS = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("0.05"))]


def localized(zh: str, en: str) -> str:
    """Catalogue text kept in both languages: the one the page is in, Chinese as fallback."""
    language = get_language() or "zh-hans"
    return zh if language.startswith("zh") or not en else en


class FeeSchedule(models.Model):
    """What a merchant pays per transaction, per channel, and how fast money is settled.

    Rates are fractions (0.0060 is 0.60%). A debit-card cap (借记卡封顶) limits the fee of a
    single debit transaction. D0 (same-day) settlement costs a surcharge rate on top.
    """

    class Cycle(models.TextChoices):
        T1 = "t1", _("T+1 (next business day)")
        D0 = "d0", _("D0 (same day)")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    debit_rate = models.DecimalField(
        _("debit card rate"), max_digits=6, decimal_places=4, validators=RATE_VALIDATORS
    )
    debit_cap = models.DecimalField(
        _("debit card fee cap (CNY)"),
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    credit_rate = models.DecimalField(
        _("credit card rate"), max_digits=6, decimal_places=4, validators=RATE_VALIDATORS
    )
    unionpay_qr_rate = models.DecimalField(
        _("UnionPay QR rate"), max_digits=6, decimal_places=4, validators=RATE_VALIDATORS
    )
    wechat_pay_rate = models.DecimalField(
        _("WeChat Pay rate"), max_digits=6, decimal_places=4, validators=RATE_VALIDATORS
    )
    alipay_rate = models.DecimalField(
        _("Alipay rate"), max_digits=6, decimal_places=4, validators=RATE_VALIDATORS
    )
    settlement_cycle = models.CharField(
        _("settlement cycle"), max_length=2, choices=Cycle.choices, default=Cycle.T1
    )
    d0_surcharge_rate = models.DecimalField(
        _("D0 surcharge rate"),
        max_digits=6,
        decimal_places=4,
        default=Decimal("0"),
        validators=RATE_VALIDATORS,
    )
    # D0 is bounded: past the daily limit, or outside the window (Beijing time), a
    # transaction falls back to T+1 and carries no surcharge.
    d0_daily_limit = models.DecimalField(
        _("D0 daily limit (CNY)"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        default=Decimal("50000.00"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Sales above this per day settle T+1. Empty means no limit."),
    )
    d0_window_start = models.TimeField(_("D0 window opens"), default=time(0, 0))
    d0_window_end = models.TimeField(
        _("D0 window closes"),
        default=time(22, 0),
        help_text=_("Sales from this time until midnight settle T+1."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("fee schedule")
        verbose_name_plural = _("fee schedules")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    debit_rate__gte=0,
                    debit_rate__lte=Decimal("0.05"),
                    credit_rate__gte=0,
                    credit_rate__lte=Decimal("0.05"),
                    unionpay_qr_rate__gte=0,
                    unionpay_qr_rate__lte=Decimal("0.05"),
                    wechat_pay_rate__gte=0,
                    wechat_pay_rate__lte=Decimal("0.05"),
                    alipay_rate__gte=0,
                    alipay_rate__lte=Decimal("0.05"),
                    d0_surcharge_rate__gte=0,
                    d0_surcharge_rate__lte=Decimal("0.05"),
                ),
                name="portal_feeschedule_rates_0_to_5_percent",
            ),
            models.CheckConstraint(
                condition=Q(debit_cap__isnull=True) | Q(debit_cap__gte=0),
                name="portal_feeschedule_cap_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(d0_window_start__lt=F("d0_window_end")),
                name="portal_feeschedule_d0_window_ordered",
            ),
        ]

    def __str__(self):
        return self.display_name

    @property
    def display_name(self) -> str:
        return localized(self.name, self.name_en)

    def channel_rates(self) -> list[tuple[str, Decimal, Decimal | None]]:
        """(channel label, rate, cap) for every channel, in the order merchants know them."""
        return [
            (_("Debit card"), self.debit_rate, self.debit_cap),
            (_("Credit card"), self.credit_rate, None),
            (_("UnionPay QR"), self.unionpay_qr_rate, None),
            (_("WeChat Pay"), self.wechat_pay_rate, None),
            (_("Alipay"), self.alipay_rate, None),
        ]


class TerminalProduct(models.Model):
    """A terminal an applicant can order, with its price, deposit and fee schedule."""

    class Kind(models.TextChoices):
        TRADITIONAL = "traditional", _("Traditional POS")
        SMART = "smart", _("Smart POS")
        MPOS = "mpos", _("mPOS (电签)")
        QR_STAND = "qr_stand", _("QR code stand")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    name = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    description = models.TextField(_("description (Chinese)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    price = models.DecimalField(
        _("price (CNY)"), max_digits=10, decimal_places=2, validators=[MinValueValidator(0)]
    )
    deposit = models.DecimalField(
        _("deposit (CNY)"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(0)],
    )
    fee_schedule = models.ForeignKey(
        FeeSchedule,
        on_delete=models.PROTECT,
        related_name="products",
        verbose_name=_("fee schedule"),
    )
    max_quantity = models.PositiveSmallIntegerField(
        _("most per application"), default=5, validators=[MinValueValidator(1)]
    )
    is_active = models.BooleanField(_("on sale"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("order on the page"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("terminal product")
        verbose_name_plural = _("terminal products")
        ordering = ["sort_order", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(price__gte=0, deposit__gte=0), name="portal_product_money_not_negative"
            ),
        ]

    def __str__(self):
        return self.display_name

    @property
    def display_name(self) -> str:
        return localized(self.name, self.name_en)

    @property
    def display_description(self) -> str:
        return localized(self.description, self.description_en)


class Application(models.Model):
    """An application for a POS terminal: a draft filled in step by step, then reviewed.

    Status changes only through ``core.transitions.transition`` (called by
    portal.services.onboarding): the table below, a conditional update, an event row.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        IN_REVIEW = "in_review", _("In review")
        NEEDS_INFO = "needs_info", _("Needs information")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    ALLOWED_TRANSITIONS = {
        Status.DRAFT: {Status.SUBMITTED},
        Status.SUBMITTED: {Status.IN_REVIEW},
        Status.IN_REVIEW: {Status.NEEDS_INFO, Status.APPROVED, Status.REJECTED},
        Status.NEEDS_INFO: {Status.SUBMITTED},
        Status.APPROVED: set(),
        Status.REJECTED: set(),
    }
    OPEN_STATUSES = [Status.DRAFT, Status.SUBMITTED, Status.IN_REVIEW, Status.NEEDS_INFO]

    class ApplicantType(models.TextChoices):
        INDIVIDUAL = "individual", _("Individual without a business licence")
        SOLE_PROPRIETOR = "sole_proprietor", _("Individual business (个体工商户)")
        COMPANY = "company", _("Company")

    class AccountType(models.TextChoices):
        PERSONAL = "personal", _("Personal bank card (对私)")
        CORPORATE = "corporate", _("Corporate bank account (对公)")

    LICENSED_TYPES = [ApplicantType.SOLE_PROPRIETOR, ApplicantType.COMPANY]

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(_("application number"), max_length=20, unique=True)
    applicant = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="applications", verbose_name=_("applicant")
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.DRAFT
    )

    # Identity
    applicant_type = models.CharField(
        _("applicant type"), max_length=20, choices=ApplicantType.choices, blank=True
    )
    legal_name = models.CharField(_("legal name"), max_length=50, blank=True)
    id_number = EncryptedTextField(_("resident ID number"), null=True, blank=True)
    id_number_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    id_number_masked = models.CharField(
        _("resident ID number"), max_length=18, blank=True, editable=False
    )
    id_valid_from = models.DateField(_("ID valid from"), null=True, blank=True)
    id_valid_until = models.DateField(_("ID valid until"), null=True, blank=True)
    id_long_term = models.BooleanField(_("ID valid long-term"), default=False)
    contact_mobile = models.CharField(_("mobile number"), max_length=11, blank=True)
    contact_email = models.EmailField(_("e-mail"), blank=True)

    # Business
    business_name = models.CharField(_("business name"), max_length=100, blank=True)
    province = models.CharField(_("province"), max_length=12, blank=True)
    city = models.CharField(_("city"), max_length=12, blank=True)
    district = models.CharField(_("district"), max_length=12, blank=True)
    street = models.CharField(_("street address"), max_length=200, blank=True)
    mcc = models.CharField(_("business category (MCC)"), max_length=4, blank=True)
    expected_monthly_volume = models.DecimalField(
        _("expected monthly card takings (CNY)"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
    )
    licence_number = models.CharField(_("unified social credit code"), max_length=18, blank=True)

    # Settlement account
    account_type = models.CharField(
        _("settlement account type"), max_length=20, choices=AccountType.choices, blank=True
    )
    account_number = EncryptedTextField(_("settlement account number"), null=True, blank=True)
    account_number_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    account_number_masked = models.CharField(
        _("settlement account number"), max_length=40, blank=True, editable=False
    )
    bank_code = models.CharField(_("bank code"), max_length=20, blank=True)
    bank_name = models.CharField(_("bank"), max_length=100, blank=True)
    bank_branch = models.CharField(_("branch"), max_length=100, blank=True)
    account_holder = models.CharField(_("account holder"), max_length=100, blank=True)
    # PBoC account tier (1 = full account; 2 and 3 = e-accounts with daily limits): from the
    # BIN table when it knows, else as the applicant declared; empty when unknown.
    account_class = models.PositiveSmallIntegerField(
        _("account class"),
        null=True,
        blank=True,
        choices=[(1, "I"), (2, "II"), (3, "III")],
    )

    # Order and delivery
    product = models.ForeignKey(
        TerminalProduct,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="applications",
        verbose_name=_("terminal"),
    )
    quantity = models.PositiveSmallIntegerField(
        _("quantity"), default=1, validators=[MinValueValidator(1)]
    )
    ship_name = models.CharField(_("recipient"), max_length=50, blank=True)
    ship_mobile = models.CharField(_("recipient's mobile"), max_length=11, blank=True)
    ship_province = models.CharField(_("province"), max_length=12, blank=True)
    ship_city = models.CharField(_("city"), max_length=12, blank=True)
    ship_district = models.CharField(_("district"), max_length=12, blank=True)
    ship_street = models.CharField(_("street address"), max_length=200, blank=True)

    # Lifecycle
    submission_count = models.PositiveSmallIntegerField(_("submissions"), default=0)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    reviewer = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reviewed_applications",
        verbose_name=_("reviewer"),
    )
    merchant = models.OneToOneField(
        Merchant,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="application",
        verbose_name=_("merchant"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    # The full numbers stay out of the history: it keeps their masked forms and blind
    # indexes, which show that (and when) a number changed without another copy of it.
    history = HistoricalRecords(excluded_fields=["id_number", "account_number"])

    class Meta:
        verbose_name = _("application")
        verbose_name_plural = _("applications")
        ordering = ["-created_at"]
        permissions = [
            ("review_application", _("Can review applications: approve, reject, ask for more")),
        ]
        constraints = [
            # One application in progress per account: a second would split the review.
            models.UniqueConstraint(
                fields=["applicant"],
                condition=Q(status__in=["draft", "submitted", "in_review", "needs_info"]),
                name="portal_application_one_open_per_applicant",
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="portal_application_quantity_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "submitted_at"], name="portal_app_status_submitted"),
            models.Index(fields=["applicant", "-created_at"], name="portal_app_applicant_created"),
        ]

    def __str__(self):
        return self.number

    @property
    def is_licensed(self) -> bool:
        return self.applicant_type in self.LICENSED_TYPES

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class ApplicationEvent(StatusEvent):
    """One step on an application's timeline: a status change, by whom, when and why."""

    class RejectionReason(models.TextChoices):
        INCOMPLETE = "incomplete", _("Information incomplete or unreadable")
        IDENTITY = "identity", _("Identity could not be verified")
        ACCOUNT = "account", _("Settlement account not acceptable")
        CATEGORY = "category", _("Business category not accepted")
        RISK = "risk", _("Risk assessment")
        DUPLICATE = "duplicate", _("Duplicate application")
        OTHER = "other", _("Other")

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=20, choices=Application.Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Application.Status.choices)
    rejection_reason = models.CharField(max_length=20, choices=RejectionReason.choices, blank=True)

    class Meta(StatusEvent.Meta):
        verbose_name = _("application event")
        verbose_name_plural = _("application events")


class InfoRequestItem(models.Model):
    """One thing a reviewer asks the applicant to fix, and why."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="info_requests"
    )
    event = models.ForeignKey(
        ApplicationEvent, on_delete=models.CASCADE, related_name="info_requests"
    )
    item = models.CharField(_("what to fix"), max_length=40)
    reason = models.TextField(_("why"))
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("information request")
        verbose_name_plural = _("information requests")
        ordering = ["pk"]

    def __str__(self):
        return f"{self.item}: {self.reason}"


class RiskFlag(models.Model):
    """A reason for the reviewer to look twice, computed when the application is submitted."""

    class Code(models.TextChoices):
        DUPLICATE_ID = "duplicate_id", _("ID number used elsewhere")
        DUPLICATE_ACCOUNT = "duplicate_account", _("Settlement account used elsewhere")
        NAME_MISMATCH = "name_mismatch", _("Account holder is not the applicant")
        UNDER_18 = "under_18", _("Applicant under 18")
        OVER_70 = "over_70", _("Applicant over 70")
        HIGH_VOLUME = "high_volume", _("High expected volume for the category")

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="risk_flags"
    )
    code = models.CharField(_("flag"), max_length=30, choices=Code.choices)
    # What made it fire, for the reviewer: ids of the other applications, the ages, amounts.
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("risk flag")
        verbose_name_plural = _("risk flags")
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "code"], name="portal_riskflag_one_per_code"
            ),
        ]

    def __str__(self):
        return self.get_code_display()
