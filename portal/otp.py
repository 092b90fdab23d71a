"""
Where one-time codes go. By default by e-mail when the merchant gave an address, else by SMS;
the SMS sender is pluggable (``OTP_SMS_SENDER``): the default writes to the log, as a
development stand-in for a real SMS gateway.
"""

import logging
import smtplib
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from core.masking import mask_email, mask_mobile
from portal.models import User

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipient:
    channel: str  # "email" or "sms"
    address: str

    @property
    def masked(self) -> str:
        return mask_email(self.address) if self.channel == "email" else mask_mobile(self.address)


def recipient_for(user: User, *, email: str = "") -> Recipient:
    address = email or user.email
    if address:
        return Recipient("email", address)
    return Recipient("sms", user.mobile)


class CodeNotSent(Exception):
    """The code could not be sent (mail server down, no SMS gateway configured)."""


def send_code(*, recipient: Recipient, code: str, purpose: str) -> None:
    """Send a one-time code. Raises CodeNotSent when the channel fails."""
    text = _(
        "Your code for %(purpose)s is %(code)s. It is valid for 10 minutes. Never share it."
    ) % {"purpose": purpose, "code": code}
    try:
        if recipient.channel == "email":
            send_mail(
                subject=_("Your one-time code"),
                message=text,
                from_email=None,
                recipient_list=[recipient.address],
            )
        else:
            import_string(settings.OTP_SMS_SENDER)(recipient.address, text)
    except (smtplib.SMTPException, OSError) as exc:
        raise CodeNotSent(str(exc)) from exc


def log_sms(mobile: str, text: str) -> None:
    """Development SMS "gateway": the message, code included, goes to the log. Refuses to run
    outside DEBUG, where logs are kept and read by others."""
    if not settings.DEBUG:
        raise CodeNotSent("the development SMS sender is not for production")
    logger.warning("SMS to %s: %s", mask_mobile(mobile), text)


def no_sms(mobile: str, text: str) -> None:
    """Production default until an SMS gateway is configured: codes go by e-mail only."""
    raise CodeNotSent("no SMS gateway is configured (OTP_SMS_SENDER)")
