from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from portal.masking import mask_email, mask_mobile
from portal.validators import validate_cn_mobile


class User(AbstractUser):
    """An account: a customer (applicant, then merchant) or a member of staff.

    Customers sign in with their mobile number or e-mail; ``username`` is the internal handle,
    set from whichever they signed up with, and what staff sign in with.
    """

    mobile = models.CharField(
        _("mobile number"), max_length=11, blank=True, validators=[validate_cn_mobile]
    )

    objects = UserManager()

    class Meta(AbstractUser.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["mobile"], condition=~Q(mobile=""), name="portal_user_mobile_unique"
            ),
            models.UniqueConstraint(
                Lower("email"), condition=~Q(email=""), name="portal_user_email_ci_unique"
            ),
        ]

    def __str__(self):
        return self.display_login

    @property
    def display_login(self) -> str:
        """How the account is named on screen, masked: 138****8000 or d***@example.com."""
        if self.mobile:
            return mask_mobile(self.mobile)
        if self.email:
            return mask_email(self.email)
        return self.username

    @property
    def is_customer(self) -> bool:
        """Applicants and merchants use the merchant area; staff use the admin."""
        return self.is_active and not self.is_staff


class Merchant(models.Model):
    """An approved applicant who takes payments under a merchant number (MID)."""

    class Status(models.TextChoices):
        CONTRACT_PENDING = "contract_pending", _("Contract pending")
        CONTRACT_SIGNED = "contract_signed", _("Contract signed")
        TERMINAL_SHIPPED = "terminal_shipped", _("Terminal shipped")
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        CLOSED = "closed", _("Closed")

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
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        ordering = ["-created_at"]

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


class Heartbeat(models.Model):
    """When a background process last proved it was alive (the worker runs a beat job)."""

    name = models.CharField(max_length=50, primary_key=True)
    seen_at = models.DateTimeField()

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self):
        return f"{self.name} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"
