from portal.forms.accounts import (
    CrispyFormMixin,
    LoginForm,
    PasswordChangeForm,
    PasswordResetForm,
    SetPasswordForm,
    SignUpForm,
)

__all__ = [
    "CrispyFormMixin",
    "LoginForm",
    "PasswordChangeForm",
    "PasswordResetForm",
    "SetPasswordForm",
    "SignUpForm",
]
