"""State changes, one function per operation (STYLE.md). Views, the API, the admin, tasks and
commands call these; ``from portal import services`` then ``services.application_submit(...)``.
"""

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
from portal.services.merchants import MidExhaustedError, merchant_create
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
)

__all__ = [
    "ApplicationStateError",
    "LoginTakenError",
    "MidExhaustedError",
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
    "heartbeat_record",
    "login_logs_purge",
    "merchant_create",
    "notification_email",
    "notifications_mark_read",
    "notify",
    "user_language_set",
    "user_password_reset_completed",
    "user_sign_up",
]
