from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.validators import parse_login
from portal.models import User
from portal.selectors import user_get_by_login


class CrispyFormMixin:
    submit_label = _("Submit")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", self.submit_label, css_class="w-100 btn-lg"))


class LoginForm(CrispyFormMixin, auth_forms.AuthenticationForm):
    submit_label = _("Log in")
    username = forms.CharField(
        label=_("Mobile number or e-mail"),
        max_length=254,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    error_messages = {
        "invalid_login": _(
            "The mobile number / e-mail or the password is wrong. Passwords are case-sensitive."
        ),
        "inactive": _("This account is disabled. Please contact customer service."),
    }


class SignUpForm(CrispyFormMixin, forms.Form):
    submit_label = _("Create account")
    login = forms.CharField(
        label=_("Mobile number or e-mail"),
        max_length=150,
        help_text=_("You will sign in with it. A mainland China mobile number or an e-mail."),
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    accept_terms = forms.BooleanField(
        label=_("I have read and agree to the privacy policy and terms of service"),
        error_messages={"required": _("You must agree to the privacy policy to sign up.")},
    )

    def clean_login(self):
        _kind, login = parse_login(self.cleaned_data["login"])
        if user_get_by_login(login=login) is not None:
            raise ValidationError(
                _("An account with this mobile number or e-mail already exists. Log in instead."),
                code="login_taken",
            )
        return login

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("The two passwords do not match."))
        login = cleaned.get("login")
        if password1 and login and "password2" not in self.errors:
            is_email = "@" in login
            candidate = User(
                username=login, email=login if is_email else "", mobile="" if is_email else login
            )
            try:
                password_validation.validate_password(password1, candidate)
            except ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


class PasswordResetForm(CrispyFormMixin, auth_forms.PasswordResetForm):
    submit_label = _("Send reset link")


class SetPasswordForm(CrispyFormMixin, auth_forms.SetPasswordForm):
    submit_label = _("Set new password")


class PasswordChangeForm(CrispyFormMixin, auth_forms.PasswordChangeForm):
    submit_label = _("Change password")
