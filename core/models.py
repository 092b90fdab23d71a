"""What every app builds on: the abstract ``StatusEvent`` of each status timeline, and
``Job``, the record of a piece of background work (core/jobs.py)."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
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


class Job(models.Model):
    """One piece of background work that must not get lost: a reconciliation import, a
    registration with the acquirer, a polling batch. The broker only rings the bell; this
    row is the record. A worker takes the job by leasing it (``locked_until``, taken with a
    conditional update, so two workers never run it at once) and keeps the lease fresh while
    it works; a job whose lease ran out without a result was lost with its worker, and the
    sweep (core/jobs.py) rings for it again, until ``max_attempts``, then fails it with the
    reason. Staff see and retry jobs in the admin.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    ALLOWED_TRANSITIONS = {
        Status.QUEUED: {Status.RUNNING, Status.FAILED},
        # Running again: a new worker takes over a lease that expired with the old one.
        Status.RUNNING: {Status.RUNNING, Status.QUEUED, Status.DONE, Status.FAILED},
        Status.DONE: set(),
        # Staff retry a failed job.
        Status.FAILED: {Status.QUEUED},
    }

    kind = models.CharField(_("kind"), max_length=60)
    subject_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, verbose_name=_("subject type")
    )
    subject_id = models.PositiveBigIntegerField(_("subject"))
    subject = GenericForeignKey("subject_type", "subject_id")
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    max_attempts = models.PositiveSmallIntegerField(_("most attempts"), default=3)
    # While running: until when the worker holding it is known to be alive.
    locked_until = models.DateTimeField(_("leased until"), null=True, blank=True)
    locked_by = models.CharField(_("worker"), max_length=200, blank=True)
    # While queued: not before this (a failed attempt waits a little before the next).
    available_at = models.DateTimeField(_("not before"), default=timezone.now)
    # When the broker was last asked to deliver it.
    rung_at = models.DateTimeField(_("last enqueued"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("started by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("background job")
        verbose_name_plural = _("background jobs")
        ordering = ["-created_at", "-pk"]
        permissions = [("retry_job", _("Can retry a failed or stuck background job"))]
        constraints = [
            # One unfinished job of a kind per subject: a second import of a run is the same.
            models.UniqueConstraint(
                fields=["kind", "subject_type", "subject_id"],
                condition=Q(status__in=["queued", "running"]),
                name="core_job_one_open_per_subject",
            ),
        ]
        indexes = [
            # The sweep: unfinished jobs whose lease or wait is over. Finished ones, the vast
            # majority, are not in it.
            models.Index(
                fields=["status", "locked_until"],
                condition=Q(status__in=["queued", "running"]),
                name="core_job_open",
            ),
            models.Index(fields=["subject_type", "subject_id"], name="core_job_subject"),
        ]

    def __str__(self):
        return f"{self.kind} #{self.pk}"


class JobEvent(StatusEvent):
    """A job's attempt started, finished, failed, was taken over or retried: who, why, when."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=10, choices=Job.Status.choices, blank=True)
    to_status = models.CharField(max_length=10, choices=Job.Status.choices)

    class Meta(StatusEvent.Meta):
        verbose_name = _("background job event")
        verbose_name_plural = _("background job events")
