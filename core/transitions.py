"""
The one way a status changes, for every model that has one.

A model with a status declares ``Status`` (TextChoices) and ``ALLOWED_TRANSITIONS`` (status →
set of statuses it may move to), and an event model extending ``core.models.StatusEvent``
whose foreign key to it has ``related_name="events"``. Services call ``transition()``; nothing
else writes the status column.

``transition()`` reads the row's current status, checks the table, and applies the change as
a conditional ``UPDATE … WHERE id = … AND status = <the status it read>``, writing the event in
the same database transaction. When another worker moved the row in between, the update
matches nothing; the status is read again and checked again, so the loser of a race is refused
with ``TransitionNotAllowed`` (or, where the table allows it, moves on from the new status):
no lost update, no read-modify-write of other columns, one event per change. Models with
django-simple-history get their history row too (a queryset update sends no signal).
"""

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import Source

# A row moved by someone else between our read and our update is read again this many times;
# each retry means another transition really committed in between, so this only bounds a
# pathological storm.
_ATTEMPTS = 5


class StateError(ValidationError):
    """The row is not in a state that allows this operation. Each app's own refusals
    (``ApplicationStateError`` …) extend it, so a caller can catch every kind at once."""


class TransitionNotAllowed(StateError):
    """The allowed-transitions table has no move from the row's current status to the one
    asked for (someone else may have acted first)."""

    def __init__(self, *, model: type[models.Model], current: str, target: str):
        self.model = model
        self.current = current
        self.target = target
        super().__init__(
            _("This %(thing)s is “%(current)s” and cannot become “%(target)s”."),
            code="transition_not_allowed",
            params={
                "thing": model._meta.verbose_name,
                "current": status_label(model, current),
                "target": status_label(model, target),
            },
        )


def source_of(actor) -> str:
    """Who made a change, when the caller does not say: staff, a customer, or the portal
    itself (a job, with no actor)."""
    if actor is None:
        return Source.PORTAL
    return Source.STAFF if actor.is_staff else Source.CUSTOMER


def status_label(model: type[models.Model], status: str) -> str:
    try:
        return str(model.Status(status).label)
    except ValueError:
        return status


def allowed(model: type[models.Model], current: str, target: str) -> bool:
    return target in model.ALLOWED_TRANSITIONS.get(current, ())


def transition(
    instance: models.Model,
    to_status: str,
    *,
    actor=None,
    reason: str = "",
    source: str = "",
    updates: dict | None = None,
    event: dict | None = None,
    where: Q | None = None,
):
    """Move ``instance`` to ``to_status`` and record the event; return the event row.

    ``where`` adds a condition the row must meet as well (a job's lease has expired): when the
    status allows the move but the condition does not hold, the move is refused the same way.

    ``updates`` are other columns set in the same UPDATE (``paid_at``, ``reviewer``…);
    ``event`` are extra columns of the model's own event model (``reason_code``…);
    ``source`` defaults to what ``source_of(actor)`` says. The
    instance is reloaded from the database afterwards. Raises ``TransitionNotAllowed`` when
    the table has no such move from the row's status as it is in the database. Call it inside
    the caller's ``atomic()`` when other writes must stand or fall with it; it opens its own
    otherwise.
    """
    model = type(instance)
    if to_status not in model.Status.values:
        raise TransitionNotAllowed(model=model, current=instance.status, target=to_status)
    fields = {"status": to_status, **(updates or {})}
    for field in model._meta.concrete_fields:
        # A queryset update skips auto_now; the row did change.
        if getattr(field, "auto_now", False) and field.name not in fields:
            fields[field.name] = timezone.now()
    rows = model._default_manager.filter(pk=instance.pk)
    with transaction.atomic():
        for _attempt in range(_ATTEMPTS):
            current = rows.values_list("status", flat=True).get()
            if not allowed(model, current, to_status):
                raise TransitionNotAllowed(model=model, current=current, target=to_status)
            candidates = rows.filter(status=current)
            if where is not None:
                candidates = candidates.filter(where)
            if candidates.update(**fields):
                break
            if where is not None and rows.filter(status=current).exists():
                # Still in that status: it is the extra condition that does not hold.
                raise TransitionNotAllowed(model=model, current=current, target=to_status)
        else:  # pragma: no cover - needs five other transitions to commit within this one
            raise TransitionNotAllowed(model=model, current=current, target=to_status)
        recorded = instance.events.create(
            from_status=current,
            to_status=to_status,
            actor=actor,
            reason=reason,
            source=source or source_of(actor),
            **(event or {}),
        )
        instance.refresh_from_db()
        history = getattr(model, "history", None)
        if history is not None and hasattr(history, "bulk_history_create"):
            history.bulk_history_create([instance], update=True, default_user=actor)
    return recorded


def event_record(
    instance: models.Model,
    *,
    from_status: str | None = None,
    actor=None,
    reason: str = "",
    source: str = "",
    event: dict | None = None,
):
    """Write an event for ``instance`` in its current status without changing it: its creation
    (``from_status=""``), or something worth a line on its timeline (an unlock). Not a
    transition: the status column is not touched."""
    return instance.events.create(
        from_status=instance.status if from_status is None else from_status,
        to_status=instance.status,
        actor=actor,
        reason=reason,
        source=source or source_of(actor),
        **(event or {}),
    )
