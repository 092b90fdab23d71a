from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from core.masking import mask_email, mask_mobile
from core.validators import validate_cn_mobile


class User(AbstractUser):
    """An account: a customer (applicant, then merchant) or a member of staff.

    Customers sign in with their mobile number or e-mail; ``username`` is the internal handle,
    set from whichever they signed up with, and what staff sign in with.
    """

    mobile = models.CharField(
        _("mobile number"), max_length=11, blank=True, validators=[validate_cn_mobile]
    )
    # The language e-mails and notifications go out in: the one the customer last chose.
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
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


class Heartbeat(models.Model):
    """When a background process last proved it was alive (the worker runs a beat job)."""

    name = models.CharField(max_length=50, primary_key=True)
    seen_at = models.DateTimeField()

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self):
        return f"{self.name} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"
