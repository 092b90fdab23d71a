"""Hostile and unusual input against onboarding, and the cases a review found."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.urls import reverse
from stdnum.cn import uscc

from portal import demo, services, views
from portal.models import Application, Notification, RiskFlag
from tests import factories
from tests import onboarding as data

pytestmark = pytest.mark.django_db

Status = Application.Status


@pytest.fixture
def reviewer():
    return factories.StaffFactory(group="reviewer")


def step_url(application, step):
    return reverse("portal:application-step", args=[application.public_id, step])


def fix_url(application):
    return reverse("portal:application-fix", args=[application.public_id])


def needs_info(reviewer, applicant, items, **overrides):
    application = data.in_review(reviewer, applicant, **overrides)
    return services.application_request_info(
        application=application, reviewer=reviewer, items=items
    )


def a_valid_uscc() -> str:
    body = "91310104MA1FL0000"
    return body + uscc.calc_check_digit(body + "0")


@pytest.mark.parametrize("step", ["identity", "business", "settlement", "order"])
def test_an_empty_post_to_a_step_is_a_form_error_not_a_crash(customer_client, customer, step):
    application, _created = services.application_start(applicant=customer)

    response = customer_client.post(step_url(application, step), {})

    assert response.status_code == 200
    assert response.context["form"].errors


def test_a_json_post_to_a_step_is_a_form_error_not_a_crash(customer_client, customer):
    application, _created = services.application_start(applicant=customer)

    response = customer_client.post(
        step_url(application, "identity"), {"legal_name": "x"}, content_type="application/json"
    )

    assert response.status_code == 200
    application.refresh_from_db()
    assert application.legal_name == ""


def test_an_empty_post_to_the_fix_page_is_not_a_crash(customer_client, customer, reviewer):
    application = needs_info(reviewer, customer, [("mcc", "类别不符")])

    response = customer_client.post(fix_url(application), {})

    assert response.status_code == 200
    application.refresh_from_db()
    assert application.status == Status.NEEDS_INFO


def test_a_half_valid_settlement_step_saves_none_of_it(customer_client, customer):
    application = data.draft(
        customer, applicant_type="sole_proprietor", licence_number=a_valid_uscc()
    )

    customer_client.post(
        step_url(application, "settlement"),
        {
            "action": "exit",
            "account_type": "corporate",
            "account_number": "12",
            "bank_code": "CCB",
            "bank_branch": "别处",
            "account_holder": "小龙便利店",
        },
    )

    application.refresh_from_db()
    assert (application.account_type, application.bank_code, application.account_holder) == (
        "personal",
        "ICBC",
        "李小龙",
    )
    assert application.account_number == data.debit_card()


def test_a_stored_number_is_shown_masked_and_kept_when_left_empty(customer_client, customer):
    application = data.draft(customer)

    page = customer_client.get(step_url(application, "settlement")).content.decode()
    customer_client.post(
        step_url(application, "settlement"),
        {
            "account_type": "personal",
            "account_number": "",
            "bank_branch": "上海徐汇支行",
            "account_holder": "李小龙",
            "action": "next",
        },
    )

    assert data.debit_card() not in page
    assert f'placeholder="{application.account_number_masked}"' in page
    application.refresh_from_db()
    assert application.account_number == data.debit_card()


def test_an_overlong_email_is_refused_by_the_form(customer_client, customer):
    application, _created = services.application_start(applicant=customer)
    email = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".cn"  # 311 characters

    response = customer_client.post(
        step_url(application, "identity"), {"contact_email": email, "action": "next"}
    )

    assert "contact_email" in response.context["form"].errors
    application.refresh_from_db()
    assert application.contact_email == customer.email


def test_delivering_to_the_business_address_needs_one(customer_client, customer):
    application = data.draft(customer, street="", district="")

    response = customer_client.post(
        step_url(application, "order"),
        {"product": application.product_id, "quantity": "1", "ship_to_business": "on"},
    )

    errors = response.context["form"].errors.as_data()
    assert errors["ship_to_business"][0].code == "no_business_address"


def test_changing_the_applicant_type_in_a_correction_asks_for_what_follows(
    customer_client, customer, reviewer
):
    application = needs_info(reviewer, customer, [("applicant_type", "您有营业执照")])

    page = customer_client.get(fix_url(application))
    refused = customer_client.post(
        fix_url(application),
        {
            "identity-applicant_type": "sole_proprietor",
            "business-licence_number": a_valid_uscc(),
            "settlement-account_type": "personal",
            "settlement-account_number": "",
            "settlement-bank_branch": "上海徐汇支行",
            "settlement-account_holder": "李小龙",
        },
    )
    # A licensed business also owes its licence and a shop-front photo.
    application.refresh_from_db()
    demo.upload_required_documents(application, customer)
    response = customer_client.post(
        fix_url(application),
        {
            "identity-applicant_type": "sole_proprietor",
            "business-licence_number": a_valid_uscc(),
            "settlement-account_type": "personal",
            "settlement-account_number": "",
            "settlement-bank_branch": "上海徐汇支行",
            "settlement-account_holder": "李小龙",
        },
    )

    assert [form.step.slug for form in page.context["forms"]] == [
        "identity",
        "business",
        "settlement",
    ]
    assert "请先上传以下资料" in refused.content.decode()
    assert response.status_code == 302
    application.refresh_from_db()
    assert (application.applicant_type, application.licence_number) == (
        "sole_proprietor",
        a_valid_uscc(),
    )
    assert application.status == Status.SUBMITTED


def test_an_id_card_that_expired_since_opens_its_dates_for_correction(
    customer_client, customer, reviewer
):
    application = needs_info(
        reviewer,
        customer,
        [("contact", "手机号停机")],
        id_valid_from=date(2010, 1, 1),
        id_valid_until=date(2027, 1, 1),
    )
    Application.objects.filter(pk=application.pk).update(id_valid_until=date(2026, 1, 1))

    page = customer_client.get(fix_url(application))

    layout = [field for form in page.context["forms"] for field in form.helper.layout.fields]
    assert "id_valid_until" in layout
    assert "contact_mobile" in layout


def test_a_reviewer_cannot_ask_an_individual_for_a_licence_number(reviewer):
    application = data.in_review(reviewer)

    with pytest.raises(ValidationError) as refused:
        services.application_request_info(
            application=application, reviewer=reviewer, items=[("licence_number", "请提供")]
        )

    assert refused.value.code == "item_not_applicable"
    application.refresh_from_db()
    assert application.status == Status.IN_REVIEW


def test_reapplying_after_a_rejection_is_not_flagged_as_a_duplicate_of_oneself(reviewer):
    applicant = factories.CustomerFactory()
    first = data.in_review(reviewer, applicant)
    services.application_reject(application=first, reviewer=reviewer, reason="category")

    second = data.submitted(applicant)

    assert not second.risk_flags.exists()


def test_the_flag_count_is_right_when_filtering_by_flag(client, reviewer):
    data.submitted()
    flagged = data.submitted(id_number=data.resident_id(sequence=456))
    client.force_login(reviewer)

    response = client.get(reverse("admin:portal_application_changelist"), {"flag": "any"})

    rows = {a.pk: a.flags for a in response.context["cl"].result_list}
    assert rows == {flagged.pk: RiskFlag.objects.filter(application=flagged).count()}


def test_a_malformed_admin_id_is_not_a_crash(client, reviewer):
    client.force_login(reviewer)

    response = client.get("/admin/portal/application/abc/change/")

    assert response.status_code == 302


def test_history_cannot_be_reverted_around_the_status_rules(admin_client, reviewer):
    application = data.in_review(reviewer)
    services.application_approve(application=application, reviewer=reviewer)
    first = application.history.order_by("history_id").first()

    response = admin_client.post(
        reverse("admin:portal_application_simple_history", args=[application.pk, first.pk]), {}
    )

    assert response.status_code == 403
    application.refresh_from_db()
    assert application.status == Status.APPROVED


def test_support_staff_are_not_offered_the_review_action(client):
    client.force_login(factories.StaffFactory(group="support"))

    response = client.get(reverse("admin:portal_application_changelist"))

    assert response.status_code == 200
    action_form = response.context["action_form"]
    offered = dict(action_form.fields["action"].choices) if action_form else {}
    assert "start_review" not in offered


def test_id_and_card_numbers_are_kept_out_of_error_reports(customer):
    application, _created = services.application_start(applicant=customer)
    request = RequestFactory().get("/")
    request.user = customer

    views.application_step(request, public_id=application.public_id, step="identity")

    assert {"id_number", "account_number"} <= set(request.sensitive_post_parameters)


def test_the_notification_list_marks_only_what_it_showed(customer_client, customer):
    Notification.objects.bulk_create(
        Notification(user=customer, kind="application_in_review", params={"number": str(n)})
        for n in range(51)
    )

    customer_client.get(reverse("portal:notification-list"))

    assert Notification.objects.filter(user=customer, read_at__isnull=True).count() == 1
