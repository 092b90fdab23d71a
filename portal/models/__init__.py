from portal.models.accounts import Heartbeat, User
from portal.models.merchants import Merchant, MidSerial
from portal.models.notifications import Notification
from portal.models.onboarding import (
    Application,
    ApplicationEvent,
    FeeSchedule,
    InfoRequestItem,
    RiskFlag,
    TerminalProduct,
)

__all__ = [
    "Application",
    "ApplicationEvent",
    "FeeSchedule",
    "Heartbeat",
    "InfoRequestItem",
    "Merchant",
    "MidSerial",
    "Notification",
    "RiskFlag",
    "TerminalProduct",
    "User",
]
