from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.models.accounts import User


class PiiAccess(models.Model):
    """A staff member saw full identity data: an ID card or bank card photo, a search by a full
    ID or account number, a merchant-file export. Written by ``services.pii_access_record``;
    never the number itself, only what was reached and how. Read-only in the admin."""

    class Kind(models.TextChoices):
        DOCUMENT = "document", _("Opened an identity document")
        SEARCH = "search", _("Searched by a full number")
        EXPORT = "export", _("Exported a merchant file")

    user = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="pii_accesses", verbose_name=_("staff user")
    )
    kind = models.CharField(_("access"), max_length=20, choices=Kind.choices)
    target = models.CharField(_("record"), max_length=100, blank=True)
    detail = models.CharField(_("detail"), max_length=200, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("access to personal data")
        verbose_name_plural = _("accesses to personal data")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["user", "-at"], name="portal_piiaccess_user_at")]

    def __str__(self):
        return f"{self.user} · {self.get_kind_display()} · {self.target}"
