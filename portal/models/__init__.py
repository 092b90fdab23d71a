from portal.models.accounts import Heartbeat, User
from portal.models.audit import PiiAccess
from portal.models.contracts import Contract, ContractEvent, ContractTemplate
from portal.models.documents import ApplicationDocument
from portal.models.merchants import Merchant, MerchantEvent, MidSerial
from portal.models.notifications import Notification
from portal.models.onboarding import (
    Application,
    ApplicationEvent,
    FeeSchedule,
    InfoRequestItem,
    RiskFlag,
    TerminalProduct,
)
from portal.models.terminals import Terminal, TerminalEvent

__all__ = [
    "Application",
    "ApplicationDocument",
    "ApplicationEvent",
    "Contract",
    "ContractEvent",
    "ContractTemplate",
    "FeeSchedule",
    "Heartbeat",
    "InfoRequestItem",
    "Merchant",
    "MerchantEvent",
    "MidSerial",
    "Notification",
    "PiiAccess",
    "RiskFlag",
    "Terminal",
    "TerminalEvent",
    "TerminalProduct",
    "User",
]
