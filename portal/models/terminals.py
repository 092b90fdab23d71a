import uuid

from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.fields import EncryptedTextField
from core.models import StatusEvent
from portal.models.merchants import Merchant
from portal.models.onboarding import TerminalProduct


class Terminal(models.Model):
    """A POS terminal assigned to a merchant, from the warehouse to the counter."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Being prepared")
        READY_TO_SHIP = "ready_to_ship", _("Ready to ship")
        SHIPPED = "shipped", _("Shipped")
        DELIVERED = "delivered", _("Delivered")
        UNDELIVERABLE = "undeliverable", _("Could not be delivered")
        ACTIVE = "active", _("Activated")

    ALLOWED_TRANSITIONS = {
        Status.PENDING: {Status.READY_TO_SHIP},
        Status.READY_TO_SHIP: {Status.SHIPPED, Status.PENDING},
        Status.SHIPPED: {Status.DELIVERED, Status.UNDELIVERABLE, Status.ACTIVE},
        Status.UNDELIVERABLE: {Status.SHIPPED, Status.READY_TO_SHIP},
        # A merchant can activate as soon as the box is in hand, even before the carrier's
        # "delivered" scan arrives.
        Status.DELIVERED: {Status.ACTIVE},
        Status.ACTIVE: set(),
    }
    ACTIVATABLE = [Status.SHIPPED, Status.DELIVERED]

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="terminals", verbose_name=_("merchant")
    )
    product = models.ForeignKey(
        TerminalProduct, on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    serial_number = models.CharField(
        _("serial number (SN)"),
        max_length=40,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9-]{6,40}$", _("6 to 40 letters and digits."))],
    )
    tid = models.CharField(
        _("terminal ID (TID)"),
        max_length=8,
        unique=True,
        validators=[RegexValidator(r"^[0-9]{8}$", _("A terminal ID has 8 digits."))],
    )
    model = models.CharField(_("model"), max_length=60)
    activation_code = EncryptedTextField(_("activation code"))
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    carrier = models.CharField(_("carrier"), max_length=40, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=40, blank=True)
    shipped_at = models.DateTimeField(_("shipped"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    activated_at = models.DateTimeField(_("activated"), null=True, blank=True)
    activation_attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    history = HistoricalRecords(excluded_fields=["activation_code"])

    class Meta:
        verbose_name = _("terminal")
        verbose_name_plural = _("terminals")
        ordering = ["-created_at"]
        permissions = [
            ("unlock_activation_terminal", _("Can let a merchant try an activation code again")),
        ]

    def __str__(self):
        return f"{self.tid} ({self.serial_number})"


class TerminalEvent(StatusEvent):
    terminal = models.ForeignKey(Terminal, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=20, choices=Terminal.Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Terminal.Status.choices)

    class Meta(StatusEvent.Meta):
        verbose_name = _("terminal event")
        verbose_name_plural = _("terminal events")
