"""State changes, one function per operation (STYLE.md). Views, the API, the admin, tasks and
commands call these; ``from portal import services`` then ``services.application_submit(...)``.
"""

from portal.application_rules import documents_current, documents_missing
from portal.services.accounts import (
    LoginTakenError,
    api_token_regenerate,
    api_token_revoke,
    heartbeat_record,
    login_logs_purge,
    user_language_set,
    user_password_reset_completed,
    user_sign_up,
)
from portal.services.audit import pii_access_record
from portal.services.contracts import (
    ContractStateError,
    SigningRequest,
    contract_countersign,
    contract_offer,
    contract_renew,
    contract_send_code,
    contract_sign,
    contract_verify,
    contracts_remind_and_expire,
)
from portal.services.documents import document_accept, document_upload, documents_uploadable
from portal.services.merchants import (
    MidExhaustedError,
    merchant_create,
    merchant_transition,
)
from portal.services.notifications import (
    notification_email,
    notifications_mark_read,
    notify,
)
from portal.services.onboarding import (
    ApplicationStateError,
    application_approve,
    application_editable_fields,
    application_reject,
    application_request_info,
    application_risk_flags_compute,
    application_save_fields,
    application_start,
    application_start_review,
    application_submit,
    applications_start_review,
    document_reject,
)
from portal.services.terminals import (
    TerminalStateError,
    terminal_activate,
    terminal_activation_unlock,
    terminal_assign,
    terminal_transition,
)

__all__ = [
    "ApplicationStateError",
    "ContractStateError",
    "LoginTakenError",
    "MidExhaustedError",
    "SigningRequest",
    "TerminalStateError",
    "api_token_regenerate",
    "api_token_revoke",
    "application_approve",
    "application_editable_fields",
    "application_reject",
    "application_request_info",
    "application_risk_flags_compute",
    "application_save_fields",
    "application_start",
    "application_start_review",
    "application_submit",
    "applications_start_review",
    "contract_countersign",
    "contract_offer",
    "contract_renew",
    "contract_send_code",
    "contract_sign",
    "contract_verify",
    "contracts_remind_and_expire",
    "document_accept",
    "document_reject",
    "document_upload",
    "documents_current",
    "documents_missing",
    "documents_uploadable",
    "heartbeat_record",
    "login_logs_purge",
    "merchant_create",
    "merchant_transition",
    "notification_email",
    "notifications_mark_read",
    "notify",
    "pii_access_record",
    "terminal_activate",
    "terminal_activation_unlock",
    "terminal_assign",
    "terminal_transition",
    "user_language_set",
    "user_password_reset_completed",
    "user_sign_up",
]
