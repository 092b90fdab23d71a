import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from portal import services
from portal.models import Application, ApplicationEvent, InfoRequestItem, Merchant, TerminalProduct
from tests import factories
from tests import onboarding as data
from tests.helpers import assert_constant_queries

pytestmark = pytest.mark.django_db

Status = Application.Status


@pytest.fixture
def reviewer():
    return factories.StaffFactory(group="reviewer")


@pytest.fixture
def reviewer_client(client, reviewer):
    client.force_login(reviewer)
    return client


def decide(client, application, decision, payload=None):
    return client.post(
        reverse("admin:portal_application_decide", args=[application.pk, decision]),
        payload or {},
        follow=True,
    )


def test_a_reviewer_sees_the_whole_application_on_one_page(reviewer_client, reviewer):
    application = data.in_review(reviewer)

    response = reviewer_client.get(
        reverse("admin:portal_application_change", args=[application.pk])
    )

    body = response.content.decode()
    assert response.status_code == 200
    for text in (
        "李小龙",
        "小龙便利店",
        application.id_number_masked,
        "上海市 徐汇区",
        "电签 POS 机",
    ):
        assert text in body
    assert data.resident_id() not in body
    assert data.debit_card() not in body
    assert 'data-testid="approve-form"' in body


def test_start_review_then_approve_creates_the_merchant(reviewer_client, reviewer):
    application = data.submitted()

    decide(reviewer_client, application, "start-review")
    response = decide(reviewer_client, application, "approve", {"note": "资料齐全"})

    application.refresh_from_db()
    assert application.status == Status.APPROVED
    merchant = Merchant.objects.get(user=application.applicant)
    assert application.merchant == merchant
    assert f"已批准：已创建商户 {merchant.mid}。" in response.content.decode()
    assert LogEntry.objects.filter(object_id=str(application.pk)).count() == 2


def test_approving_twice_is_refused_with_a_message(reviewer_client, reviewer):
    application = data.in_review(reviewer)
    decide(reviewer_client, application, "approve")

    response = decide(reviewer_client, application, "approve")

    assert "不能变为“已批准”" in response.content.decode()
    assert Merchant.objects.count() == 1


def test_reject_needs_a_reason_from_the_list(reviewer_client, reviewer):
    application = data.in_review(reviewer)

    refused = decide(reviewer_client, application, "reject", {"reason": "", "note": "x"})
    application.refresh_from_db()
    status_after_refusal = application.status
    decide(reviewer_client, application, "reject", {"reason": "category", "note": "暂不支持"})

    assert "请选择拒绝原因" in refused.content.decode()
    assert status_after_refusal == Status.IN_REVIEW
    application.refresh_from_db()
    assert application.status == Status.REJECTED
    event = application.events.get(to_status=Status.REJECTED)
    assert (event.rejection_reason, event.reason, event.actor) == ("category", "暂不支持", reviewer)


def test_request_information_names_each_item_with_its_reason(reviewer_client, reviewer):
    application = data.in_review(reviewer)
    payload = {
        "info-TOTAL_FORMS": "3",
        "info-INITIAL_FORMS": "0",
        "info-0-item": "settlement_account",
        "info-0-reason": "卡号与照片不一致",
        "info-1-item": "business_address",
        "info-1-reason": "门牌号缺失",
        "info-2-item": "",
        "info-2-reason": "",
        "info-note": "请尽快修改",
    }

    decide(reviewer_client, application, "request-info", payload)

    application.refresh_from_db()
    assert application.status == Status.NEEDS_INFO
    assert list(InfoRequestItem.objects.values_list("item", "reason")) == [
        ("settlement_account", "卡号与照片不一致"),
        ("business_address", "门牌号缺失"),
    ]


def test_request_information_without_a_reason_is_refused(reviewer_client, reviewer):
    application = data.in_review(reviewer)
    payload = {
        "info-TOTAL_FORMS": "1",
        "info-INITIAL_FORMS": "0",
        "info-0-item": "mcc",
        "info-0-reason": "",
    }

    decide(reviewer_client, application, "request-info", payload)

    application.refresh_from_db()
    assert application.status == Status.IN_REVIEW
    assert not InfoRequestItem.objects.exists()


@pytest.mark.parametrize("group", ["support", "risk", "finance"])
def test_only_reviewers_decide(client, group, reviewer):
    application = data.in_review(reviewer)
    client.force_login(factories.StaffFactory(group=group))

    page = client.get(reverse("admin:portal_application_change", args=[application.pk]))
    response = client.post(
        reverse("admin:portal_application_decide", args=[application.pk, "approve"])
    )

    assert page.status_code == 200
    assert 'data-testid="approve-form"' not in page.content.decode()
    assert response.status_code == 403
    application.refresh_from_db()
    assert application.status == Status.IN_REVIEW


def test_bulk_start_review_takes_only_submitted_applications(reviewer_client, reviewer):
    submitted = [data.submitted(), data.submitted()]
    draft = data.draft()

    reviewer_client.post(
        reverse("admin:portal_application_changelist"),
        {
            "action": "start_review",
            "_selected_action": [a.pk for a in [*submitted, draft]],
        },
    )

    statuses = {a.pk: a.status for a in Application.objects.all()}
    assert statuses == {
        submitted[0].pk: Status.IN_REVIEW,
        submitted[1].pk: Status.IN_REVIEW,
        draft.pk: Status.DRAFT,
    }
    assert ApplicationEvent.objects.filter(to_status=Status.IN_REVIEW).count() == 2


def test_search_by_the_full_id_number_goes_through_the_blind_index(reviewer_client):
    wanted = data.submitted()
    data.submitted(id_number=data.resident_id(sequence=456), account_number=data.debit_card(2))

    response = reviewer_client.get(
        reverse("admin:portal_application_changelist"), {"q": data.resident_id()}
    )

    assert list(response.context["cl"].result_list) == [wanted]


def test_search_by_the_full_card_number(reviewer_client):
    wanted = data.submitted(account_number=data.debit_card(7))
    data.submitted(id_number=data.resident_id(sequence=456))

    response = reviewer_client.get(
        reverse("admin:portal_application_changelist"), {"q": data.debit_card(7)}
    )

    assert list(response.context["cl"].result_list) == [wanted]


def test_flags_are_shown_with_why_they_fired(reviewer_client):
    first = data.submitted()
    second = data.submitted(id_number=data.resident_id(sequence=456))

    body = reviewer_client.get(
        reverse("admin:portal_application_change", args=[second.pk])
    ).content.decode()

    assert "结算账户在其他申请中出现" in body
    assert f"也出现在申请：{first.number}" in body


def test_the_application_changelist_keeps_a_constant_number_of_queries(reviewer_client):
    data.submitted()

    assert_constant_queries(
        lambda: reviewer_client.get(reverse("admin:portal_application_changelist")),
        lambda: data.submitted(id_number=data.resident_id(sequence=factories.CustomerFactory().pk)),
    )


def test_the_application_page_keeps_a_constant_number_of_queries(reviewer_client, reviewer):
    application = data.in_review(reviewer)

    assert_constant_queries(
        lambda: reviewer_client.get(
            reverse("admin:portal_application_change", args=[application.pk])
        ),
        # Same card each time: one more duplicate and one more flagged application.
        lambda: data.submitted(id_number=data.resident_id(sequence=factories.CustomerFactory().pk)),
    )


def test_history_is_visible_without_the_full_numbers(client, reviewer):
    application = data.in_review(reviewer)
    client.force_login(factories.StaffFactory(group="support"))

    listing = client.get(reverse("admin:portal_application_history", args=[application.pk]))
    oldest = application.history.order_by("history_id").first()
    version = client.get(
        reverse("admin:portal_application_simple_history", args=[application.pk, oldest.pk])
    )

    assert listing.status_code == 200
    assert application.number in listing.content.decode()
    for page in (listing, version):
        assert data.resident_id() not in page.content.decode()
        assert data.debit_card() not in page.content.decode()


def test_finance_keeps_the_catalogue_and_reviewers_do_not(client, reviewer):
    product = data.product()
    finance = factories.StaffFactory(group="finance")
    url = reverse("admin:portal_terminalproduct_change", args=[product.pk])
    payload = {
        "code": product.code,
        "kind": product.kind,
        "name": "新名字",
        "name_en": "",
        "description": "",
        "description_en": "",
        "price": "199.00",
        "deposit": "0.00",
        "fee_schedule": product.fee_schedule_id,
        "max_quantity": "5",
        "is_active": "on",
        "sort_order": "0",
    }

    client.force_login(reviewer)
    refused = client.post(url, payload)
    client.force_login(finance)
    accepted = client.post(url, payload)

    assert refused.status_code == 403
    assert accepted.status_code == 302
    assert TerminalProduct.objects.get(pk=product.pk).name == "新名字"


def test_the_reviewer_sees_what_a_correction_changed(reviewer_client, reviewer):
    application = data.in_review(reviewer)
    services.application_request_info(
        application=application, reviewer=reviewer, items=[("business_name", "与招牌不一致")]
    )
    services.application_save_fields(application=application, values={"business_name": "小龙超市"})
    services.application_submit(
        application=application, actor=application.applicant, today=data.TODAY
    )

    response = reviewer_client.get(
        reverse("admin:portal_application_change", args=[application.pk])
    )

    assert response.context["corrections"] == [("经营名称", "小龙便利店", "小龙超市")]
    assert 'data-testid="corrections"' in response.content.decode()
