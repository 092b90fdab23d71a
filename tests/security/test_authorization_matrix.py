"""
The authorisation matrix (issue 6): every URL pattern the resolver knows, asked for with a GET by
every kind of visitor, against merchant A's objects (built in tests/security/conftest.py).

The web and API pages are one declarative table, ``MATRIX``: the expected answer per actor.
The admin's model pages follow one explicit rule (``admin_rule_expectation``) from the
permissions in the apps' staff.py modules (core/staff.py); its site pages and custom views are
in ``MATRIX`` too.
A URL pattern that is in neither fails ``test_get_answers_as_the_matrix_says`` by name: every
new URL has to join.

Each URL is one test, asking all nine actors, each request in a savepoint of its own; a
failure lists every "GET <url> as <actor>: got …, expected …" that is wrong. POST-only endpoints
are also posted to by who must be refused (and without a CSRF token), and the admin's pages of
old versions (django-simple-history) are posted to by every member of staff.

A failing cell is a finding: the expected values here are what the portal must answer, never
what it happens to answer.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings as django_settings
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.db import transaction
from django.forms import MultiWidget
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from core.staff import staff_permissions
from portal.models import (
    Application,
    ApplicationDocument,
    Contract,
    FeeSchedule,
    Notification,
    Terminal,
    TerminalProduct,
)
from settlements.models import CalendarDay, CalendarYear, WebhookEvent

pytestmark = pytest.mark.django_db


GROUPS = ("reviewer", "support", "risk", "finance")
CUSTOMERS = ("merchant_a", "merchant_b", "applicant")
STAFF = (*GROUPS, "superuser")
ACTORS = ("anonymous", *CUSTOMERS, *STAFF)
# Shorthands for several actors, broadest first: a narrower one given with a broader one wins.
ACTOR_SETS = {
    "everyone": ACTORS,
    "visitors": ("anonymous", *CUSTOMERS),  # everyone who is not staff
    "staff": STAFF,
    "customers": CUSTOMERS,
    "groups": GROUPS,
    "merchants": ("merchant_a", "merchant_b"),
}


# -- Expected answers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Redirect:
    """302 to exactly this address: a format string over the world (``w``) and, for admin
    model pages, the object (``obj``)."""

    to: str

    def __str__(self):
        return f"302 to {self.to}"


@dataclass(frozen=True)
class ToLogin:
    """302 to a login page, with ``next`` naming the page asked for."""

    login: str

    def __str__(self):
        return f"302 to {self.login}?next=<this page>"


LOGIN = ToLogin("/accounts/login/")
ADMIN_LOGIN = ToLogin("/admin/login/")
MERCHANT_HOME = Redirect("/merchant/")  # an applicant on a merchant's page is told to wait
ADMIN_INDEX = Redirect("/admin/")

Expected = int | Redirect | ToLogin


def cells(**given: Expected) -> dict[str, Expected]:
    """Answers per actor; the ACTOR_SETS shorthands stand for several actors, and a named actor
    overrides them."""
    unknown = set(given) - set(ACTOR_SETS) - set(ACTORS)
    assert not unknown, f"no such actor: {unknown}"
    answers = {}
    for shorthand, actors in ACTOR_SETS.items():
        if shorthand in given:
            answers.update(dict.fromkeys(actors, given[shorthand]))
    answers.update({actor: given[actor] for actor in ACTORS if actor in given})
    return answers


@dataclass(frozen=True)
class Row:
    """One URL (or one variant of it) and the answer each actor must get."""

    expected: dict[str, Expected]
    kwargs: Callable = lambda w: {}  # the URL's arguments, taken from the world
    query: str = ""
    path: Callable | None = None  # for a pattern without a name
    label: str = ""

    def __post_init__(self):
        missing = [actor for actor in ACTORS if actor not in self.expected]
        assert not missing, f"{self.label or self.expected}: no answer for {missing}"


# Profiles shared by many rows.
PUBLIC = cells(everyone=200)
GET_NOT_ALLOWED = cells(everyone=405)
# The merchant area (customer_required): customers see their own, staff use the admin.
CUSTOMER_PAGE = cells(anonymous=LOGIN, customers=200, staff=403)
# One of A's objects on the web: anyone else's request looks exactly like a missing object.
OWNED_BY_A = cells(anonymous=LOGIN, merchant_a=200, merchant_b=404, applicant=404, staff=403)
# A merchant's money pages (merchant_required): lists of one's own.
MERCHANT_PAGE = cells(anonymous=LOGIN, merchants=200, applicant=MERCHANT_HOME, staff=403)
MONEY_OF_A = cells(
    anonymous=LOGIN, merchant_a=200, merchant_b=404, applicant=MERCHANT_HOME, staff=403
)
# The API: 401 without credentials, staff refused, another's object 404.
API_CUSTOMER = cells(anonymous=401, customers=200, staff=403)
API_MERCHANT = cells(anonymous=401, merchants=200, applicant=404, staff=403)
API_OWNED_BY_A = cells(anonymous=401, merchant_a=200, merchant_b=404, applicant=404, staff=403)
# The admin: only staff get past its gate.
ADMIN_GATE = cells(visitors=ADMIN_LOGIN)
ADMIN_PAGE = ADMIN_GATE | cells(staff=200)

TO_APPLICATION = Redirect("/applications/{w.application.public_id}/")
ONLY_SUPERUSER = ADMIN_GATE | cells(groups=404, superuser=200)
APP_INDEX = {
    "auth": ONLY_SUPERUSER,
    "axes": ONLY_SUPERUSER,
    # Background jobs: support, risk and finance see them; reviewers hold nothing there.
    "core": ADMIN_GATE | cells(staff=200, reviewer=404),
    "otp_totp": ONLY_SUPERUSER,
    "portal": ADMIN_PAGE,
    "settlements": ADMIN_GATE | cells(staff=200, reviewer=404),
}


def public_id(attribute: str) -> Callable:
    return lambda w: {"public_id": getattr(w, attribute).public_id}


MATRIX: dict[str, Row | list[Row]] = {
    # -- Public pages ---------------------------------------------------------------------------
    "portal:home": Row(PUBLIC),
    "portal:privacy": Row(PUBLIC),
    "portal:products": Row(PUBLIC),
    "portal:contract-verify": Row(PUBLIC),
    "healthz": Row(PUBLIC),
    # Only for a scraper with METRICS_TOKEN or from METRICS_ALLOWED_IPS (none configured here).
    "metrics": Row(cells(everyone=404)),
    "api-schema": Row(PUBLIC),
    "api-docs": Row(PUBLIC),
    "accounts:password-reset": Row(PUBLIC),
    "accounts:password-reset-done": Row(PUBLIC),
    "accounts:password-reset-complete": Row(PUBLIC),
    # A wrong token shows "this link is not valid" to anyone.
    "accounts:password-reset-confirm": Row(
        PUBLIC,
        lambda w: {
            "uidb64": urlsafe_base64_encode(force_bytes(w.merchant_a.user.pk)),
            "token": "not-a-valid-token",
        },
    ),
    # Someone signed in is sent where they work instead of seeing the form again.
    "accounts:login": Row(cells(anonymous=200, customers=MERCHANT_HOME, staff=ADMIN_INDEX)),
    "accounts:signup": Row(cells(anonymous=200, customers=MERCHANT_HOME, staff=MERCHANT_HOME)),
    "accounts:password-change": Row(cells(anonymous=LOGIN, customers=200, staff=200)),
    "accounts:logout": Row(GET_NOT_ALLOWED),
    "set_language": Row(GET_NOT_ALLOWED),
    # -- The merchant area ------------------------------------------------------------------
    "portal:merchant-home": Row(CUSTOMER_PAGE),
    "portal:api-token": Row(CUSTOMER_PAGE),
    "portal:application-list": Row(CUSTOMER_PAGE),
    "portal:terminal-list": Row(CUSTOMER_PAGE),
    "portal:notification-list": Row(CUSTOMER_PAGE),
    "portal:application-start": Row(GET_NOT_ALLOWED),
    "portal:application-detail": Row(OWNED_BY_A, public_id("application")),
    # A's application is approved: its editing pages send A back to its status page.
    "portal:application-step": Row(
        OWNED_BY_A | cells(merchant_a=TO_APPLICATION),
        lambda w: {"public_id": w.application.public_id, "step": "identity"},
    ),
    "portal:application-review": Row(
        OWNED_BY_A | cells(merchant_a=TO_APPLICATION), public_id("application")
    ),
    "portal:application-fix": Row(
        OWNED_BY_A | cells(merchant_a=TO_APPLICATION), public_id("application")
    ),
    "portal:application-documents": Row(OWNED_BY_A, public_id("application")),
    # To its applicant and to staff allowed to see documents; to everyone else, including a
    # visitor who is not signed in, it does not exist (tests/portal/test_documents.py).
    "portal:document-file": Row(
        cells(
            anonymous=404,
            merchant_a=200,
            merchant_b=404,
            applicant=404,
            reviewer=200,
            support=404,
            risk=200,
            finance=404,
            superuser=200,
        ),
        public_id("document"),
    ),
    "portal:contract-detail": Row(OWNED_BY_A, public_id("contract")),
    "portal:contract-code": Row(GET_NOT_ALLOWED, public_id("contract")),
    "portal:contract-file": [
        Row(OWNED_BY_A, public_id("contract"), label="as offered"),
        Row(OWNED_BY_A, public_id("contract"), query="signed=1", label="signed"),
    ],
    "portal:contract-renew": Row(GET_NOT_ALLOWED),
    # Signed by the acquirer, not by a session: see SIGNED_BY_THE_ACQUIRER below.
    "settlements:acquirer-webhook": Row(GET_NOT_ALLOWED),
    "portal:terminal-activate": Row(GET_NOT_ALLOWED, public_id("terminal")),
    "portal:notification-open": Row(
        OWNED_BY_A | cells(merchant_a=Redirect("{w.notification.url}")), public_id("notification")
    ),
    # -- Money pages ------------------------------------------------------------------------
    "settlements:transaction-list": Row(MERCHANT_PAGE),
    "settlements:transaction-export": [
        Row(MERCHANT_PAGE, lambda w, fmt=fmt: {"fmt": fmt}, label=fmt) for fmt in ("csv", "xlsx")
    ],
    "settlements:transaction-detail": Row(MONEY_OF_A, public_id("transaction")),
    "settlements:payout-list": Row(MERCHANT_PAGE),
    "settlements:payout-detail": Row(MONEY_OF_A, public_id("payout")),
    "settlements:statement-list": Row(MERCHANT_PAGE),
    # A month in which A traded and B did not exist yet.
    "settlements:statement-download": [
        Row(MONEY_OF_A, lambda w, fmt=fmt: {"month": w.statement_month, "fmt": fmt}, label=fmt)
        for fmt in ("pdf", "csv")
    ],
    # -- API --------------------------------------------------------------------------------
    "api:me": Row(API_CUSTOMER),
    "api:application-list": Row(API_CUSTOMER),
    "api:application-detail": Row(API_OWNED_BY_A, public_id("application")),
    "api:dashboard": Row(API_MERCHANT),
    "api:transaction-list": Row(API_MERCHANT),
    "api:transaction-detail": Row(API_OWNED_BY_A, public_id("transaction")),
    "api:payout-list": Row(API_MERCHANT),
    "api:payout-detail": Row(API_OWNED_BY_A, public_id("payout")),
    "api:payout-transactions": Row(API_OWNED_BY_A, public_id("payout")),
    # -- Admin site pages -------------------------------------------------------------------
    "admin:index": Row(ADMIN_PAGE),
    # Staff who gave the second factor go on; the others are sent to log in.
    "admin:two-factor": Row(cells(visitors=Redirect("/admin/login/"), staff=ADMIN_INDEX)),
    # A customer signed in sees the admin login form saying the account has no access.
    "admin:login": Row(cells(visitors=200, staff=ADMIN_INDEX)),
    "admin:logout": Row(cells(visitors=ADMIN_INDEX, staff=405)),
    "admin:password_change": Row(ADMIN_PAGE),
    "admin:password_change_done": Row(ADMIN_PAGE),
    "admin:jsi18n": Row(ADMIN_PAGE),
    # The fee schedules offered while editing a product: for who may view fee schedules.
    "admin:autocomplete": Row(
        ADMIN_GATE | cells(staff=200, support=403, risk=403),
        query="app_label=portal&model_name=terminalproduct&field_name=fee_schedule",
    ),
    # No model of the portal has a public page: nothing to redirect to.
    "admin:view_on_site": Row(
        ADMIN_GATE | cells(staff=404),
        lambda w: {
            "content_type_id": ContentType.objects.get_for_model(w.merchant_a).pk,
            "object_id": w.merchant_a.pk,
        },
    ),
    # An app's index exists for who holds a permission in it (APP_INDEX).
    "admin:app_list": [
        Row(expected, lambda w, label=label: {"app_label": label}, label=label)
        for label, expected in APP_INDEX.items()
    ],
    "admin/(?P<url>.*)$": Row(ADMIN_GATE | cells(staff=404), path=lambda w: "/admin/no-such-page/"),
    # -- Admin custom views (the model pages follow admin_rule_expectation) -----------------
    "admin:auth_user_password_change": Row(
        ADMIN_GATE | cells(groups=403, superuser=200), lambda w: {"id": w.merchant_a.user.pk}
    ),
    "admin:portal_application_decide": Row(
        ADMIN_GATE | cells(staff=Redirect("/admin/portal/application/{w.application.pk}/change/")),
        lambda w: {"pk": w.application.pk, "decision": "approve"},
    ),
    "admin:portal_application_document": Row(
        ADMIN_GATE | cells(staff=403),
        lambda w: {"pk": w.application.pk, "document_pk": w.document.pk, "verdict": "accept"},
    ),
    "admin:portal_contract_file": [
        Row(
            ADMIN_GATE | cells(staff=200),
            lambda w, which=which: {"pk": w.contract.pk, "which": which},
            label=which,
        )
        for which in ("offer", "signed")
    ],
    "admin:portal_contract_countersign": Row(
        ADMIN_GATE | cells(staff=403), lambda w: {"pk": w.contract.pk}
    ),
    "admin:settlements_acquirer_test": Row(
        ADMIN_GATE
        | cells(
            staff=403,
            finance=Redirect("/admin/settlements/acquirer/{w.acquirer.pk}/change/"),
            superuser=Redirect("/admin/settlements/acquirer/{w.acquirer.pk}/change/"),
        ),
        lambda w: {"pk": w.acquirer.pk},
    ),
    "admin:portal_terminal_move": Row(
        ADMIN_GATE | cells(staff=403), lambda w: {"pk": w.terminal.pk, "status": "delivered"}
    ),
    "admin:settlements_calendarday_seed": Row(
        ADMIN_GATE | cells(staff=Redirect("/admin/settlements/calendarday/"))
    ),
    # A second factor's secret is shown once, to its owner, when enrolling (like API tokens,
    # portal/admin/accounts.py): nobody reads it back in the admin, a superuser included.
    "admin:otp_totp_totpdevice_config": Row(
        ADMIN_GATE | cells(staff=403), lambda w: {"pk": w.devices["reviewer"].pk}
    ),
    "admin:otp_totp_totpdevice_qrcode": Row(
        ADMIN_GATE | cells(staff=403), lambda w: {"pk": w.devices["reviewer"].pk}
    ),
}


# -- The admin's model pages: one rule ----------------------------------------------------------

# The route after admin/<app>/<model>/ → the kind of page.
ADMIN_MODEL_PAGES = {
    "": "changelist",
    "add/": "add",
    "<path:object_id>/change/": "change",
    "<path:object_id>/history/": "history",
    "<path:object_id>/delete/": "delete",
    "<path:object_id>/": "redirect",
    "^([^/]+)/history/([^/]+)/$": "version",  # django-simple-history: one old version
}
# The Django permissions (any one of them) a page needs.
PERMISSION_NEEDED = {
    "changelist": ("view", "change"),
    "change": ("view", "change"),
    "history": ("view", "change"),
    "version": ("view", "change"),
    "add": ("add",),
    "delete": ("delete",),
}
# Pages the admin never offers, not even to a superuser: money, status and records are changed
# through services (and merchants are made by approvals), never added or deleted by hand.
NEVER_IN_THE_ADMIN = {
    "core.job": {"add", "delete"},
    "axes.accessattempt": {"add"},
    "axes.accesslog": {"add"},
    "axes.accessfailurelog": {"add"},
    "portal.merchant": {"add"},
    "portal.heartbeat": {"add"},
    "portal.piiaccess": {"add", "delete"},
    "portal.application": {"add", "delete"},
    "portal.contract": {"add", "delete"},
    "portal.contracttemplate": {"delete"},
    "portal.terminal": {"delete"},
    "settlements.transaction": {"add", "delete"},
    "settlements.payout": {"add", "delete"},
    "settlements.calendaryear": {"add", "delete"},
    "settlements.reconciliationrun": {"delete"},
    "settlements.discrepancy": {"add", "delete"},
    "settlements.acquirererror": {"add", "delete"},
    "settlements.webhookevent": {"add", "delete"},
}
# The object each model's pages are asked about (an attribute path on the world).
ADMIN_OBJECTS = {
    "auth.group": "group",
    "core.job": "job",
    "axes.accessattempt": "access_attempt",
    "axes.accesslog": "access_log",
    "axes.accessfailurelog": "access_failure_log",
    "portal.user": "merchant_a.user",
    "portal.merchant": "merchant_a",
    "portal.heartbeat": "heartbeat",
    "portal.piiaccess": "pii_access",
    "portal.contracttemplate": "contract.template",
    "portal.contract": "contract",
    "portal.terminal": "terminal",
    "portal.feeschedule": "merchant_a.fee_schedule",
    "portal.terminalproduct": "application.product",
    "portal.application": "application",
    "settlements.transaction": "transaction",
    "settlements.payout": "payout",
    "settlements.calendarday": "calendar_day",
    "settlements.calendaryear": "calendar_year",
    "settlements.reconciliationrun": "reconciliation_run",
    "settlements.discrepancy": "discrepancy",
    "settlements.acquirer": "acquirer",
    "settlements.acquirererror": "acquirer_error",
    "settlements.webhookevent": "webhook_event",
    "otp_totp.totpdevice": "devices.reviewer",
}


def group_holds(actor: str, permission: str) -> bool:
    return actor == "superuser" or permission in staff_permissions()[actor]


def admin_rule_expectation(model: str, page: str, actor: str) -> Expected:
    """Visitors and customers are sent to the admin login; ``<id>/`` sends staff on to the
    change page; otherwise a member of staff gets 200 when the group holds one of the
    permissions the page needs (core.staff.staff_permissions(); a superuser holds all), 403
    when not, and 403 for a page in NEVER_IN_THE_ADMIN whoever asks."""
    if actor not in STAFF:
        return ADMIN_LOGIN
    app_label, model_name = model.split(".")
    if page == "redirect":
        return Redirect(f"/admin/{app_label}/{model_name}/{{obj.pk}}/change/")
    if page in NEVER_IN_THE_ADMIN.get(model, ()):
        return 403
    needed = [f"{app_label}.{action}_{model_name}" for action in PERMISSION_NEEDED[page]]
    return 200 if any(group_holds(actor, permission) for permission in needed) else 403


# -- Enumerating the resolver -------------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    key: str  # "namespace:name", or the whole route for a pattern without a name
    route: str
    name: str | None
    parts: tuple[str, ...]  # the route of each include level


def url_patterns(resolver=None, parts=(), namespace=None):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from url_patterns(entry, (*parts, str(entry.pattern)), inner)
        else:
            assert isinstance(entry, URLPattern)
            route = "".join((*parts, str(entry.pattern)))
            name = entry.name and (f"{namespace}:{entry.name}" if namespace else entry.name)
            yield Pattern(
                key=name or route, route=route, name=name, parts=(*parts, str(entry.pattern))
            )


def admin_model_page(pattern: Pattern) -> tuple[str, str] | None:
    """("app.model", page kind) for a standard page of a registered model admin."""
    if len(pattern.parts) != 3 or pattern.parts[0] != "admin/":
        return None
    page = ADMIN_MODEL_PAGES.get(pattern.parts[2])
    if page is None:
        return None
    app_label, model_name = pattern.parts[1].strip("/").split("/")
    return f"{app_label}.{model_name}", page


@dataclass(frozen=True)
class Case:
    """One URL to ask every actor about: a MATRIX row, or an admin model page under the rule."""

    pattern: Pattern
    row: Row | None = None
    admin_page: tuple[str, str] | None = None
    unlisted: str = ""  # why the pattern has no expectation

    @property
    def id(self):
        variant = f"[{self.row.label}]" if self.row and self.row.label else ""
        return f"{self.pattern.key}{variant}"


def matrix_cases() -> list[Case]:
    cases = []
    for pattern in url_patterns():
        entry = MATRIX.get(pattern.key)
        model_page = admin_model_page(pattern)
        if entry is not None:
            rows = entry if isinstance(entry, list) else [entry]
            cases += [Case(pattern, row=row) for row in rows]
        elif model_page is not None and model_page[0] in ADMIN_OBJECTS:
            cases.append(Case(pattern, admin_page=model_page))
        elif model_page is not None:
            cases.append(Case(pattern, unlisted=f"no object for {model_page[0]} in ADMIN_OBJECTS"))
        else:
            cases.append(Case(pattern, unlisted="no entry in MATRIX"))
    return cases


CASES = matrix_cases()


# -- Asking -------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def private_files(settings, matrix_private_files):
    # Instead of a folder per test (tests/conftest.py): the files of the module's world.
    settings.PRIVATE_MEDIA_ROOT = matrix_private_files
    return matrix_private_files


@pytest.fixture(scope="module")
def browsers():
    # Two test clients for the whole module, signed in and out by swapping the session cookie:
    # a new Client loads the middleware again, and WhiteNoise's indexing of the static files
    # would take most of every request's time. A server error comes back as a 500 response,
    # so that the failure names the actor.
    return {
        "lax": Client(raise_request_exception=False),
        "csrf": Client(raise_request_exception=False, enforce_csrf_checks=True),
    }


@pytest.fixture
def world(matrix_world, browsers, settings):
    # As in production: no admin page opens before the second factor (portal/admin_site.py).
    settings.STAFF_REQUIRE_2FA = True
    return SimpleNamespace(**vars(matrix_world), browsers=browsers)


def attribute(world, path: str):
    value = world
    for name in path.split("."):
        value = value[name] if isinstance(value, dict) else getattr(value, name)
    return value


def admin_object(world, model: str):
    return attribute(world, ADMIN_OBJECTS[model])


def latest_version_id(obj) -> int:
    history = getattr(obj, obj._meta.simple_history_manager_attribute)
    return history.order_by("-history_id").values_list("history_id", flat=True)[0]


def case_url(case: Case, world) -> str:
    if case.admin_page:
        model, page = case.admin_page
        obj = admin_object(world, model)
        app_label, model_name = model.split(".")
        if page == "redirect":
            return f"/admin/{app_label}/{model_name}/{obj.pk}/"
        if page in ("changelist", "add"):
            args = []
        elif page == "version":
            args = [obj.pk, latest_version_id(obj)]
        else:
            args = [obj.pk]
        return reverse(case.pattern.name, args=args)
    row = case.row
    url = row.path(world) if row.path else reverse(case.pattern.name, kwargs=row.kwargs(world))
    return f"{url}?{row.query}" if row.query else url


def case_expectation(case: Case, world, actor: str) -> Expected:
    if case.admin_page:
        model, page = case.admin_page
        expected = admin_rule_expectation(model, page, actor)
        obj = admin_object(world, model)
    else:
        expected = case.row.expected[actor]
        obj = None
    if isinstance(expected, Redirect):
        return Redirect(expected.to.format(w=world, obj=obj))
    return expected


def client_for(world, actor: str, *, csrf_checks: bool = False) -> Client:
    """A browser signed in as ``actor`` (staff have also given their second factor), with no
    other cookie."""
    client = world.browsers["csrf" if csrf_checks else "lax"]
    client.cookies = SimpleCookie()
    if world.sessions[actor]:
        client.cookies[django_settings.SESSION_COOKIE_NAME] = world.sessions[actor]
    return client


def answer(client: Client, method: str, url: str, data=None):
    response = client.get(url) if method == "GET" else client.post(url, data or {})
    if response.streaming:
        # Read to the end: the test client then closes the file or cursor behind it (closing
        # the response again here would close the test's database connection too).
        b"".join(response.streaming_content)
    return response


def describe(response) -> str:
    location = response.get("Location")
    return f"{response.status_code} to {location}" if location else str(response.status_code)


def satisfies(response, expected: Expected, requested: str) -> bool:
    if isinstance(expected, int):
        return response.status_code == expected
    if response.status_code != 302:
        return False
    location = response["Location"]
    if isinstance(expected, ToLogin):
        parts = urlsplit(location)
        return parts.path == expected.login and parse_qs(parts.query).get("next") == [requested]
    return location == expected.to


def ask(world, actor: str, method: str, url: str, data=None):
    """The answer to one request, in a savepoint of its own: whatever it changes (a
    notification read, a message in the session) is undone before the next actor asks."""
    with transaction.atomic():
        response = answer(client_for(world, actor), method, url, data)
        transaction.set_rollback(True)
    return response


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_get_answers_as_the_matrix_says(case, world):
    if case.unlisted:
        pytest.fail(
            f"URL pattern {case.pattern.key!r} (route {case.pattern.route!r}) is not in the "
            f"authorisation matrix ({case.unlisted}): add it to the matrix"
        )
    url = case_url(case, world)
    expected = {actor: case_expectation(case, world, actor) for actor in ACTORS}

    answers = {actor: ask(world, actor, "GET", url) for actor in ACTORS}

    wrong = [
        f"GET {url} as {actor}: got {describe(answers[actor])}, expected {expected[actor]}"
        for actor in ACTORS
        if not satisfies(answers[actor], expected[actor], url)
    ]
    assert not wrong, "\n".join(wrong)


def test_every_matrix_entry_names_a_url_pattern_that_exists():
    keys = {pattern.key for pattern in url_patterns()}

    stale = sorted(set(MATRIX) - keys)

    assert stale == [], f"MATRIX entries for URL patterns that no longer exist: {stale}"


def test_a_url_pattern_left_out_of_the_matrix_fails_by_name(monkeypatch):
    monkeypatch.delitem(MATRIX, "portal:privacy")

    (case,) = [case for case in matrix_cases() if case.pattern.key == "portal:privacy"]

    assert (case.row, case.unlisted) == (None, "no entry in MATRIX")


def test_every_model_the_rule_knows_has_its_admin_pages():
    in_the_admin = {admin_model_page(p)[0] for p in url_patterns() if admin_model_page(p)}

    missing = sorted((set(ADMIN_OBJECTS) | set(NEVER_IN_THE_ADMIN)) - in_the_admin)

    assert missing == [], f"models no longer in the admin: {missing}"


def test_every_app_of_the_admin_has_its_index_in_the_matrix():
    (app_list,) = [p for p in url_patterns() if p.key == "admin:app_list"]

    labels = re.search(r"\(\?P<app_label>([^)]*)\)", app_list.route).group(1).split("|")

    assert sorted(labels) == sorted(APP_INDEX)


def test_the_matrix_reaches_every_kind_of_url():
    kinds = {
        "web": [c for c in CASES if c.row and not c.pattern.route.startswith(("api/", "admin/"))],
        "api": [c for c in CASES if c.pattern.route.startswith("api/")],
        "admin by rule": [c for c in CASES if c.admin_page],
        "admin by table": [c for c in CASES if c.row and c.pattern.route.startswith("admin/")],
    }

    assert {kind: len(cases) > 0 for kind, cases in kinds.items()} == dict.fromkeys(kinds, True)


# -- POST-only endpoints ------------------------------------------------------------------------


@dataclass(frozen=True)
class PostRow:
    """A POST-only endpoint: what a POST by each listed actor answers (never a success)."""

    expected: dict[str, Expected]
    kwargs: Callable = lambda w: {}
    data: Callable = lambda w: {}


# Only the actors who must be refused are listed (a permitted POST would change the world).
# The GET of each answers as MATRIX says (405, or the admin's redirect or 403).
POST_ONLY = {
    "portal:application-start": PostRow(
        cells(anonymous=LOGIN, staff=403), data=lambda w: {"product": w.application.product.code}
    ),
    "portal:contract-code": PostRow(
        cells(anonymous=LOGIN, merchant_b=404, applicant=404, staff=403),
        public_id("contract"),
    ),
    "portal:contract-renew": PostRow(cells(anonymous=LOGIN, staff=403)),
    "portal:terminal-activate": PostRow(
        cells(anonymous=LOGIN, merchant_b=404, applicant=404, staff=403),
        public_id("terminal"),
        data=lambda w: {"code": w.terminal.activation_code},
    ),
    "admin:portal_application_decide": PostRow(
        cells(visitors=ADMIN_LOGIN, support=403, risk=403, finance=403),
        lambda w: {"pk": w.application.pk, "decision": "reject"},
        data=lambda w: {"reason": "other", "note": "matrix"},
    ),
    "admin:portal_application_document": PostRow(
        cells(visitors=ADMIN_LOGIN, support=403, risk=403, finance=403),
        lambda w: {"pk": w.application.pk, "document_pk": w.document.pk, "verdict": "reject"},
        data=lambda w: {"reason": "matrix"},
    ),
    "admin:portal_contract_countersign": PostRow(
        cells(visitors=ADMIN_LOGIN, reviewer=403, support=403, risk=403),
        lambda w: {"pk": w.contract.pk},
    ),
    "admin:settlements_acquirer_test": PostRow(
        cells(visitors=ADMIN_LOGIN, reviewer=403, support=403, risk=403),
        lambda w: {"pk": w.acquirer.pk},
    ),
    "admin:portal_terminal_move": PostRow(
        cells(visitors=ADMIN_LOGIN, reviewer=403, support=403, risk=403),
        lambda w: {"pk": w.terminal.pk, "status": "delivered"},
    ),
    "admin:settlements_calendarday_seed": PostRow(
        cells(visitors=ADMIN_LOGIN, reviewer=403, support=403, risk=403)
    ),
}
# POST-only and meant for anyone (no object, no account): only the CSRF check applies.
POST_ONLY_FOR_ANYONE = {"accounts:logout", "set_language"}
# POST-only, for the acquirer: its signature over the body is the credential, whoever is
# signed in; no CSRF token (the acquirer has none).
SIGNED_BY_THE_ACQUIRER = {"settlements:acquirer-webhook"}

POST_CASES = [
    (name, actor) for name, row in POST_ONLY.items() for actor in ACTORS if actor in row.expected
]


def state() -> dict:
    """What any of the POST-only endpoints could change."""
    return {
        "applications": list(Application.objects.order_by("pk").values()),
        "documents": list(ApplicationDocument.objects.order_by("pk").values()),
        "contracts": list(Contract.objects.order_by("pk").values()),
        "terminals": list(Terminal.objects.order_by("pk").values()),
        "calendar": (CalendarDay.objects.count(), CalendarYear.objects.count()),
        "notifications": Notification.objects.count(),
        "mails": len(mail.outbox),
    }


@pytest.mark.parametrize(
    ("name", "actor"), POST_CASES, ids=[f"{name}-{actor}" for name, actor in POST_CASES]
)
def test_a_post_only_endpoint_refuses_who_may_not_use_it_and_changes_nothing(name, actor, world):
    row = POST_ONLY[name]
    url = reverse(name, kwargs=row.kwargs(world))
    expected = row.expected[actor]
    before = state()

    response = answer(client_for(world, actor), "POST", url, row.data(world))

    assert satisfies(response, expected, url), (
        f"POST {url} as {actor}: got {describe(response)}, expected {expected}"
    )
    assert state() == before, f"POST {url} as {actor} changed something"


def test_every_endpoint_that_refuses_get_with_405_has_post_checks():
    post_only = {
        key
        for key, entry in MATRIX.items()
        if isinstance(entry, Row) and set(entry.expected.values()) == {405}
    }

    assert post_only - set(POST_ONLY) - POST_ONLY_FOR_ANYONE - SIGNED_BY_THE_ACQUIRER == set()


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("name", sorted(SIGNED_BY_THE_ACQUIRER))
def test_an_unsigned_post_is_refused_whoever_sends_it_and_stores_nothing(name, actor, world):
    body = b'{"id":"evt_matrix","type":"payout.updated","data":{}}'

    response = client_for(world, actor).post(reverse(name), body, content_type="application/json")

    assert response.status_code == 401, f"POST {reverse(name)} as {actor}: {describe(response)}"
    assert not WebhookEvent.objects.exclude(event_id="evt_matrix").exists()


CSRF_CASES = sorted({*POST_ONLY, *POST_ONLY_FOR_ANYONE})


@pytest.mark.parametrize("name", CSRF_CASES)
def test_an_anonymous_post_without_a_csrf_token_is_refused(name, world):
    row = POST_ONLY.get(name, PostRow({}))
    url = reverse(name, kwargs=row.kwargs(world))
    before = state()

    response = answer(client_for(world, "anonymous", csrf_checks=True), "POST", url)

    assert response.status_code == 403, f"POST {url} without CSRF token: got {describe(response)}"
    assert state() == before


# -- Old versions in the admin (django-simple-history) ------------------------------------------

# Every admin page of an old version is also a form that saves that version back.
VERSIONED = {
    "portal.application": Application,
    "portal.contract": Contract,
    "portal.terminal": Terminal,
    "portal.feeschedule": FeeSchedule,
    "portal.terminalproduct": TerminalProduct,
    "settlements.calendarday": CalendarDay,
}
VERSION_CASES = [(model, actor) for model in VERSIONED for actor in STAFF]


def form_data(form) -> dict:
    """What the browser would send back for ``form`` unchanged."""
    data = {}
    for name, form_field in form.fields.items():
        value = form[name].value()
        if isinstance(form_field.widget, MultiWidget):
            for suffix, part in zip(
                form_field.widget.widgets_names,
                form_field.widget.decompress(value),
                strict=True,
            ):
                if part is not None:
                    data[f"{name}{suffix}"] = str(part)
        elif value is None or value is False:
            continue
        elif value is True:
            data[name] = "on"
        elif isinstance(value, list | tuple):
            data[name] = [str(item) for item in value]
        else:
            data[name] = str(value)
    return data


def test_every_versioned_admin_is_checked():
    versioned = {
        admin_model_page(p)[0]
        for p in url_patterns()
        if admin_model_page(p) and admin_model_page(p)[1] == "version"
    }

    assert versioned == set(VERSIONED)


@pytest.mark.parametrize(
    ("model", "actor"), VERSION_CASES, ids=[f"{m}-{a}" for m, a in VERSION_CASES]
)
def test_an_old_version_cannot_be_saved_back_from_the_admin(model, actor, world):
    # SIMPLE_HISTORY_REVERT_DISABLED (portal/settings.py): "reverting to an old version would
    # skip the status rules and events" — for every member of staff.
    obj = admin_object(world, model)
    history = getattr(obj, obj._meta.simple_history_manager_attribute)
    oldest = history.order_by("history_id").values_list("history_id", flat=True)[0]
    app_label, model_name = model.split(".")
    url = reverse(f"admin:{app_label}_{model_name}_simple_history", args=[obj.pk, oldest])
    client = client_for(world, "superuser")
    page = client.get(url)
    data = form_data(page.context["adminform"].form)
    client = client_for(world, actor)
    before = list(VERSIONED[model].objects.filter(pk=obj.pk).values())

    response = answer(client, "POST", url, data)

    after = list(VERSIONED[model].objects.filter(pk=obj.pk).values())
    assert (response.status_code, after) == (403, before), (
        f"POST {url} as {actor}: got {describe(response)}"
        + (", and the object was changed" if after != before else ", object unchanged")
    )


# -- Outside the resolver -----------------------------------------------------------------------


@pytest.mark.parametrize("actor", ACTORS)
def test_static_files_are_served_to_everyone(actor, world):
    response = answer(client_for(world, actor), "GET", "/static/css/portal.css")

    assert response.status_code == 200
