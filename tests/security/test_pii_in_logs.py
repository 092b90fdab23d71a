"""
Logs and error reports never contain full ID numbers or bank account numbers (issue 6,
item 7). The guard that checks the whole test session is tests/pii_guard.py; the first half
of this module shows that it finds what it must and only that, the second half walks the paths
most likely to leak with it watching.
"""

import logging
import subprocess
import sys
import textwrap

import pytest
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils.module_loading import import_string
from stdnum import luhn
from stdnum.cn import ric

from core.masking import mask_account_number, mask_middle
from portal import demo, services, views
from portal.models import Notification, RiskFlag
from portal.tasks import notification_email_task
from tests import factories, pii_guard
from tests import onboarding as data
from tests.helpers import REPO, environment
from tests.pii_guard import PIIGuard

# Numbers of nobody in the test data, built here from their parts: the session's guard plants
# every quoted number in the test sources, and the tests below that log these on purpose must
# leave it nothing to find. They feed guards of their own.
ID_BODY = "110101" + "19800101" + "103"
ID_NUMBER = ID_BODY + ric.calc_check_digit(ID_BODY + "0")  # ends in X
CARD_BODY = "621700" + "0012" + "3456" + "7890"
CARD_NUMBER = CARD_BODY + luhn.calc_check_digit(CARD_BODY)


def guard_for(*numbers: str) -> PIIGuard:
    guard = PIIGuard()
    for number in numbers:
        guard.plant(number)
    return guard


def log_record(message, *args, level=logging.WARNING, exc_info=None, **extra):
    record = logging.LogRecord("portal.example", level, __file__, 1, message, args, exc_info)
    record.__dict__.update(extra)
    return record


def exc_info_of(exception: Exception):
    try:
        raise exception
    except type(exception):
        return sys.exc_info()


def spaced(number: str, *groups: int) -> str:
    parts, start = [], 0
    for size in groups:
        parts.append(number[start : start + size])
        start += size
    return " ".join(parts)


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# --- the guard -----------------------------------------------------------------------------


def test_the_identifiers_built_for_these_tests_are_valid():
    assert ID_NUMBER.endswith("X")
    assert luhn.is_valid(CARD_NUMBER)


def test_a_planted_id_number_in_a_log_message_is_found():
    guard = guard_for(ID_NUMBER)

    guard.inspect(log_record("identity step failed for %s", ID_NUMBER))

    [finding] = guard.findings
    assert (finding.kind, finding.masked, finding.where) == (
        "ID number",
        "**************103X",
        "message",
    )
    assert finding.logger == "portal.example"


@pytest.mark.parametrize(
    "masked",
    [
        mask_middle(ID_NUMBER, keep_start=3, keep_end=4),
        mask_middle(ID_NUMBER, keep_start=6, keep_end=4),
        mask_account_number(CARD_NUMBER),
        ID_NUMBER[-4:],
    ],
    ids=["id as the portal masks it", "id first 6 last 4", "card first 6 last 4", "last 4"],
)
def test_a_masked_number_is_not_a_finding(masked):
    guard = guard_for(ID_NUMBER, CARD_NUMBER)

    guard.inspect(log_record("applicant %s", masked))

    assert guard.findings == []


@pytest.mark.parametrize(
    "disguise",
    [
        pytest.param(lambda n: spaced(n, 4, 4, 4, 4, 4), id="spaces every 4"),
        pytest.param(lambda n: spaced(n, 6, 8, 4), id="spaces 6-8-4"),
        pytest.param(lambda n: spaced(n, 6, 8, 4).replace(" ", "-"), id="dashes"),
        pytest.param(full_width, id="full-width"),
        pytest.param(
            lambda n: full_width(spaced(n, 6, 8, 4)).replace(" ", "\u3000"), id="full-width 6-8-4"
        ),
        pytest.param(str.lower, id="lower-case x"),
        pytest.param(lambda n: f"REF00{n}77", id="inside a longer run of digits"),
        pytest.param(lambda n: n[:-1] + "5", id="wrong check character"),
    ],
)
def test_an_id_number_in_disguise_is_found(disguise):
    guard = guard_for(ID_NUMBER)

    guard.inspect(log_record("applicant typed %s", disguise(ID_NUMBER)))

    assert [f.masked for f in guard.findings] == ["**************103X"]


def test_a_card_number_with_spaces_every_four_digits_is_found():
    guard = guard_for(CARD_NUMBER)

    guard.inspect(log_record("payout to %s", spaced(CARD_NUMBER, 4, 4, 4, 4, 4)))

    assert [(f.kind, f.masked) for f in guard.findings] == [
        ("account number", "*" * 15 + CARD_NUMBER[-4:])
    ]


def test_a_number_in_a_traceback_is_found():
    guard = guard_for(CARD_NUMBER)
    exc_info = exc_info_of(ValueError(f"card {CARD_NUMBER} refused"))

    guard.inspect(log_record("task failed", level=logging.ERROR, exc_info=exc_info))

    assert [f.where for f in guard.findings] == ["traceback"]


def test_a_number_in_an_extra_field_is_found():
    guard = guard_for(ID_NUMBER)

    guard.inspect(log_record("saved", data={"args": [{"id_number": ID_NUMBER}]}))

    assert [f.where for f in guard.findings] == ["extra 'data'"]


def test_the_error_report_of_a_request_is_searched():
    # No sensitive_post_parameters on this request: the report would show the POST as is.
    guard = guard_for(ID_NUMBER)
    request = RequestFactory().post("/somewhere/", {"id_number": ID_NUMBER})
    record = log_record(
        "Internal Server Error: /somewhere/",
        level=logging.ERROR,
        exc_info=exc_info_of(RuntimeError("boom")),
        request=request,
    )

    guard.inspect(record)

    assert [f.where for f in guard.findings] == ["error report"]
    assert guard.error_reports == 1


def test_a_logger_that_does_not_propagate_is_covered():
    guard = guard_for(ID_NUMBER)
    quiet = logging.getLogger("tests.pii_guard.quiet")
    quiet.propagate = False
    guard.install()
    try:
        quiet.warning("applicant %s", ID_NUMBER)
        logging.getLogger("django.server").warning('"GET /?q=%s HTTP/1.1" 200', ID_NUMBER)
    finally:
        guard.uninstall()
        quiet.propagate = True

    assert [f.logger for f in guard.findings] == ["tests.pii_guard.quiet", "django.server"]


def test_a_number_planted_after_it_was_logged_is_found_by_the_final_check():
    guard = guard_for(CARD_NUMBER)
    guard.inspect(log_record("applicant %s", ID_NUMBER))
    guard.plant(ID_NUMBER)

    guard.recheck()

    assert [(f.masked, f.late) for f in guard.findings] == [("**************103X", True)]


def test_the_report_shows_no_more_than_the_last_four_digits():
    guard = guard_for(ID_NUMBER)
    guard.inspect(log_record("applicant %s (card holder %s)", ID_NUMBER, ID_NUMBER.lower()))

    report = "\n".join(guard.report_lines())

    assert "**************103X" in report
    assert ID_BODY not in report


def test_numbers_too_short_to_search_for_are_refused():
    with pytest.raises(ValueError, match="too short"):
        PIIGuard().plant("13912340000")


def test_quoted_card_and_id_numbers_in_test_sources_are_planted(tmp_path):
    (tmp_path / "test_example.py").write_text(
        f'CARD = "{CARD_NUMBER}"\nID = "{ID_NUMBER.lower()}"\nMID = "898310054110001"\n'
    )
    guard = PIIGuard()

    guard.plant_source_literals(tmp_path)

    assert guard.planted == {CARD_NUMBER, ID_NUMBER}


def test_the_session_guard_knows_the_numbers_the_test_data_is_made_of():
    made = {
        data.resident_id(birth=data.TODAY.replace(year=1977), sequence=9),
        data.debit_card(serial=99),
        data.credit_card(serial=99),
        *(applicant.card for applicant in demo.APPLICANTS),
    }

    assert made <= pii_guard.GUARD.planted


@pytest.mark.django_db
def test_the_session_guard_knows_every_number_the_portal_encrypts(customer):
    # Made here without the demo's generators, as a test might type one.
    account = "4000" + "1234" + "5678" + "9010" + "7"
    application, _created = services.application_start(applicant=customer)

    services.application_save_fields(application=application, values={"account_number": account})

    assert account in pii_guard.GUARD.planted


def test_a_number_planted_on_one_test_worker_and_logged_on_another_is_found():
    # pytest-xdist: each worker process has its own guard; the controller merges what they
    # hand over and looks again at every run of digits that matched nothing where it was logged.
    logged_here, planted_there, controller = PIIGuard(), guard_for(ID_NUMBER), PIIGuard()
    logged_here.current_test = "test_leaky.py::test_logs"
    logged_here.inspect(log_record("applicant %s", ID_NUMBER))
    assert logged_here.findings == []

    for worker in (logged_here, planted_there):
        controller.merge(worker.worker_output())
    controller.recheck()

    [finding] = controller.findings
    assert (finding.masked, finding.test, finding.late) == (
        "**************103X",
        "test_leaky.py::test_logs",
        True,
    )
    assert controller.records == 1


def test_what_a_test_worker_found_reaches_the_controller():
    worker, controller = guard_for(CARD_NUMBER), PIIGuard()
    worker.inspect(log_record("payout to %s", CARD_NUMBER))

    controller.merge(worker.worker_output())

    assert controller.findings == worker.findings
    assert CARD_NUMBER in controller.planted


@pytest.mark.parametrize(
    "workers",
    [pytest.param([], id="one process"), pytest.param(["-n", "2"], id="pytest-xdist workers")],
)
def test_the_session_fails_and_says_where_when_a_number_reaches_the_logs(tmp_path, workers):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_leaky.py").write_text(
        textwrap.dedent(
            f"""
            import logging
            from tests import pii_guard

            NUMBER = pii_guard.plant("{ID_BODY}" + "X")

            def test_leaks():
                logging.getLogger("portal.example").warning("applicant %s", NUMBER)
                logging.getLogger("django.server").info("GET /?q=%s", NUMBER.lower())
                try:
                    raise ValueError("ID " + "{full_width(ID_NUMBER)}")
                except ValueError:
                    logging.getLogger("celery.app.trace").exception("task failed")
            """
        )
    )

    run = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", str(tmp_path / "test_leaky.py")),
            *("-p", "tests.pii_guard", "-p", "no:randomly", "-p", "no:cacheprovider"),
            *workers,
        ],
        cwd=REPO,
        env=environment(DJANGO_SETTINGS_MODULE="portal.settings"),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 passed" in run.stdout
    if workers:
        assert "bringing up nodes" in run.stdout  # it did run on xdist workers
    assert "PII guard: full numbers in logs or error reports (3)" in run.stdout
    for where in (
        "in the message of 1 WARNING record(s) of logger 'portal.example'",
        "in the message of 1 INFO record(s) of logger 'django.server'",
        "in the traceback of 1 ERROR record(s) of logger 'celery.app.trace'",
    ):
        assert f"ID number **************103X {where}" in run.stdout
    assert "first during: test_leaky.py::test_leaks" in run.stdout
    assert ID_BODY not in run.stdout + run.stderr


# --- the paths most likely to leak -----------------------------------------------------------


@pytest.fixture
def debug_logging(caplog):
    # Production may run at LOG_LEVEL=DEBUG: what is logged only at that level counts too.
    caplog.set_level(logging.DEBUG)


@pytest.fixture
def application(customer):
    application, _created = services.application_start(applicant=customer)
    return application


@pytest.fixture
def error_client(customer, settings):
    # With ADMINS set, Django mails the error report of every 500 (AdminEmailHandler).
    settings.ADMINS = [("运维", "ops@example.cn")]
    client = Client(raise_request_exception=False)
    client.force_login(customer)
    return client


def step_url(application, step):
    return reverse("portal:application-step", args=[application.public_id, step])


def identity_post(**overrides):
    values = data.complete_values()
    return {
        "applicant_type": values["applicant_type"],
        "legal_name": values["legal_name"],
        "id_number": values["id_number"],
        "id_valid_from": "2020-01-01",
        "id_valid_until": "2040-01-01",
        "contact_mobile": values["contact_mobile"],
        "contact_email": values["contact_email"],
        "action": "next",
        **overrides,
    }


def settlement_post(**overrides):
    return {
        "account_type": "personal",
        "account_number": data.debit_card(),
        "bank_branch": "上海徐汇支行",
        "account_holder": "李小龙",
        "action": "next",
        **overrides,
    }


def break_saving(monkeypatch):
    def save_fails(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "application_save_fields", save_fails)


@pytest.mark.django_db
def test_a_mistyped_id_number_on_the_identity_step_is_not_logged(
    customer_client, application, debug_logging
):
    mistyped = pii_guard.plant(data.resident_id()[:-1] + "5")

    with pii_guard.watching() as seen:
        response = customer_client.post(
            step_url(application, "identity"), identity_post(id_number=mistyped)
        )

    assert response.status_code == 200
    assert response.context["form"].errors["id_number"]
    assert seen.findings == []


@pytest.mark.django_db
def test_a_card_that_draws_warnings_on_the_settlement_step_is_not_logged(
    customer_client, customer, debug_logging
):
    application = data.draft(customer, documents=False)
    unknown_bank = demo.card_number("777700", 16, 5)

    with pii_guard.watching() as seen:
        response = customer_client.post(
            step_url(application, "settlement"),
            settlement_post(account_number=unknown_bank, bank_code="ICBC"),
            follow=True,
        )

    warnings = [str(m) for m in response.context["messages"]]
    assert "无法识别该卡的发卡银行，请核对卡号是否正确。" in warnings
    assert seen.findings == []


@pytest.mark.django_db
def test_a_duplicate_id_number_is_flagged_at_submission_without_being_logged(debug_logging):
    data.submitted()

    with pii_guard.watching() as seen:
        second = data.submitted(account_number=data.debit_card(2))

    assert RiskFlag.objects.filter(application=second, code=RiskFlag.Code.DUPLICATE_ID).exists()
    assert seen.findings == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("step", "post", "field", "number"),
    [
        ("identity", identity_post, "id_number", data.resident_id),
        ("settlement", settlement_post, "account_number", data.debit_card),
    ],
)
def test_a_server_error_on_a_step_keeps_the_numbers_out_of_the_error_report(
    error_client, customer, monkeypatch, step, post, field, number
):
    application = data.draft(customer, documents=False)
    break_saving(monkeypatch)

    with pii_guard.watching() as seen:
        response = error_client.post(step_url(application, step), post())

    assert response.status_code == 500
    assert "django.request" in seen.loggers
    assert seen.error_reports == 1
    assert seen.findings == []
    [report] = mail.outbox
    assert f"{field} = '********************'" in report.body
    assert number() not in report.body


@pytest.mark.django_db
def test_a_server_error_on_the_correction_page_keeps_the_numbers_out_of_the_error_report(
    error_client, customer, monkeypatch
):
    reviewer = factories.StaffFactory(group="reviewer")
    application = data.in_review(reviewer, customer)
    services.application_request_info(
        application=application,
        reviewer=reviewer,
        items=[("id_number", "看不清"), ("settlement_account", "请核对卡号")],
    )
    mail.outbox.clear()
    break_saving(monkeypatch)

    with pii_guard.watching() as seen:
        response = error_client.post(
            reverse("portal:application-fix", args=[application.public_id]),
            {
                "identity-id_number": data.resident_id(),
                **{f"settlement-{k}": v for k, v in settlement_post().items()},
            },
        )

    assert response.status_code == 500
    assert seen.error_reports == 1
    assert seen.findings == []
    [report] = mail.outbox
    assert "identity-id_number = '********************'" in report.body
    assert "settlement-account_number = '********************'" in report.body


class FailingSMTPBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("mail server refused the connection")


@pytest.mark.django_db
@pytest.mark.parametrize("mail_server", ["up", "down"])
def test_the_notification_task_logs_no_numbers(settings, debug_logging, mail_server):
    if mail_server == "down":
        settings.EMAIL_BACKEND = f"{__name__}.FailingSMTPBackend"
    application = data.submitted()
    notification = Notification.objects.get(user=application.applicant)

    with pii_guard.watching() as seen:
        notification_email_task.apply(args=[notification.pk])

    assert "celery.app.trace" in seen.loggers
    assert seen.findings == []


@pytest.mark.django_db
@pytest.mark.parametrize("number", [data.resident_id, data.debit_card], ids=["id", "card"])
def test_an_admin_search_by_a_full_number_logs_nothing_of_it(client, debug_logging, number):
    wanted = data.submitted()
    client.force_login(factories.StaffFactory(group="reviewer"))
    changelist = reverse("admin:portal_application_changelist")

    with pii_guard.watching() as seen:
        found = client.get(changelist, {"q": number()})
        client.get(
            reverse("admin:portal_application_change", args=[wanted.pk]),
            {"_changelist_filters": f"q={number()}"},
        )

    assert list(found.context["cl"].result_list) == [wanted]
    assert "portal.services.audit" in seen.loggers  # the search is recorded, by number kind
    assert seen.findings == []


# --- error reports ------------------------------------------------------------------------------
# Django's error report (mailed to ADMINS by AdminEmailHandler, and the DEBUG page) hides the
# POST fields a view names and settings that look secret, but prints the URL, the GET
# parameters, the request headers and, in its HTML form, every frame's local variables as they
# are; core/error_reports.py masks long digit runs in those. These tests build the report
# directly, not through logging.


def error_report(request, exc_info, *, html: bool = False) -> str:
    """The report Django would mail (or, ``html``, show on the DEBUG page)."""
    from django.conf import settings

    reporter_class = import_string(settings.DEFAULT_EXCEPTION_REPORTER)
    reporter = reporter_class(request, *exc_info, is_email=not html)
    return reporter.get_traceback_html() if html else reporter.get_traceback_text()


@pytest.mark.django_db
@pytest.mark.parametrize("number", [data.resident_id, data.debit_card], ids=["id", "card"])
def test_the_error_report_of_an_admin_search_by_a_full_number_leaves_the_number_out(
    number, rf, staff_user
):
    # The admin search is a GET form: the number is in the URL, the query and QUERY_STRING.
    request = rf.get(reverse("admin:portal_application_changelist"), {"q": number()})
    request.user = staff_user

    report = error_report(request, exc_info_of(RuntimeError("the database went away")))

    assert pii_guard.GUARD.search(report) == []


@pytest.mark.django_db
def test_the_html_error_report_leaves_the_numbers_in_local_variables_out(customer, monkeypatch):
    # What the DEBUG page and AdminEmailHandler(include_html=True) show: the view's and the
    # service's `values` hold the numbers as typed.
    application = data.draft(customer, documents=False)
    break_saving(monkeypatch)
    request = RequestFactory().post(step_url(application, "identity"), identity_post())
    request.user, request.session = customer, {}
    request._messages = FallbackStorage(request)
    with pytest.raises(RuntimeError) as raised:
        views.application_step(request, public_id=application.public_id, step="identity")

    report = error_report(request, (raised.type, raised.value, raised.tb), html=True)

    assert pii_guard.GUARD.search(report) == []
