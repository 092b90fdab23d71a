"""What portal's notifications say (collected with every app's by core.notifications)."""

from django.utils.translation import gettext_lazy as _

from core.notifications import Text
from portal.models import ApplicationEvent


def _rejection(params: dict) -> dict:
    return {**params, "reason": ApplicationEvent.RejectionReason(params["reason"]).label}


TEXTS = {
    "application_submitted": Text(
        _("Application %(number)s received"),
        _(
            "Thank you. A reviewer will look at application %(number)s, usually within one "
            "business day. You can follow its progress in the portal."
        ),
    ),
    "application_in_review": Text(
        _("Application %(number)s is being reviewed"),
        _("A reviewer has started on application %(number)s."),
    ),
    "application_needs_info": Text(
        _("Application %(number)s needs more information"),
        _(
            "The reviewer asked you to correct %(count)s item(s) of application %(number)s. "
            "Open it to see what and why, fix them and send it again."
        ),
    ),
    "application_approved": Text(
        _("Application %(number)s approved"),
        _(
            "Welcome aboard! Your merchant number (MID) is %(mid)s. Next, sign your contract "
            "in the portal; then we ship your terminal."
        ),
    ),
    "application_rejected": Text(
        _("Application %(number)s was not approved"),
        _(
            "Reason: %(reason)s. %(note)s You may apply again once the reason no longer "
            "applies; call customer service if you have questions."
        ),
        prepare=_rejection,
    ),
    "contract_ready": Text(
        _("Your contract %(number)s is ready to sign"),
        _(
            "Read it and sign it online within %(days)s days. You will need your legal name, a "
            "finger or mouse to draw your signature, and a one-time code we send you."
        ),
    ),
    "contract_reminder": Text(
        _("Contract %(number)s is still waiting for your signature"),
        _("Please sign it before %(date)s; after that it expires and we must prepare a new one."),
    ),
    "contract_signed": Text(
        _("Contract %(number)s signed"),
        _(
            "Thank you. The signed contract with its signing certificate is in the portal. "
            "Next, we ship your terminal."
        ),
    ),
    "contract_expired": Text(
        _("Contract %(number)s expired unsigned"),
        _("Ask for a new contract in the merchant area when you are ready to sign."),
    ),
    "terminal_shipped": Text(
        _("Terminal %(tid)s is on its way"),
        _("Shipped with %(carrier)s, tracking number %(tracking)s."),
    ),
    "terminal_delivered": Text(
        _("Terminal %(tid)s delivered"),
        _("Activate it in the portal with the code on the label inside the box."),
    ),
    "terminal_undeliverable": Text(
        _("Terminal %(tid)s could not be delivered"),
        _(
            "The carrier %(carrier)s could not deliver it (tracking number %(tracking)s). We "
            "will call you to arrange a new delivery."
        ),
    ),
    "terminal_activated": Text(
        _("Terminal %(tid)s activated"),
        _("You can take payments with it now."),
    ),
}
