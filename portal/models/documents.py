import uuid

from django.core.files.storage import storages
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from portal.models.accounts import User
from portal.models.onboarding import Application
from portal.onboarding import DOCUMENT_LABELS


def private_storage():
    """Files no URL points at: served only through views that check who asks."""
    return storages["private"]


class ApplicationDocument(models.Model):
    """One uploaded document of an application (the current one for its slot, or replaced).

    The file is the re-encoded copy (core/uploads.py), stored under a random name.
    """

    Slot = models.TextChoices("Slot", [(k.upper(), (k, v)) for k, v in DOCUMENT_LABELS.items()])

    class Verdict(models.TextChoices):
        PENDING = "pending", _("Not checked yet")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="documents")
    slot = models.CharField(_("document"), max_length=30, choices=Slot.choices)
    file = models.FileField(storage=private_storage, max_length=200)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    pages = models.PositiveSmallIntegerField(null=True, blank=True)
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    uploaded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    replaced_at = models.DateTimeField(_("replaced"), null=True, blank=True)
    verdict = models.CharField(
        _("verdict"), max_length=20, choices=Verdict.choices, default=Verdict.PENDING
    )
    verdict_reason = models.TextField(_("reason"), blank=True)
    reviewed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["application", "slot", "-uploaded_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "slot"],
                condition=Q(replaced_at__isnull=True),
                name="portal_document_one_current_per_slot",
            ),
        ]

    def __str__(self):
        return f"{self.application_id}/{self.slot}"

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


def required_slots(application: Application) -> list[str]:
    """The documents an application needs before it can be submitted."""
    Slot = ApplicationDocument.Slot
    slots = [Slot.ID_FRONT, Slot.ID_BACK, Slot.HOLDING_ID]
    if application.account_type != Application.AccountType.CORPORATE:
        slots.append(Slot.BANK_CARD)
    if application.is_licensed:
        slots += [Slot.BUSINESS_LICENCE, Slot.STOREFRONT]
    return slots


def offered_slots(application: Application) -> list[str]:
    """Required first, then the optional ones that help the review."""
    required = required_slots(application)
    optional = [Slot for Slot in ApplicationDocument.Slot if Slot not in required]
    if not application.is_licensed:
        optional = [s for s in optional if s != ApplicationDocument.Slot.BUSINESS_LICENCE]
    return [*required, *optional]
