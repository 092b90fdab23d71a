"""Abstract models every app builds on. No concrete model lives here: ``core`` has no tables."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Source(models.TextChoices):
    """Who or what made a change happen."""

    ACQUIRER = "acquirer", _("Acquirer")
    STAFF = "staff", _("Staff")
    CUSTOMER = "customer", _("Customer")
    PORTAL = "portal", _("Portal")


class StatusEvent(models.Model):
    """One status change of one row, append-only: from, to, who, why, through what, when.

    Each model with a status has its own event model extending this one, with a foreign key
    to the row whose related name is ``events``; ``core.transitions.transition`` is the only
    writer. Subclasses redeclare ``from_status``/``to_status`` with their model's choices so
    that pages can show the labels.
    """

    from_status = models.CharField(_("from"), max_length=20, blank=True)
    to_status = models.CharField(_("to"), max_length=20)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    reason = models.TextField(_("why"), blank=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)

    class Meta:
        abstract = True
        ordering = ["created_at", "pk"]

    def __str__(self):
        subject = next(
            field
            for field in self._meta.concrete_fields
            if field.is_relation and field.remote_field.related_name == "events"
        )
        return f"{getattr(self, subject.attname)}: {self.from_status} → {self.to_status}"
