import pytest
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from portal import services
from portal.models import Application, Notification
from tests import factories
from tests import onboarding as data
from tests.factories import PASSWORD
from tests.helpers import assert_constant_queries

pytestmark = pytest.mark.django_db

Status = Application.Status


def step_url(application, step):
    return reverse("portal:application-step", args=[application.public_id, step])


def identity_post(**overrides):
    values = data.complete_values()
    post = {
        "applicant_type": values["applicant_type"],
        "legal_name": values["legal_name"],
        "id_number": values["id_number"],
        "id_valid_from": "2020-01-01",
        "id_valid_until": "2040-01-01",
        "contact_mobile": values["contact_mobile"],
        "contact_email": values["contact_email"],
        "action": "next",
    }
    post.update(overrides)
    return post


@pytest.fixture
def application(customer):
    application, _created = services.application_start(applicant=customer)
    return application


# --- catalogue -------------------------------------------------------------------------------


def test_the_catalogue_shows_products_on_sale_with_their_fees(client):
    on_sale = data.product("mpos")
    hidden = data.product("retired")
    hidden.is_active = False
    hidden.save()

    body = client.get(reverse("portal:products")).content.decode()

    assert on_sale.name in body
    assert "0.50%" in body
    assert "封顶 ¥20.00" in body
    assert f'data-testid="product-{hidden.code}"' not in body


def test_the_catalogue_keeps_a_constant_number_of_queries(client):
    counter = iter(range(100))
    data.product("p-first")

    assert_constant_queries(
        lambda: client.get(reverse("portal:products")),
        lambda: data.product(f"p{next(counter)}"),
    )


# --- starting --------------------------------------------------------------------------------


def test_starting_an_application_opens_the_first_step(customer_client, customer):
    product = data.product()

    response = customer_client.post(reverse("portal:application-start"), {"product": "mpos"})

    application = Application.objects.get(applicant=customer)
    assert response.url == step_url(application, "identity")
    assert application.product == product
    assert application.status == Status.DRAFT
    assert application.contact_mobile == customer.mobile


def test_starting_again_resumes_the_same_application(customer_client, customer):
    customer_client.post(reverse("portal:application-start"))

    customer_client.post(reverse("portal:application-start"))

    assert Application.objects.filter(applicant=customer).count() == 1


def test_starting_needs_a_post(customer_client):
    assert customer_client.get(reverse("portal:application-start")).status_code == 405


def test_staff_cannot_start_an_application(client, staff_user):
    client.force_login(staff_user)

    response = client.post(reverse("portal:application-start"))

    assert response.status_code == 403
    assert not Application.objects.exists()


def test_an_unknown_product_is_a_404(customer_client):
    response = customer_client.post(reverse("portal:application-start"), {"product": "nope"})

    assert response.status_code == 404
    assert not Application.objects.exists()


# --- steps and drafts ------------------------------------------------------------------------


def test_a_valid_step_is_saved_and_leads_to_the_next(customer_client, application):
    response = customer_client.post(step_url(application, "identity"), identity_post())

    assert response.url == step_url(application, "business")
    application.refresh_from_db()
    assert application.legal_name == "李小龙"
    assert application.id_number == data.resident_id()


def test_a_failed_step_keeps_what_was_typed_and_saves_what_was_valid(customer_client, application):
    bad_id = data.resident_id()[:-1] + ("0" if data.resident_id()[-1] != "0" else "1")

    response = customer_client.post(
        step_url(application, "identity"), identity_post(id_number=bad_id)
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert f'value="{bad_id}"' in body
    assert "身份证号码" in body
    assert response.context["form"].errors.as_data()["id_number"][0].code == "id_checksum"
    application.refresh_from_db()
    assert application.legal_name == "李小龙"
    assert application.id_number is None


def test_a_draft_survives_a_failed_step_and_a_logout(client, customer, application):
    client.force_login(customer)
    client.post(step_url(application, "identity"), identity_post(contact_mobile="12345"))
    client.post(reverse("accounts:logout"))

    client.post(reverse("accounts:login"), {"username": customer.mobile, "password": PASSWORD})
    page = client.get(step_url(application, "identity"))

    assert client.session[SESSION_KEY] == str(customer.pk)
    assert page.context["form"].initial["legal_name"] == "李小龙"
    application.refresh_from_db()
    assert application.id_number == data.resident_id()
    body = page.content.decode()
    assert application.id_number_masked in body  # shown masked, as the placeholder
    assert data.resident_id() not in body


def test_save_and_finish_later_leaves_even_an_incomplete_step(customer_client, application):
    response = customer_client.post(
        step_url(application, "identity"),
        identity_post(action="exit", id_number="", contact_email="bad"),
    )

    assert response.url == reverse("portal:application-detail", args=[application.public_id])
    application.refresh_from_db()
    assert application.legal_name == "李小龙"
    assert application.contact_email == customer_email(application)


def customer_email(application):
    # The e-mail typed was invalid, so the one copied from the account at start remains.
    return application.applicant.email


def test_another_user_cannot_read_or_edit_a_draft(client, application):
    client.force_login(factories.CustomerFactory())

    for url in (
        reverse("portal:application-detail", args=[application.public_id]),
        step_url(application, "identity"),
        reverse("portal:application-review", args=[application.public_id]),
        reverse("portal:application-fix", args=[application.public_id]),
    ):
        assert client.get(url).status_code == 404
    response = client.post(step_url(application, "identity"), identity_post(legal_name="黑客"))

    assert response.status_code == 404
    application.refresh_from_db()
    assert application.legal_name != "黑客"


def test_an_unknown_step_is_a_404(customer_client, application):
    assert customer_client.get(step_url(application, "payment")).status_code == 404


def test_a_submitted_application_cannot_be_edited_through_a_step(customer_client, customer):
    application = data.submitted(customer)

    response = customer_client.post(
        step_url(application, "identity"), identity_post(legal_name="改名")
    )

    assert response.status_code == 302
    application.refresh_from_db()
    assert application.legal_name == "李小龙"


# --- review and submit -----------------------------------------------------------------------


def test_the_review_page_masks_the_id_and_card_numbers(customer_client, customer):
    application = data.draft(customer)

    body = customer_client.get(
        reverse("portal:application-review", args=[application.public_id])
    ).content.decode()

    assert data.resident_id() not in body
    assert data.debit_card() not in body
    assert application.id_number_masked in body
    assert application.account_number_masked in body


def test_submitting_a_complete_draft(customer_client, customer):
    application = data.draft(customer)

    response = customer_client.post(
        reverse("portal:application-review", args=[application.public_id])
    )

    assert response.url == reverse("portal:application-detail", args=[application.public_id])
    application.refresh_from_db()
    assert application.status == Status.SUBMITTED
    assert Notification.objects.filter(user=customer, kind="application_submitted").exists()


def test_submitting_an_incomplete_draft_says_which_steps_are_missing(customer_client, application):
    response = customer_client.post(
        reverse("portal:application-review", args=[application.public_id]), follow=True
    )

    body = response.content.decode()
    assert "请先完成以下步骤" in body
    application.refresh_from_db()
    assert application.status == Status.DRAFT


# --- status page and corrections -------------------------------------------------------------


def test_the_status_page_shows_the_timeline_and_the_reviewers_questions(customer_client, customer):
    reviewer = factories.StaffFactory(group="reviewer")
    application = data.in_review(reviewer, customer)
    services.application_request_info(
        application=application,
        reviewer=reviewer,
        items=[("settlement_account", "卡号与照片不一致")],
    )

    body = customer_client.get(
        reverse("portal:application-detail", args=[application.public_id])
    ).content.decode()

    assert "待补充资料" in body
    assert "结算账户" in body
    assert "卡号与照片不一致" in body
    for status in ("草稿", "已提交", "审核中"):
        assert status in body


def test_a_correction_changes_only_what_was_asked_and_resubmits(customer_client, customer):
    reviewer = factories.StaffFactory(group="reviewer")
    application = data.in_review(reviewer, customer)
    services.application_request_info(
        application=application, reviewer=reviewer, items=[("business_name", "与招牌不一致")]
    )
    fix_url = reverse("portal:application-fix", args=[application.public_id])
    form_fields = customer_client.get(fix_url).context["forms"][0].helper.layout.fields

    response = customer_client.post(
        fix_url, {"business-business_name": "小龙超市", "identity-legal_name": "别人"}
    )

    assert form_fields == ["business_name"]
    assert response.status_code == 302
    application.refresh_from_db()
    assert (application.business_name, application.legal_name) == ("小龙超市", "李小龙")
    assert application.status == Status.SUBMITTED
    assert application.submission_count == 2
    assert not application.info_requests.filter(resolved_at__isnull=True).exists()


def test_a_correction_that_is_still_wrong_stays_with_the_applicant(customer_client, customer):
    reviewer = factories.StaffFactory(group="reviewer")
    application = data.in_review(reviewer, customer)
    services.application_request_info(
        application=application, reviewer=reviewer, items=[("contact", "手机号停机")]
    )

    response = customer_client.post(
        reverse("portal:application-fix", args=[application.public_id]),
        {"identity-contact_mobile": "1234", "identity-contact_email": "li@example.cn"},
    )

    assert response.status_code == 200
    application.refresh_from_db()
    assert application.status == Status.NEEDS_INFO
    assert application.contact_mobile == "13912340000"


def test_my_applications_lists_only_mine(customer_client, customer):
    mine = data.draft(customer)
    other = data.draft()

    body = customer_client.get(reverse("portal:application-list")).content.decode()

    assert mine.number in body
    assert other.number not in body


def test_my_applications_keeps_a_constant_number_of_queries(customer_client, customer):
    reviewer = factories.StaffFactory(group="reviewer")

    def one_more_rejected():
        application = data.in_review(reviewer, customer)
        services.application_reject(
            application=application, reviewer=reviewer, reason="other", note="x"
        )

    one_more_rejected()

    assert_constant_queries(
        lambda: customer_client.get(reverse("portal:application-list")), one_more_rejected
    )


def test_the_status_page_keeps_a_constant_number_of_queries(customer_client, customer):
    reviewer = factories.StaffFactory(group="reviewer")
    application = data.in_review(reviewer, customer)
    keys = iter(["business_name", "contact", "mcc", "expected_volume"])

    def more_events_and_questions():
        application.refresh_from_db()
        if application.status == Status.IN_REVIEW:
            services.application_request_info(
                application=application, reviewer=reviewer, items=[(next(keys), "请修改")]
            )
        else:
            services.application_submit(application=application, actor=customer, today=data.TODAY)
            services.application_start_review(application=application, reviewer=reviewer)

    more_events_and_questions()

    assert_constant_queries(
        lambda: customer_client.get(
            reverse("portal:application-detail", args=[application.public_id])
        ),
        more_events_and_questions,
    )


# --- notifications ---------------------------------------------------------------------------


def test_the_bell_counts_unread_notifications_and_the_list_marks_them_read(
    customer_client, customer
):
    data.submitted(customer)

    home = customer_client.get(reverse("portal:merchant-home")).content.decode()
    listing = customer_client.get(reverse("portal:notification-list")).content.decode()
    after = customer_client.get(reverse("portal:merchant-home")).content.decode()

    assert 'data-testid="unread-count">1<' in home
    assert "已收到" in listing
    assert 'data-testid="unread-count"' not in after


def test_opening_a_notification_goes_to_its_page(customer_client, customer):
    application = data.submitted(customer)
    notification = Notification.objects.get(user=customer)

    response = customer_client.get(
        reverse("portal:notification-open", args=[notification.public_id])
    )

    assert response.url == reverse("portal:application-detail", args=[application.public_id])
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_another_users_notification_is_a_404(client, customer):
    data.submitted(customer)
    notification = Notification.objects.get(user=customer)
    client.force_login(factories.CustomerFactory())

    response = client.get(reverse("portal:notification-open", args=[notification.public_id]))

    assert response.status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None


def test_notifications_read_in_the_language_of_the_page(customer_client, customer):
    data.submitted(customer)

    body = customer_client.get(
        reverse("portal:notification-list"), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()

    assert "received" in body


def test_switching_language_is_remembered_for_e_mails(customer_client, customer):
    customer_client.post(reverse("set_language"), {"language": "en", "next": "/"})

    customer.refresh_from_db()
    assert customer.language == "en"


def test_correcting_the_legal_name_also_opens_the_account_holder(customer_client, customer):
    # The personal card must be in the applicant's name: without the holder alongside, a new
    # legal name could never be resubmitted.
    reviewer = factories.StaffFactory(group="reviewer")
    application = data.in_review(reviewer, customer)
    services.application_request_info(
        application=application, reviewer=reviewer, items=[("legal_name", "与身份证不一致")]
    )
    fix_url = reverse("portal:application-fix", args=[application.public_id])

    response = customer_client.post(
        fix_url,
        {
            "identity-legal_name": "李晓龙",
            "settlement-account_type": "personal",
            "settlement-account_number": data.debit_card(),
            "settlement-bank_branch": "上海徐汇支行",
            "settlement-account_holder": "李晓龙",
        },
    )

    assert response.status_code == 302
    application.refresh_from_db()
    assert (application.legal_name, application.account_holder) == ("李晓龙", "李晓龙")
    assert application.status == Status.SUBMITTED
