"""
Terminals: assigned to a merchant by staff, shipped with a tracking number, delivered (or
not), and activated by the merchant with the code printed on the box. The first shipment
moves the merchant to "terminal shipped", the first activation to "active".
"""

import hmac
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import transitions
from core.transitions import StateError, TransitionNotAllowed, transition
from core.validators import fold_width
from portal.models import Merchant, Terminal, TerminalProduct, User
from portal.services.merchants import merchant_transition
from portal.services.notifications import notify

Status = Terminal.Status
ACTIVATION_MAX_ATTEMPTS = 5


class TerminalStateError(StateError):
    pass


def terminal_assign(
    *,
    merchant: Merchant,
    product: TerminalProduct,
    serial_number: str,
    tid: str,
    model: str,
    actor: User,
) -> Terminal:
    """Assign a terminal from stock to a merchant, with a new activation code. The serial
    number and TID must be new (the database refuses duplicates)."""
    if merchant.status in (Merchant.Status.SUSPENDED, Merchant.Status.CLOSED):
        raise TerminalStateError(
            _("A suspended or closed merchant gets no terminal."), code="merchant_inactive"
        )
    terminal = Terminal(
        merchant=merchant,
        product=product,
        serial_number=serial_number.strip().upper(),
        tid=tid.strip(),
        model=model.strip(),
        activation_code=f"{secrets.randbelow(10**8):08d}",
    )
    terminal.full_clean()
    with transaction.atomic():
        terminal.save()
        transitions.event_record(terminal, from_status="", actor=actor)
    return terminal


def terminal_transition(
    *, terminal: Terminal, to_status: str, actor: User | None, note: str = "", **fields
) -> Terminal:
    """Move a terminal on (ready, shipped with carrier and tracking number, delivered,
    undeliverable) with an event row, telling the merchant what happened."""
    with transaction.atomic():
        locked = Terminal.objects.select_for_update().select_related("merchant").get(pk=terminal.pk)
        if not transitions.allowed(Terminal, locked.status, to_status):
            raise TransitionNotAllowed(model=Terminal, current=locked.status, target=to_status)
        if to_status == Status.SHIPPED:
            if not (fields.get("carrier") and fields.get("tracking_number")):
                raise ValidationError(
                    _("Give the carrier and the tracking number."), code="no_tracking"
                )
            if locked.merchant.status in (Merchant.Status.SUSPENDED, Merchant.Status.CLOSED):
                raise TerminalStateError(
                    _("A suspended or closed merchant gets no terminal."),
                    code="merchant_inactive",
                )
            if locked.merchant.status == Merchant.Status.CONTRACT_PENDING:
                raise TerminalStateError(
                    _("Ship only after the merchant has signed the contract."),
                    code="contract_unsigned",
                )
            fields["shipped_at"] = timezone.now()
        if to_status == Status.DELIVERED:
            fields["delivered_at"] = timezone.now()
        transition(locked, to_status, actor=actor, reason=note, updates=fields)
        if (
            to_status == Status.SHIPPED
            and locked.merchant.status == Merchant.Status.CONTRACT_SIGNED
        ):
            merchant_transition(
                merchant=locked.merchant,
                to_status=Merchant.Status.TERMINAL_SHIPPED,
                actor=actor,
                note=locked.tid,
            )
        kind = {
            Status.SHIPPED: "terminal_shipped",
            Status.DELIVERED: "terminal_delivered",
            Status.UNDELIVERABLE: "terminal_undeliverable",
        }.get(to_status)
        if kind:
            notify(
                user=locked.merchant.user,
                kind=kind,
                params={
                    "tid": locked.tid,
                    "carrier": locked.carrier,
                    "tracking": locked.tracking_number,
                },
                url=reverse("portal:terminal-list"),
            )
    terminal.refresh_from_db()
    return terminal


def terminal_activate(*, terminal: Terminal, user: User, code: str) -> Terminal:
    """The merchant activates a terminal in hand with its activation code. After
    ACTIVATION_MAX_ATTEMPTS wrong codes only customer service can help (the count is kept
    even when a try fails)."""
    if terminal.merchant.user_id != user.pk:
        raise TerminalStateError(_("This terminal is not yours."), code="not_yours")
    if terminal.merchant.status in (Merchant.Status.SUSPENDED, Merchant.Status.CLOSED):
        raise TerminalStateError(
            _("This merchant account is suspended; call customer service."),
            code="merchant_inactive",
        )
    code = fold_width(code).strip()
    with transaction.atomic():
        locked = Terminal.objects.select_for_update().get(pk=terminal.pk)
        if locked.status not in Terminal.ACTIVATABLE:
            raise TerminalStateError(
                _("This terminal cannot be activated now (%(status)s).")
                % {"status": Status(locked.status).label},
                code="not_activatable",
            )
        if locked.activation_attempts >= ACTIVATION_MAX_ATTEMPTS:
            raise TerminalStateError(
                _("Too many wrong codes. Call customer service to activate this terminal."),
                code="too_many_attempts",
            )
        locked.activation_attempts += 1
        locked.save(update_fields=["activation_attempts"])
        # compare_digest needs ASCII: anything else is simply wrong (and counted).
        right = code.isascii() and hmac.compare_digest(locked.activation_code, code)
    if not right:
        raise ValidationError(
            _("The activation code is not right. It is on the label inside the box."),
            code="wrong_code",
        )
    with transaction.atomic():
        terminal = terminal_transition(
            terminal=terminal, to_status=Status.ACTIVE, actor=user, activated_at=timezone.now()
        )
        merchant = terminal.merchant
        merchant.refresh_from_db()
        if merchant.status == Merchant.Status.TERMINAL_SHIPPED:
            merchant_transition(
                merchant=merchant, to_status=Merchant.Status.ACTIVE, actor=user, note=terminal.tid
            )
        notify(
            user=user,
            kind="terminal_activated",
            params={"tid": terminal.tid},
            url=reverse("portal:merchant-home"),
        )
    return terminal


def terminal_activation_unlock(*, terminal: Terminal, staff: User) -> Terminal:
    """Customer service lets a merchant try the activation code again (after checking who
    they are on the phone). Recorded as a terminal event."""
    with transaction.atomic():
        locked = Terminal.objects.select_for_update().get(pk=terminal.pk)
        locked.activation_attempts = 0
        locked.save(update_fields=["activation_attempts"])
        transitions.event_record(locked, actor=staff, reason="activation attempts reset")
    terminal.refresh_from_db()
    return terminal
