"""Hostile and unusual values in every HTML form a customer posts: sign-up, log-in, password
reset (request and new password), password change, the language switch, the four application
steps, the correction form, terminal activation and the API token page.

Each field gets each value in turn, with every other field valid. Whatever the value, the answer
is never a 500, the raw ``<script>`` never comes back unescaped, and a refused submission leaves
the stored rows exactly as they were (the application steps keep valid entries of a draft, so
the valid fields here are the ones already stored: a refusal must change nothing). What is
accepted must not store a NUL, a bidirectional override or an invisible character.

One test per form and value; inside it, each field is tried in a savepoint that is rolled back,
and every problem is collected so that a failure names form, field and value.
"""

from contextlib import contextmanager

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.db import transaction
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.authtoken.models import Token

from portal import forms as account_forms
from portal import services
from portal.forms.onboarding import STEP_FORMS, stored_step_form
from portal.models import Application, Terminal, User
from portal.onboarding import STEPS_BY_SLUG
from tests import factories
from tests import onboarding as data
from tests.contracts import signed_contract
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
MAX_PLUS_ONE = object()  # stands for max_length + 1 characters of the field at hand

HOSTILE = {
    "10000-chars": "9" * 10_000,
    "nul-byte": "ab\x00cd",
    "script-tag": SCRIPT,
    "sql": "' OR 1=1 --",
    "spreadsheet-formula": "=cmd|' /C calc'!A0",
    "full-width-digits": "１３９１２３４００００",
    "zero-width-in-number": "1391234\u200b0000",
    "rtl-override": "abc\u202edef",
    "replacement-char": "\ufffd",
    "emoji": "💳😀",
    "empty": "",
    "whitespace-only": "  \t  ",
    "max-length+1": MAX_PLUS_ONE,
}
VALUE_IDS = list(HOSTILE)

# Never acceptable in anything stored: NUL, bidirectional overrides, invisible characters.
FORBIDDEN_IN_STORED = ("\x00", "\u202e", "\u200b")


@pytest.fixture(autouse=True)
def no_rate_limits(settings):
    # The limits are tested in test_rate_limits.py; here hundreds of posts must all be heard.
    settings.RATE_LIMITS = dict.fromkeys(settings.RATE_LIMITS, "100000/h")
    settings.AXES_FAILURE_LIMIT = 100_000


def value_for(value_id: str, form_class, field: str) -> str | None:
    """The hostile value, or None when it makes no sense for this field (no max_length)."""
    value = HOSTILE[value_id]
    if value is MAX_PLUS_ONE:
        form_field = form_class.base_fields.get(field)
        max_length = getattr(form_field, "max_length", None)
        return None if max_length is None else "1" * (max_length + 1)
    return value


@contextmanager
def rolled_back():
    """Run one attempt and undo whatever it stored."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def post(client: Client, url: str, values: dict, problems: list, label: str):
    """POST and check what every answer must satisfy; None when the request blew up."""
    try:
        response = client.post(url, values)
    except Exception as exc:  # the test client re-raises what would be a 500
        problems.append(f"{label}: raised {type(exc).__name__}: {str(exc)[:200]}")
        return None
    if response.status_code >= 500:
        problems.append(f"{label}: status {response.status_code}")
    body = response.content.decode(errors="replace")
    if SCRIPT in body:
        problems.append(f"{label}: the raw <script> tag is in the response body")
    if SCRIPT in response.get("Location", ""):
        problems.append(f"{label}: the raw <script> tag is in the Location header")
    return response


def forbidden_in(values: dict) -> list[str]:
    return [
        f"{name}={value!r:.60}"
        for name, value in values.items()
        if isinstance(value, str) and any(c in value for c in FORBIDDEN_IN_STORED)
    ]


def report(problems: list):
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


# --- accounts --------------------------------------------------------------------------------


@pytest.mark.parametrize("value_id", VALUE_IDS)
def test_sign_up(value_id):
    valid = {
        "login": "13700001111",
        "password1": "Quiet-Harbour-2026",
        "password2": "Quiet-Harbour-2026",
        "accept_terms": "on",
    }
    problems = []
    for field in (*valid, "password1+password2"):
        names = field.split("+")
        value = value_for(value_id, account_forms.SignUpForm, names[0])
        if value is None:
            continue
        label = f"sign-up.{field}={value_id}"
        with rolled_back():
            before = User.objects.count()
            response = post(
                Client(),
                reverse("accounts:signup"),
                valid | dict.fromkeys(names, value),
                problems,
                label,
            )
            if response is None:
                continue
            after = User.objects.count()
            if response.status_code == 302:
                user = User.objects.order_by("-pk").first()
                stored = {"username": user.username, "email": user.email, "mobile": user.mobile}
                if bad := forbidden_in(stored):
                    problems.append(f"{label}: accepted and stored {bad}")
            elif after != before:
                problems.append(
                    f"{label}: refused ({response.status_code}) but users {before}->{after}"
                )
    report(problems)


@pytest.mark.parametrize("value_id", VALUE_IDS)
def test_log_in(value_id):
    user = factories.CustomerFactory()
    valid = {"username": user.mobile, "password": PASSWORD}
    problems = []
    for field in valid:
        value = value_for(value_id, account_forms.LoginForm, field)
        if value is None:
            continue
        label = f"login.{field}={value_id}"
        with rolled_back():
            client = Client()
            response = post(
                client, reverse("accounts:login"), valid | {field: value}, problems, label
            )
            if response is not None and response.status_code == 302 and field == "password":
                problems.append(f"{label}: logged in with a wrong password")
        AccessAttempt.objects.all().delete()
    report(problems)


@pytest.mark.parametrize("value_id", VALUE_IDS)
def test_password_reset_request(value_id):
    factories.CustomerFactory(email="li@example.cn")
    value = value_for(value_id, account_forms.PasswordResetForm, "email")
    assert value is not None, "Django's e-mail field has a max_length (254)"
    problems = []
    label = f"password-reset.email={value_id}"
    mail.outbox.clear()
    with rolled_back():
        post(Client(), reverse("accounts:password-reset"), {"email": value}, problems, label)
    if mail.outbox:
        problems.append(f"{label}: sent {len(mail.outbox)} e-mail(s) to {mail.outbox[0].to}")
    report(problems)


@pytest.mark.parametrize("value_id", VALUE_IDS)
def test_password_reset_confirm(value_id):
    user = factories.CustomerFactory()
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    url = reverse("accounts:password-reset-confirm", args=[uid, token])
    new = "Quiet-Harbour-2026"
    valid = {"new_password1": new, "new_password2": new}
    problems = []
    for field in (*valid, "new_password1+new_password2"):
        names = field.split("+")
        value = value_for(value_id, account_forms.SetPasswordForm, names[0])
        if value is None:
            continue
        label = f"password-reset-confirm.{field}={value_id}"
        with rolled_back():
            client = Client()
            set_password_url = client.get(url)["Location"]
            before = User.objects.get(pk=user.pk).password
            response = post(
                client, set_password_url, valid | dict.fromkeys(names, value), problems, label
            )
            refused = response is not None and response.status_code != 302
            if refused and User.objects.get(pk=user.pk).password != before:
                problems.append(f"{label}: refused but the password changed")
    report(problems)


@pytest.mark.parametrize("value_id", VALUE_IDS)
def test_password_change(value_id):
    user = factories.CustomerFactory()
    new = "Quiet-Harbour-2026"
    valid = {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    problems = []
    for field in (*valid, "new_password1+new_password2"):
        names = field.split("+")
        value = value_for(value_id, account_forms.PasswordChangeForm, names[0])
        if value is None:
            continue
        label = f"password-change.{field}={value_id}"
        with rolled_back():
            client = Client()
            client.force_login(user)
            before = User.objects.get(pk=user.pk).password
            response = post(
                client,
                reverse("accounts:password-change"),
                valid | dict.fromkeys(names, value),
                problems,
                label,
            )
            refused = response is not None and response.status_code != 302
            if refused and User.objects.get(pk=user.pk).password != before:
                problems.append(f"{label}: refused but the password changed")
    report(problems)


@pytest.mark.parametrize("value_id", VALUE_IDS)
def test_language_switch(value_id):
    user = factories.CustomerFactory()
    valid = {"language": "en", "next": "/merchant/"}
    problems = []
    for field in valid:
        value = value_for(value_id, type("NoForm", (), {"base_fields": {}}), field)
        if value is None:
            continue
        label = f"setlang.{field}={value_id}"
        with rolled_back():
            client = Client()
            client.force_login(user)
            before = User.objects.get(pk=user.pk).language
            response = post(client, "/i18n/setlang/", valid | {field: value}, problems, label)
            if response is None:
                continue
            after = User.objects.get(pk=user.pk).language
            if field == "language" and after != before:
                problems.append(f"{label}: stored language {after!r}")
            location = response.get("Location", "")
            if location.startswith(("//", "http:", "https:", "javascript:")):
                problems.append(f"{label}: redirects off the site to {location[:80]!r}")
    report(problems)


# --- onboarding ------------------------------------------------------------------------------


def step_post(application: Application, slug: str, *, prefix: str = "") -> dict:
    """What the step's form would post for the stored values (valid for a complete draft)."""
    bound = stored_step_form(application, STEPS_BY_SLUG[slug], today=timezone.localdate())
    return {f"{prefix}{name}": str(value) for name, value in bound.data.items()}


def snapshot(application: Application) -> dict:
    application = Application.objects.get(pk=application.pk)
    return {**model_to_dict(application), "status": application.status}


def changes(before: dict, after: dict) -> list[str]:
    return [
        f"{name}: {before[name]!r:.40} -> {after[name]!r:.40}"
        for name in before
        if before[name] != after.get(name)
    ]


@pytest.mark.parametrize("step", list(STEP_FORMS))
def test_application_step(step):
    application = data.draft(documents=False)
    client = Client()
    client.force_login(application.applicant)
    url = reverse("portal:application-step", args=[application.public_id, step])
    form_class = STEP_FORMS[step]
    valid = step_post(application, step) | {"action": "next"}
    fields = [
        name
        for name in form_class(application=application, today=timezone.localdate()).fields
        if name in STEPS_BY_SLUG[step].fields or name in valid
    ]
    problems = []
    with rolled_back():  # the valid post itself must go through and change nothing
        before = snapshot(application)
        response = client.post(url, valid)
        assert response.status_code == 302, response.context["form"].errors
        assert changes(before, snapshot(application)) == []
    for value_id, field in ((v, f) for v in VALUE_IDS for f in fields):
        value = value_for(value_id, form_class, field)
        if value is None:
            continue
        label = f"step-{step}.{field}={value_id}"
        with rolled_back():
            before = snapshot(application)
            response = post(client, url, valid | {field: value}, problems, label)
            if response is None:
                continue
            after = snapshot(application)
            if response.status_code == 302:
                if bad := forbidden_in(after):
                    problems.append(f"{label}: accepted and stored {bad}")
            elif diff := changes(before, after):
                problems.append(f"{label}: refused ({response.status_code}) but stored {diff}")
    report(problems)


# The fields' own checks are the step forms' (covered above, every field); the correction
# form adds prefixes, the editable set and cross-step checks. One item or two per step keeps
# the module fast: a legal name (which the personal card's holder must match), the contact,
# business name and takings, the card (editable with the name), and the delivery address.
FIX_ITEMS = ["legal_name", "contact", "business_name", "expected_volume", "shipping_address"]


@pytest.fixture
def needs_info():
    reviewer = factories.StaffFactory(group="reviewer")
    application = data.in_review(reviewer)
    return services.application_request_info(
        application=application,
        reviewer=reviewer,
        items=[(item, "请核对") for item in FIX_ITEMS],
    )


def test_correction_form(needs_info):
    application = needs_info
    client = Client()
    client.force_login(application.applicant)
    url = reverse("portal:application-fix", args=[application.public_id])
    editable = services.application_editable_fields(
        application=application, today=timezone.localdate()
    )
    valid, targets = {}, []
    for slug, form_class in STEP_FORMS.items():
        step_values = step_post(application, slug, prefix=f"{slug}-")
        valid |= step_values
        for name in form_class(application=application, today=timezone.localdate()).fields:
            if name in editable:
                targets.append((slug, form_class, name))
    problems = []
    with rolled_back():
        before = snapshot(application)
        response = client.post(url, valid)
        assert response.status_code == 302, [f.errors for f in response.context["forms"]]
        assert snapshot(application)["status"] == Application.Status.SUBMITTED
    for value_id, (slug, form_class, name) in ((v, t) for v in VALUE_IDS for t in targets):
        value = value_for(value_id, form_class, name)
        if value is None:
            continue
        label = f"fix.{slug}-{name}={value_id}"
        with rolled_back():
            before = snapshot(application)
            response = post(client, url, valid | {f"{slug}-{name}": value}, problems, label)
            if response is None:
                continue
            after = snapshot(application)
            if response.status_code == 302:
                if bad := forbidden_in(after):
                    problems.append(f"{label}: accepted and stored {bad}")
            else:
                # Corrections are a draft, as the page says ("everything else has been
                # saved"): a refused submission is not sent for review, and no field the form
                # refused is stored; the valid corrections beside them are kept.
                refused = {field for form in response.context["forms"] for field in form.errors}
                stored = [
                    change
                    for change in changes(before, after)
                    if change.split(":")[0] in refused | {"status"}
                ]
                if stored:
                    problems.append(f"{label}: refused but stored {stored}")
    report(problems)


# --- terminals and API token -----------------------------------------------------------------


@pytest.fixture
def shipped():
    finance = factories.StaffFactory(group="finance")
    contract = signed_contract()
    terminal = services.terminal_assign(
        merchant=contract.merchant,
        product=data.product(),
        serial_number="SN20261126B",
        tid="87654322",
        model="P2",
        actor=finance,
    )
    services.terminal_transition(terminal=terminal, to_status="ready_to_ship", actor=finance)
    return services.terminal_transition(
        terminal=terminal,
        to_status="shipped",
        actor=finance,
        carrier="顺丰速运",
        tracking_number="SF2",
    )


def test_terminal_activation(shipped):
    client = Client()
    client.force_login(shipped.merchant.user)
    url = reverse("portal:terminal-activate", args=[shipped.public_id])
    problems = []
    for value_id in VALUE_IDS:
        value = HOSTILE[value_id]
        if value is MAX_PLUS_ONE:
            value = "1" * 21  # the view reads at most 20 characters
        label = f"terminal-activate.code={value_id}"
        with rolled_back():
            response = post(client, url, {"code": value}, problems, label)
            terminal = Terminal.objects.get(pk=shipped.pk)
            if response is not None and terminal.status == Terminal.Status.ACTIVE:
                problems.append(f"{label}: activated the terminal")
            if terminal.activation_attempts > shipped.activation_attempts + 1:
                problems.append(f"{label}: counted {terminal.activation_attempts} attempts")
    report(problems)


def test_api_token_page():
    merchant = factories.MerchantFactory()
    client = Client()
    client.force_login(merchant.user)
    problems = []
    for value_id in VALUE_IDS:
        value = HOSTILE[value_id]
        if value is MAX_PLUS_ONE:
            value = "create!"  # the field is a fixed word: one character more than "create"
        label = f"api-token.action={value_id}"
        with rolled_back():
            before = list(Token.objects.values_list("key", flat=True))
            response = post(client, reverse("portal:api-token"), {"action": value}, problems, label)
            if response is None:
                continue
            if response.status_code != 400:
                problems.append(f"{label}: got {response.status_code}, expected 400")
            if list(Token.objects.values_list("key", flat=True)) != before:
                problems.append(f"{label}: tokens changed")
    report(problems)
