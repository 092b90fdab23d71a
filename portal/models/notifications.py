import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.models.accounts import User


class Notification(models.Model):
    """Something the customer should know, shown in the portal and sent by e-mail.

    The text is not stored: ``kind`` and ``params`` are rendered in the reader's language when
    shown (portal/notifications.py), so a notification reads right in Chinese and in English.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    # Where the e-mail goes: the address given on the application, else the account's.
    email = models.EmailField(blank=True)
    kind = models.CharField(max_length=50)
    params = models.JSONField(default=dict, blank=True)
    url = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["user"], condition=Q(read_at__isnull=True), name="portal_notif_unread"
            ),
            models.Index(fields=["user", "-created_at"], name="portal_notif_user_created"),
        ]

    def __str__(self):
        return f"{self.kind} → {self.user_id}"
