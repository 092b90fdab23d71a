import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import StatusEvent
from portal.models.accounts import User
from portal.models.documents import private_storage
from portal.models.merchants import Merchant


class ContractTemplate(models.Model):
    """The wording of a contract. Editing in the admin saves a new version; a contract keeps
    the version it was made from, so what a merchant signed never changes under them."""

    code = models.SlugField(_("code"), max_length=40)
    version = models.PositiveIntegerField(_("version"), default=1)
    title = models.CharField(_("title"), max_length=100)
    body = models.TextField(
        _("terms"),
        help_text=_(
            "Sections start with a line “## heading”; paragraphs are separated by a blank "
            "line. {{ merchant_name }}, {{ mid }}, {{ legal_name }} and the other contract "
            "fields may be used."
        ),
    )
    requires_countersignature = models.BooleanField(
        _("needs a staff countersignature"), default=False
    )
    is_active = models.BooleanField(_("used for new contracts"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("contract template")
        verbose_name_plural = _("contract templates")
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="portal_template_version"),
            models.UniqueConstraint(
                fields=["code"], condition=Q(is_active=True), name="portal_template_one_active"
            ),
        ]

    def __str__(self):
        return f"{self.title} v{self.version}"


class Contract(models.Model):
    """A merchant's contract: the exact PDF offered, and once signed, the signed PDF with its
    audit trail. A signed contract is never changed (the service refuses, the admin shows
    it read-only)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for signature")
        SIGNED = "signed", _("Signed")
        EXPIRED = "expired", _("Expired")
        VOID = "void", _("Withdrawn")

    ALLOWED_TRANSITIONS = {
        Status.PENDING: {Status.SIGNED, Status.EXPIRED, Status.VOID},
        Status.SIGNED: set(),
        Status.EXPIRED: set(),
        Status.VOID: set(),
    }

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(_("contract number"), max_length=24, unique=True)
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="contracts", verbose_name=_("merchant")
    )
    template = models.ForeignKey(
        ContractTemplate, on_delete=models.PROTECT, related_name="contracts"
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    document = models.FileField(storage=private_storage, max_length=200)
    document_sha256 = models.CharField(_("SHA-256 of the contract"), max_length=64)
    # The particulars and terms exactly as printed in the PDF, shown on the signing page:
    # later edits to the merchant, its fees or the template change neither.
    terms = models.JSONField(default=dict, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    reminded_at = models.DateTimeField(_("reminder sent"), null=True, blank=True)

    # One-time code for signing: only its hash is kept.
    code_hash = models.CharField(max_length=128, blank=True)
    code_expires_at = models.DateTimeField(null=True, blank=True)
    code_attempts = models.PositiveSmallIntegerField(default=0)
    code_sends = models.PositiveSmallIntegerField(default=0)
    code_sent_at = models.DateTimeField(null=True, blank=True)
    code_sent_to = models.CharField(max_length=254, blank=True)

    signed_at = models.DateTimeField(_("signed"), null=True, blank=True)
    signer = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signer_name = models.CharField(_("name typed by the signer"), max_length=50, blank=True)
    signer_ip = models.GenericIPAddressField(_("signer's address"), null=True, blank=True)
    signer_user_agent = models.CharField(_("signer's browser"), max_length=300, blank=True)
    signature = models.FileField(storage=private_storage, max_length=200, blank=True)
    signed_document = models.FileField(storage=private_storage, max_length=200, blank=True)
    signed_sha256 = models.CharField(_("SHA-256 of the signed PDF"), max_length=64, blank=True)
    countersigned_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    countersigned_at = models.DateTimeField(_("countersigned"), null=True, blank=True)

    history = HistoricalRecords(excluded_fields=["code_hash"])

    class Meta:
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")
        ordering = ["-created_at"]
        permissions = [("countersign_contract", _("Can countersign contracts"))]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant"],
                condition=Q(status="pending"),
                name="portal_contract_one_pending_per_merchant",
            ),
        ]
        indexes = [
            models.Index(fields=["signed_sha256"], name="portal_contract_signed_sha"),
            models.Index(fields=["status", "expires_at"], name="portal_contract_status_exp"),
        ]

    def __str__(self):
        return self.number


class ContractEvent(StatusEvent):
    """A contract's status change: offered, signed, expired or withdrawn; who, when, why."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=20, choices=Contract.Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Contract.Status.choices)

    class Meta(StatusEvent.Meta):
        verbose_name = _("contract event")
        verbose_name_plural = _("contract events")
