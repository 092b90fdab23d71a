"""The acquirers the portal talks to (docs/acquirer-api.md), configured by staff in the admin:
where they are, the key the portal signs with, how often their feeds are polled, and what
went wrong with them."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.fields import EncryptedTextField


class Acquirer(models.Model):
    """One acquirer: its API, the key the portal signs with, and the state of the circuit
    breaker every worker shares (it lives here, in the database, so that all of them see it
    and so do staff)."""

    code = models.SlugField(
        _("code"),
        max_length=20,
        unique=True,
        help_text=_("Stored on every transaction and payout from this acquirer."),
    )
    name = models.CharField(_("name"), max_length=100)
    base_url = models.URLField(_("API address"), max_length=300)
    key_id = models.CharField(_("key ID"), max_length=100)
    # The shared secret that signs requests and checks webhooks: encrypted at rest, never
    # shown back in the admin.
    secret = EncryptedTextField(_("secret"))
    enabled = models.BooleanField(_("enabled"), default=True)
    transactions_poll_seconds = models.PositiveIntegerField(
        _("poll transactions every (seconds)"), default=60
    )
    payouts_poll_seconds = models.PositiveIntegerField(
        _("poll payouts every (seconds)"), default=60
    )
    breaker_failures = models.PositiveIntegerField(_("failures in a row"), default=0)
    breaker_opened_at = models.DateTimeField(_("breaker opened"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("last successful call"), null=True, blank=True)
    last_failure_at = models.DateTimeField(_("last failed call"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("acquirer")
        verbose_name_plural = _("acquirers")
        ordering = ["code"]
        permissions = [("test_acquirer", _("Can test the connection to an acquirer"))]

    def __str__(self):
        return f"{self.name} ({self.code})"


class AcquirerFeed(models.Model):
    """Where the portal is in one of an acquirer's feeds: the high-water mark to ask from
    next, and how the last polls went."""

    class Kind(models.TextChoices):
        TRANSACTIONS = "transactions", _("Transactions")
        PAYOUTS = "payouts", _("Payouts")

    acquirer = models.ForeignKey(Acquirer, on_delete=models.CASCADE, related_name="feeds")
    kind = models.CharField(_("feed"), max_length=20, choices=Kind.choices)
    # Ask for records changed since this moment next time (the start of the last complete
    # poll, less a margin: overlap is harmless, a gap is not).
    high_water_mark = models.DateTimeField(_("changed since"), null=True, blank=True)
    last_polled_at = models.DateTimeField(_("last poll"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("last complete poll"), null=True, blank=True)
    last_failure_at = models.DateTimeField(_("last failed poll"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    records_applied = models.PositiveBigIntegerField(_("records applied"), default=0)
    records_refused = models.PositiveBigIntegerField(_("records refused"), default=0)
    stale_ignored = models.PositiveBigIntegerField(_("stale records ignored"), default=0)

    class Meta:
        verbose_name = _("acquirer feed")
        verbose_name_plural = _("acquirer feeds")
        ordering = ["acquirer", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["acquirer", "kind"], name="settlements_feed_once"),
        ]

    def __str__(self):
        return f"{self.acquirer.code} {self.kind}"


class AcquirerError(models.Model):
    """Something an acquirer sent that the portal refused, or a call that failed: what, when,
    from which acquirer, about which object, and the parser's message. Never a full card
    number (the parsers never echo one)."""

    class Source(models.TextChoices):
        CALL = "call", _("API call")
        TRANSACTIONS = "transactions", _("Transactions feed")
        PAYOUTS = "payouts", _("Payouts feed")
        WEBHOOK = "webhook", _("Webhook")
        REGISTRATION = "registration", _("Merchant registration")
        RECONCILIATION = "reconciliation", _("Reconciliation file")

    acquirer = models.ForeignKey(
        Acquirer, on_delete=models.CASCADE, null=True, blank=True, related_name="errors"
    )
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    endpoint = models.CharField(_("call"), max_length=200, blank=True)
    # The acquirer's id of the record refused, when there is one.
    object_id = models.CharField(_("record"), max_length=100, blank=True)
    message = models.TextField(_("what was wrong"))
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("acquirer error")
        verbose_name_plural = _("acquirer errors")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["acquirer", "source", "-created_at"], name="settlements_acqerr_source"
            ),
        ]

    def __str__(self):
        return f"{self.get_source_display()}: {self.message[:60]}"


class WebhookEvent(models.Model):
    """An event an acquirer sent to ``/webhooks/acquirer/``, stored as received once its
    signature checked out, then applied by a worker. Delivery is at least once: the id is
    unique, so a repeat is stored once and applied once. An event that cannot be applied (a
    merchant or payout the portal does not know, a record that fails its checks) keeps its
    ``error`` for staff instead of being dropped."""

    acquirer = models.ForeignKey(Acquirer, on_delete=models.PROTECT, related_name="webhooks")
    event_id = models.CharField(_("event"), max_length=100)
    type = models.CharField(_("type"), max_length=40)
    payload = models.JSONField(_("as received"))
    received_at = models.DateTimeField(_("received"), auto_now_add=True, db_index=True)
    applied_at = models.DateTimeField(_("applied"), null=True, blank=True)
    error = models.TextField(_("could not be applied"), blank=True)

    class Meta:
        verbose_name = _("acquirer webhook")
        verbose_name_plural = _("acquirer webhooks")
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["acquirer", "event_id"], name="settlements_webhook_once"
            ),
        ]
        indexes = [
            # Events still to apply: few, and read by every sweep.
            models.Index(
                fields=["received_at"],
                condition=models.Q(applied_at__isnull=True, error=""),
                name="settlements_webhook_pending",
            ),
        ]

    def __str__(self):
        return f"{self.type} {self.event_id}"
