from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import StatusEvent
from portal.models.accounts import User


class Merchant(models.Model):
    """An approved applicant who takes payments under a merchant number (MID)."""

    class Status(models.TextChoices):
        CONTRACT_PENDING = "contract_pending", _("Contract pending")
        CONTRACT_SIGNED = "contract_signed", _("Contract signed")
        TERMINAL_SHIPPED = "terminal_shipped", _("Terminal shipped")
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        CLOSED = "closed", _("Closed")

    ALLOWED_TRANSITIONS = {
        Status.CONTRACT_PENDING: {Status.CONTRACT_SIGNED, Status.SUSPENDED, Status.CLOSED},
        Status.CONTRACT_SIGNED: {Status.TERMINAL_SHIPPED, Status.SUSPENDED, Status.CLOSED},
        Status.TERMINAL_SHIPPED: {Status.ACTIVE, Status.SUSPENDED, Status.CLOSED},
        Status.ACTIVE: {Status.SUSPENDED, Status.CLOSED},
        Status.SUSPENDED: {Status.ACTIVE, Status.CLOSED},
        Status.CLOSED: set(),
    }

    mid = models.CharField(
        _("merchant number (MID)"),
        max_length=15,
        unique=True,
        validators=[RegexValidator(r"^\d{15}$", _("A merchant number has 15 digits."))],
    )
    name = models.CharField(_("business name"), max_length=100)
    user = models.OneToOneField(
        User, on_delete=models.PROTECT, related_name="merchant", verbose_name=_("account")
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.CONTRACT_PENDING
    )
    fee_schedule = models.ForeignKey(
        "portal.FeeSchedule",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merchants",
        verbose_name=_("fee schedule"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        ordering = ["-created_at"]
        permissions = [
            ("export_merchant_file", _("Can export a merchant's file, with full identity data")),
        ]

    def __str__(self):
        return f"{self.name} ({self.mid})"


class MidSerial(models.Model):
    """The last MID serial handed out for one region and merchant category."""

    MAX_SERIAL = 9999

    region_code = models.CharField(max_length=4)
    mcc = models.CharField(max_length=4)
    last_serial = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["region_code", "mcc"], name="portal_midserial_unique"),
            models.CheckConstraint(
                condition=Q(last_serial__lte=9999), name="portal_midserial_max_9999"
            ),
        ]

    def __str__(self):
        return f"{self.region_code}/{self.mcc}: {self.last_serial}"


class MerchantEvent(StatusEvent):
    """A merchant's status change: who, when, why."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=20, choices=Merchant.Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Merchant.Status.choices)

    class Meta(StatusEvent.Meta):
        verbose_name = _("merchant event")
        verbose_name_plural = _("merchant events")
