import hashlib
import hmac
from datetime import date
from decimal import Decimal

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from django.utils import translation
from stdnum.cn import uscc

from core.transitions import StateError, TransitionNotAllowed
from portal import presenters, reference, services
from portal.models import (
    Application,
    ApplicationEvent,
    InfoRequestItem,
    Merchant,
    Notification,
    RiskFlag,
)
from tests import factories
from tests import onboarding as data
from tests.helpers import run_at_once

pytestmark = pytest.mark.django_db

Status = Application.Status
Reason = ApplicationEvent.RejectionReason
SITE_URL = "https://portal.example.cn"


def needs_info(reviewer, applicant=None, **overrides) -> Application:
    application = data.in_review(reviewer, applicant, **overrides)
    return services.application_request_info(
        application=application,
        reviewer=reviewer,
        items=[("expected_volume", "请提供近三个月的流水")],
    )


def approved(reviewer) -> Application:
    application = data.in_review(reviewer)
    return services.application_approve(application=application, reviewer=reviewer)


def rejected(reviewer) -> Application:
    application = data.in_review(reviewer)
    return services.application_reject(
        application=application, reviewer=reviewer, reason=Reason.RISK
    )


SETUPS = {
    Status.DRAFT: lambda reviewer: data.draft(),
    Status.SUBMITTED: lambda reviewer: data.submitted(),
    Status.IN_REVIEW: data.in_review,
    Status.NEEDS_INFO: needs_info,
    Status.APPROVED: approved,
    Status.REJECTED: rejected,
}

OPERATIONS = {
    "submit": lambda application, reviewer: services.application_submit(
        application=application, actor=application.applicant, today=data.TODAY
    ),
    "start_review": lambda application, reviewer: services.application_start_review(
        application=application, reviewer=reviewer
    ),
    "request_info": lambda application, reviewer: services.application_request_info(
        application=application, reviewer=reviewer, items=[("mcc", "经营类别与门头不符")]
    ),
    "approve": lambda application, reviewer: services.application_approve(
        application=application, reviewer=reviewer
    ),
    "reject": lambda application, reviewer: services.application_reject(
        application=application, reviewer=reviewer, reason=Reason.RISK
    ),
}

ILLEGAL_MOVES = [
    (Status.DRAFT, "start_review"),
    (Status.DRAFT, "request_info"),
    (Status.DRAFT, "approve"),
    (Status.DRAFT, "reject"),
    (Status.SUBMITTED, "submit"),
    (Status.SUBMITTED, "request_info"),
    (Status.SUBMITTED, "approve"),
    (Status.SUBMITTED, "reject"),
    (Status.IN_REVIEW, "submit"),
    (Status.IN_REVIEW, "start_review"),
    (Status.NEEDS_INFO, "start_review"),
    (Status.NEEDS_INFO, "request_info"),
    (Status.NEEDS_INFO, "approve"),
    (Status.NEEDS_INFO, "reject"),
    (Status.APPROVED, "submit"),
    (Status.APPROVED, "start_review"),
    (Status.APPROVED, "request_info"),
    (Status.APPROVED, "approve"),
    (Status.APPROVED, "reject"),
    (Status.REJECTED, "submit"),
    (Status.REJECTED, "start_review"),
    (Status.REJECTED, "request_info"),
    (Status.REJECTED, "approve"),
    (Status.REJECTED, "reject"),
]


def snapshot(application: Application) -> dict:
    """Everything a refused operation must leave as it was."""
    application.refresh_from_db()
    return {
        "status": application.status,
        "updated_at": application.updated_at,
        "submission_count": application.submission_count,
        "decided_at": application.decided_at,
        "merchant": application.merchant_id,
        "events": list(application.events.values_list("pk", flat=True)),
        "info_requests": list(
            application.info_requests.values_list("pk", "resolved_at").order_by("pk")
        ),
        "history": application.history.count(),
        "notifications": Notification.objects.filter(user=application.applicant_id).count(),
        "merchants": Merchant.objects.count(),
    }


def flags_of(application: Application) -> list[tuple[str, dict]]:
    return list(application.risk_flags.order_by("code").values_list("code", "details"))


def licence_number() -> str:
    body = "92310104MA1K4A5B2"
    return body + uscc.calc_check_digit(body)


# --- allowed transitions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "operation"),
    ILLEGAL_MOVES,
    ids=[f"{operation}-when-{status.value}" for status, operation in ILLEGAL_MOVES],
)
def test_an_illegal_move_is_refused_and_changes_nothing(staff_user, status, operation):
    application = SETUPS[status](staff_user)
    before = snapshot(application)

    with pytest.raises(StateError):
        OPERATIONS[operation](application, staff_user)

    assert snapshot(application) == before
    assert before["status"] == status


def test_approving_a_submitted_application_not_yet_in_review_makes_no_merchant(staff_user):
    application = data.submitted()

    with pytest.raises(TransitionNotAllowed) as refused:
        services.application_approve(application=application, reviewer=staff_user)

    assert refused.value.code == "transition_not_allowed"
    application.refresh_from_db()
    assert application.status == Status.SUBMITTED
    assert application.merchant is None
    assert not Merchant.objects.exists()


def test_submitting_twice_is_refused_as_already_submitted():
    application = data.submitted()

    with pytest.raises(services.ApplicationStateError) as refused:
        services.application_submit(
            application=application, actor=application.applicant, today=data.TODAY
        )

    assert refused.value.code == "already_submitted"
    application.refresh_from_db()
    assert (application.status, application.submission_count) == (Status.SUBMITTED, 1)


def test_starting_review_twice_is_refused_and_keeps_the_first_reviewer(staff_user):
    second_reviewer = factories.StaffFactory()
    application = data.in_review(staff_user)

    with pytest.raises(TransitionNotAllowed) as refused:
        services.application_start_review(application=application, reviewer=second_reviewer)

    assert refused.value.code == "transition_not_allowed"
    application.refresh_from_db()
    assert application.reviewer == staff_user
    assert application.events.filter(to_status=Status.IN_REVIEW).count() == 1


def test_rejecting_an_approved_application_is_refused_and_keeps_the_merchant(staff_user):
    application = approved(staff_user)
    merchant = application.merchant

    with pytest.raises(TransitionNotAllowed):
        services.application_reject(
            application=application, reviewer=staff_user, reason=Reason.RISK
        )

    application.refresh_from_db()
    assert application.status == Status.APPROVED
    assert application.merchant == merchant
    assert not application.events.filter(to_status=Status.REJECTED).exists()


# --- application_start -----------------------------------------------------------------------


def test_starting_twice_resumes_the_same_draft(customer):
    first, first_created = services.application_start(applicant=customer)

    second, second_created = services.application_start(applicant=customer)

    assert (first_created, second_created) == (True, False)
    assert second.pk == first.pk
    assert second.status == Status.DRAFT
    assert Application.objects.filter(applicant=customer).count() == 1
    assert list(first.events.values_list("from_status", "to_status", "actor")) == [
        ("", Status.DRAFT, customer.pk)
    ]


def test_after_a_rejection_starting_again_creates_a_new_draft(staff_user):
    old = rejected(staff_user)

    new, created = services.application_start(applicant=old.applicant)

    assert created is True
    assert new.pk != old.pk
    assert new.status == Status.DRAFT
    assert new.number != old.number


def test_a_new_draft_takes_contact_details_from_the_account():
    applicant = factories.CustomerFactory(
        mobile="13900001234", email="wang@example.cn", last_name="王", first_name="小明"
    )

    application, _created = services.application_start(applicant=applicant)

    assert (application.contact_mobile, application.contact_email, application.legal_name) == (
        "13900001234",
        "wang@example.cn",
        "王小明",
    )
    assert application.number.startswith("AP")
    assert len(application.number) == 16


def test_staff_cannot_start_an_application(staff_user):
    with pytest.raises(ValidationError) as refused:
        services.application_start(applicant=staff_user)

    assert refused.value.code == "staff"
    assert not Application.objects.exists()


def test_a_merchant_cannot_start_another_application(merchant):
    with pytest.raises(ValidationError) as refused:
        services.application_start(applicant=merchant.user)

    assert refused.value.code == "already_merchant"
    assert not Application.objects.exists()


# --- application_save_fields -----------------------------------------------------------------


def test_a_draft_accepts_any_field(customer):
    application, _created = services.application_start(applicant=customer)

    saved = services.application_save_fields(
        application=application,
        values={"business_name": "小龙便利店", "mcc": "5812", "quantity": 3},
    )

    saved.refresh_from_db()
    assert (saved.business_name, saved.mcc, saved.quantity) == ("小龙便利店", "5812", 3)
    assert saved.status == Status.DRAFT


def test_while_information_is_requested_a_requested_field_can_change(staff_user):
    application = needs_info(staff_user)

    services.application_save_fields(
        application=application,
        values={"expected_monthly_volume": Decimal("60000.00")},
        editable={"expected_monthly_volume"},
    )

    application.refresh_from_db()
    assert application.expected_monthly_volume == Decimal("60000.00")
    assert application.status == Status.NEEDS_INFO


def test_while_information_is_requested_other_fields_are_refused_and_nothing_is_saved(
    staff_user,
):
    application = needs_info(staff_user)
    before = snapshot(application)

    with pytest.raises(services.ApplicationStateError) as refused:
        services.application_save_fields(
            application=application,
            values={
                "expected_monthly_volume": Decimal("60000.00"),
                "business_name": "改过的名字",
            },
            editable={"expected_monthly_volume", "business_name"},
        )

    assert refused.value.code == "not_requested"
    application.refresh_from_db()
    assert (application.expected_monthly_volume, application.business_name) == (
        Decimal("80000.00"),
        "小龙便利店",
    )
    assert snapshot(application) == before


def test_a_submitted_application_cannot_be_edited():
    application = data.submitted()
    before = snapshot(application)

    with pytest.raises(services.ApplicationStateError) as refused:
        services.application_save_fields(application=application, values={"business_name": "新"})

    assert refused.value.code == "not_editable"
    application.refresh_from_db()
    assert application.business_name == "小龙便利店"
    assert snapshot(application) == before


def test_the_id_number_is_indexed_by_an_hmac_under_the_hash_key():
    number = data.resident_id()

    application = data.draft(id_number=number)

    expected = hmac.new(
        settings.PII_HASH_KEY.encode(), f"resident_id:{number}".encode(), hashlib.sha256
    ).hexdigest()
    assert application.id_number_hash == expected
    assert number not in application.id_number_hash


def test_equal_id_numbers_get_equal_blind_indexes():
    first = data.draft(id_number=data.resident_id())
    second = data.draft(id_number=data.resident_id())
    third = data.draft(id_number=data.resident_id(sequence=456))

    assert first.id_number_hash == second.id_number_hash
    assert first.id_number_hash != third.id_number_hash


def test_an_id_number_and_an_account_number_with_the_same_digits_get_different_indexes(
    customer,
):
    application, _created = services.application_start(applicant=customer)
    digits = "622202000000000001"

    saved = services.application_save_fields(
        application=application, values={"id_number": digits, "account_number": digits}
    )

    assert saved.id_number_hash != saved.account_number_hash
    assert (
        saved.account_number_hash
        == hmac.new(
            settings.PII_HASH_KEY.encode(), f"bank_account:{digits}".encode(), hashlib.sha256
        ).hexdigest()
    )


def test_saving_numbers_stores_their_masks():
    application = data.draft(id_number=data.resident_id(), account_number=data.debit_card())

    assert data.resident_id() == "310104199005171234"
    assert application.id_number_masked == "310***********1234"
    assert data.debit_card() == "6222020000000000018"
    assert application.account_number_masked == "622202*********0018"


def test_a_personal_card_sets_the_bank_from_its_bin():
    application = data.draft(account_number=data.debit_card(), bank_code="")

    assert (application.bank_code, application.bank_name) == ("ICBC", "中国工商银行")
    assert application.account_class is None


def test_a_corporate_account_keeps_the_bank_the_applicant_chose():
    application = data.draft(
        applicant_type=Application.ApplicantType.COMPANY,
        account_type=Application.AccountType.CORPORATE,
        account_number="1001234567890123",
        bank_code="ABC",
    )

    assert (application.bank_code, application.bank_name) == ("ABC", "中国农业银行")


# --- application_submit ----------------------------------------------------------------------


def test_an_incomplete_draft_is_refused_naming_the_missing_step():
    application = data.draft(business_name="", street="")
    before = snapshot(application)

    with translation.override("zh-hans"), pytest.raises(ValidationError) as refused:
        services.application_submit(
            application=application, actor=application.applicant, today=data.TODAY
        )

    assert refused.value.code == "incomplete"
    assert refused.value.messages == ["请先完成以下步骤：经营信息。"]
    assert snapshot(application) == before
    assert application.submitted_at is None


def test_an_incomplete_draft_is_refused_in_english_naming_every_missing_step():
    application = data.draft(account_number="")
    application = services.application_save_fields(
        application=application, values={"product": None}
    )

    with translation.override("en"), pytest.raises(ValidationError) as refused:
        services.application_submit(
            application=application, actor=application.applicant, today=data.TODAY
        )

    assert refused.value.messages == [
        "Complete these steps first: Settlement account、Terminal and delivery."
    ]
    application.refresh_from_db()
    assert application.status == Status.DRAFT


def test_submitting_a_complete_draft_sends_it_for_review():
    application = data.draft()

    submitted = services.application_submit(
        application=application, actor=application.applicant, today=data.TODAY
    )

    assert submitted.status == Status.SUBMITTED
    assert submitted.submitted_at is not None
    assert submitted.submission_count == 1
    assert list(submitted.events.values_list("from_status", "to_status", "actor")) == [
        ("", Status.DRAFT, application.applicant_id),
        (Status.DRAFT, Status.SUBMITTED, application.applicant_id),
    ]


def test_submitting_tells_the_applicant_in_the_portal():
    application = data.draft()

    services.application_submit(
        application=application, actor=application.applicant, today=data.TODAY
    )

    assert list(
        Notification.objects.filter(user=application.applicant).values_list(
            "kind", "params", "url", "emailed_at"
        )
    ) == [
        (
            "application_submitted",
            {"number": application.number},
            reverse("portal:application-detail", args=[application.public_id]),
            None,
        )
    ]


def test_submitting_queues_one_email_after_commit_when_the_applicant_has_an_address(
    django_capture_on_commit_callbacks,
):
    application = data.draft(factories.CustomerFactory(email="li@example.cn"))

    with django_capture_on_commit_callbacks() as callbacks:
        services.application_submit(
            application=application, actor=application.applicant, today=data.TODAY
        )

    assert len(callbacks) == 1


def test_submitting_queues_no_email_when_the_applicant_has_no_address(
    django_capture_on_commit_callbacks,
):
    application = data.draft(factories.CustomerFactory(email=""), contact_email="")

    with django_capture_on_commit_callbacks() as callbacks:
        services.application_submit(
            application=application, actor=application.applicant, today=data.TODAY
        )

    assert callbacks == []
    assert Notification.objects.filter(
        user=application.applicant, kind="application_submitted"
    ).exists()


def test_e_mails_about_an_application_go_to_the_address_given_on_it():
    application = data.draft(factories.CustomerFactory(email=""), contact_email="li@example.cn")

    services.application_submit(
        application=application, actor=application.applicant, today=data.TODAY
    )
    notification = Notification.objects.get(user=application.applicant)
    sent = services.notification_email(
        notification_id=notification.pk, site_url="https://portal.example.cn"
    )

    assert sent is True
    assert [message.to for message in mail.outbox] == [["li@example.cn"]]
    assert f"https://portal.example.cn/applications/{application.public_id}/" in (
        mail.outbox[0].body
    )


def test_the_plain_text_e_mail_is_not_html_escaped():
    application = data.draft(business_name="O'Brien & <Co>", contact_email="li@example.cn")
    services.application_submit(
        application=application, actor=application.applicant, today=data.TODAY
    )
    notification = Notification.objects.get(user=application.applicant)
    notification.kind = "application_rejected"
    notification.params = {"number": "AP1", "reason": "other", "note": "O'Brien & <Co>"}
    notification.save()

    services.notification_email(notification_id=notification.pk, site_url="")

    assert "O'Brien & <Co>" in mail.outbox[0].body


# --- request for information and resubmission ------------------------------------------------


def test_requesting_information_lists_what_to_fix(staff_user):
    application = data.in_review(staff_user)

    services.application_request_info(
        application=application,
        reviewer=staff_user,
        items=[("expected_volume", " 请提供近三个月的流水 "), ("mcc", "经营类别与门头不符")],
        note="补充后重新提交",
    )

    application.refresh_from_db()
    event = application.events.last()
    assert application.status == Status.NEEDS_INFO
    assert (event.from_status, event.to_status, event.actor, event.reason) == (
        Status.IN_REVIEW,
        Status.NEEDS_INFO,
        staff_user,
        "补充后重新提交",
    )
    assert list(
        application.info_requests.values_list("item", "reason", "event", "resolved_at")
    ) == [
        ("expected_volume", "请提供近三个月的流水", event.pk, None),
        ("mcc", "经营类别与门头不符", event.pk, None),
    ]
    assert Notification.objects.get(
        user=application.applicant, kind="application_needs_info"
    ).params == {"number": application.number, "count": 2}


@pytest.mark.parametrize(
    ("items", "code"),
    [
        ([], "no_items"),
        ([("favourite_colour", "请说明")], "bad_item"),
        ([("mcc", "经营类别与门头不符"), ("expected_volume", "   ")], "no_reason"),
    ],
    ids=["no-items", "unknown-item", "empty-reason"],
)
def test_an_invalid_request_for_information_changes_nothing(staff_user, items, code):
    application = data.in_review(staff_user)
    before = snapshot(application)

    with pytest.raises(ValidationError) as refused:
        services.application_request_info(application=application, reviewer=staff_user, items=items)

    assert refused.value.code == code
    assert snapshot(application) == before
    assert not InfoRequestItem.objects.exists()


def test_fixing_the_requested_field_and_resubmitting_sends_it_back_for_review(staff_user):
    application = needs_info(staff_user)

    services.application_save_fields(
        application=application,
        values={"expected_monthly_volume": Decimal("60000.00")},
        editable={"expected_monthly_volume"},
    )
    resubmitted = services.application_submit(
        application=application, actor=application.applicant, today=data.TODAY
    )

    assert resubmitted.status == Status.SUBMITTED
    assert resubmitted.submission_count == 2
    assert resubmitted.expected_monthly_volume == Decimal("60000.00")
    assert list(resubmitted.info_requests.values_list("item", flat=True)) == ["expected_volume"]
    assert not resubmitted.info_requests.filter(resolved_at__isnull=True).exists()
    assert resubmitted.events.last().from_status == Status.NEEDS_INFO


def test_a_second_request_opens_only_its_own_items(staff_user):
    application = needs_info(staff_user)
    services.application_save_fields(
        application=application,
        values={"expected_monthly_volume": Decimal("60000.00")},
        editable={"expected_monthly_volume"},
    )
    services.application_submit(
        application=application, actor=application.applicant, today=data.TODAY
    )
    services.application_start_review(application=application, reviewer=staff_user)
    services.application_request_info(
        application=application, reviewer=staff_user, items=[("mcc", "经营类别与门头不符")]
    )

    with pytest.raises(services.ApplicationStateError) as refused:
        services.application_save_fields(
            application=application,
            values={"expected_monthly_volume": Decimal("50000.00")},
            editable={"expected_monthly_volume", "mcc"},
        )

    assert refused.value.code == "not_requested"
    application.refresh_from_db()
    assert application.expected_monthly_volume == Decimal("60000.00")


def test_the_history_keeps_the_value_a_fix_replaced(staff_user):
    application = needs_info(staff_user)

    services.application_save_fields(
        application=application,
        values={"expected_monthly_volume": Decimal("60000.00")},
        editable={"expected_monthly_volume"},
    )
    services.application_submit(
        application=application, actor=application.applicant, today=data.TODAY
    )

    volumes = list(
        application.history.order_by("history_date", "history_id").values_list(
            "expected_monthly_volume", flat=True
        )
    )
    assert volumes[0] is None
    assert Decimal("80000.00") in volumes
    assert volumes[-1] == Decimal("60000.00")
    assert volumes.index(Decimal("80000.00")) < volumes.index(Decimal("60000.00"))


# --- decisions -------------------------------------------------------------------------------


def test_approving_makes_the_applicant_a_merchant(staff_user):
    application = data.in_review(staff_user)

    approved_application = services.application_approve(
        application=application, reviewer=staff_user, note="资料齐全"
    )

    merchant = Merchant.objects.get(user=application.applicant)
    assert merchant.mid == "898310154110001"
    assert merchant.mid.startswith("898" + application.city[:4] + application.mcc)
    assert merchant.name == "小龙便利店"
    assert merchant.status == Merchant.Status.CONTRACT_PENDING
    assert merchant.fee_schedule == data.product().fee_schedule
    assert approved_application.status == Status.APPROVED
    assert approved_application.merchant == merchant
    assert approved_application.decided_at is not None
    event = approved_application.events.last()
    assert (event.from_status, event.to_status, event.actor, event.reason) == (
        Status.IN_REVIEW,
        Status.APPROVED,
        staff_user,
        "资料齐全",
    )


def test_approving_tells_the_applicant_their_mid(staff_user):
    application = data.in_review(staff_user)

    services.application_approve(application=application, reviewer=staff_user)

    notification = Notification.objects.get(user=application.applicant, kind="application_approved")
    assert notification.params == {"number": application.number, "mid": "898310154110001"}
    assert notification.url == reverse("portal:merchant-home")


def test_rejecting_records_the_reason_and_tells_the_applicant(staff_user):
    application = data.in_review(staff_user)

    services.application_reject(
        application=application, reviewer=staff_user, reason=Reason.DUPLICATE, note=" 重复 "
    )

    application.refresh_from_db()
    event = application.events.last()
    assert application.status == Status.REJECTED
    assert application.decided_at is not None
    assert application.merchant is None
    assert (event.to_status, event.rejection_reason, event.reason, event.actor) == (
        Status.REJECTED,
        Reason.DUPLICATE,
        "重复",
        staff_user,
    )
    assert Notification.objects.get(
        user=application.applicant, kind="application_rejected"
    ).params == {"number": application.number, "reason": "duplicate", "note": "重复"}


@pytest.mark.parametrize(
    ("reason", "note", "code"),
    [
        ("", "", "no_reason"),
        ("looks_odd", "", "no_reason"),
        (Reason.OTHER, "  ", "no_explanation"),
    ],
    ids=["no-reason", "reason-not-in-list", "other-without-note"],
)
def test_a_rejection_without_a_valid_reason_is_refused(staff_user, reason, note, code):
    application = data.in_review(staff_user)
    before = snapshot(application)

    with pytest.raises(ValidationError) as refused:
        services.application_reject(
            application=application, reviewer=staff_user, reason=reason, note=note
        )

    assert refused.value.code == code
    assert snapshot(application) == before


def test_a_rejection_for_another_reason_keeps_its_explanation(staff_user):
    application = data.in_review(staff_user)

    services.application_reject(
        application=application, reviewer=staff_user, reason=Reason.OTHER, note="门店已停业"
    )

    application.refresh_from_db()
    assert application.status == Status.REJECTED
    assert (application.events.last().rejection_reason, application.events.last().reason) == (
        Reason.OTHER,
        "门店已停业",
    )


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_approving_at_once_make_one_merchant(contract_template):
    reviewers = factories.StaffFactory.create_batch(2)
    application = data.in_review(reviewers[0])

    def approve(reviewer):
        own_copy = Application.objects.get(pk=application.pk)
        return services.application_approve(application=own_copy, reviewer=reviewer)

    results = run_at_once(approve, reviewers)
    outcomes = [
        "refused"
        if isinstance(o, TransitionNotAllowed)
        else "approved"
        if isinstance(o, Application)
        else repr(o)
        for o in results
    ]

    assert sorted(outcomes) == ["approved", "refused"]
    application.refresh_from_db()
    assert application.status == Status.APPROVED
    assert Merchant.objects.filter(user=application.applicant).count() == 1
    assert application.merchant == Merchant.objects.get()
    assert application.events.filter(to_status=Status.APPROVED).count() == 1
    assert (
        Notification.objects.filter(user=application.applicant, kind="application_approved").count()
        == 1
    )


# --- risk flags ------------------------------------------------------------------------------


def test_an_ordinary_application_has_no_risk_flags():
    application = data.submitted()

    assert flags_of(application) == []


def test_an_id_number_on_another_submitted_application_is_flagged():
    first = data.submitted()

    second = data.submitted(account_number=data.debit_card(2))

    assert flags_of(second) == [("duplicate_id", {"applications": [first.number]})]


def test_an_id_number_on_a_draft_is_not_flagged():
    data.draft(account_number=data.debit_card(2))

    application = data.submitted()

    assert flags_of(application) == []


def test_a_settlement_card_on_another_submitted_application_is_flagged():
    first = data.submitted()

    second = data.submitted(id_number=data.resident_id(sequence=456))

    assert flags_of(second) == [("duplicate_account", {"applications": [first.number]})]


def test_an_applicant_over_70_is_flagged_with_the_age():
    application = data.submitted(id_number=data.resident_id(birth=date(1950, 3, 1)))

    assert flags_of(application) == [("over_70", {"age": 76})]


def test_an_applicant_of_exactly_70_is_not_flagged():
    application = data.submitted(id_number=data.resident_id(birth=date(1956, 11, 26)))

    assert flags_of(application) == []


def test_an_applicant_under_18_is_flagged_when_the_form_was_bypassed():
    application = data.draft(id_number=data.resident_id(birth=date(2010, 1, 1)))

    services.application_risk_flags_compute(application=application, today=data.TODAY)

    assert flags_of(application) == [("under_18", {"age": 16})]


def test_a_volume_above_the_categorys_threshold_is_flagged():
    threshold = reference.mcc_get("5411").high_volume_threshold

    application = data.submitted(mcc="5411", expected_monthly_volume=threshold + Decimal("0.01"))

    assert threshold == Decimal("300000")
    assert flags_of(application) == [
        ("high_volume", {"expected": "300000.01", "threshold": "300000", "mcc": "5411"})
    ]


def test_a_volume_at_the_categorys_threshold_is_not_flagged():
    threshold = reference.mcc_get("5411").high_volume_threshold

    application = data.submitted(mcc="5411", expected_monthly_volume=threshold)

    assert flags_of(application) == []


def test_a_corporate_account_in_another_name_than_the_business_is_flagged():
    application = data.submitted(
        applicant_type=Application.ApplicantType.SOLE_PROPRIETOR,
        licence_number=licence_number(),
        account_type=Application.AccountType.CORPORATE,
        account_number="1001234567890123",
        bank_code="ICBC",
        account_holder="上海龙腾贸易有限公司",
    )

    assert application.status == Status.SUBMITTED
    assert flags_of(application) == [
        ("name_mismatch", {"holder": "上海龙腾贸易有限公司", "expected": "小龙便利店"})
    ]


def test_recomputing_risk_flags_replaces_them_instead_of_adding():
    application = data.submitted(expected_monthly_volume=Decimal("500000.00"))

    services.application_risk_flags_compute(application=application, today=data.TODAY)

    assert RiskFlag.objects.filter(application=application).count() == 1
    assert [code for code, _details in flags_of(application)] == ["high_volume"]


def test_a_resubmission_drops_a_flag_whose_cause_was_fixed(staff_user):
    application = needs_info(staff_user, expected_monthly_volume=Decimal("500000.00"))
    services.application_save_fields(
        application=application,
        values={"expected_monthly_volume": Decimal("60000.00")},
        editable={"expected_monthly_volume"},
    )

    services.application_submit(
        application=application, actor=application.applicant, today=data.TODAY
    )

    assert flags_of(application) == []


EXPLANATION_DETAILS = {
    RiskFlag.Code.DUPLICATE_ID: {"applications": ["AP20261126000001", "AP20261126000002"]},
    RiskFlag.Code.DUPLICATE_ACCOUNT: {"applications": ["AP20261126000003"]},
    RiskFlag.Code.NAME_MISMATCH: {"holder": "上海龙腾贸易有限公司", "expected": "小龙便利店"},
    RiskFlag.Code.UNDER_18: {"age": 16},
    RiskFlag.Code.OVER_70: {"age": 76},
    RiskFlag.Code.HIGH_VOLUME: {"expected": "300000.01", "threshold": "300000", "mcc": "5411"},
}


def test_every_risk_flag_code_has_an_explanation_sample():
    assert set(EXPLANATION_DETAILS) == set(RiskFlag.Code)


@pytest.mark.parametrize(
    ("code", "english"),
    [
        (RiskFlag.Code.DUPLICATE_ID, "Also on application(s): AP20261126000001, AP20261126000002"),
        (RiskFlag.Code.DUPLICATE_ACCOUNT, "Also on application(s): AP20261126000003"),
        (RiskFlag.Code.NAME_MISMATCH, "Account holder “上海龙腾贸易有限公司” is not “小龙便利店”"),
        (RiskFlag.Code.UNDER_18, "The ID number gives an age of 16"),
        (RiskFlag.Code.OVER_70, "The ID number gives an age of 76"),
        (
            RiskFlag.Code.HIGH_VOLUME,
            "Expects ¥300,000.01 a month; above ¥300,000.00 for category 5411",
        ),
    ],
)
def test_each_risk_flag_is_explained_in_a_sentence(code, english):
    flag = RiskFlag(code=code, details=EXPLANATION_DETAILS[code])

    with translation.override("en"):
        explained_in_english = presenters.risk_flag_explanation(flag)
    with translation.override("zh-hans"):
        explained_in_chinese = presenters.risk_flag_explanation(flag)

    assert explained_in_english == english
    assert explained_in_chinese
    assert explained_in_chinese != explained_in_english


# --- notification e-mails --------------------------------------------------------------------


def notification_for(user) -> Notification:
    return services.notify(
        user=user,
        kind="application_submitted",
        params={"number": "AP20261126000001"},
        url="/applications/0f6b/",
    )


def test_a_notification_is_emailed_in_english_to_a_reader_who_chose_english():
    user = factories.CustomerFactory(email="li@example.cn", language="en")
    notification = notification_for(user)

    sent = services.notification_email(notification_id=notification.pk, site_url=SITE_URL)

    assert sent is True
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "Application AP20261126000001 received"
    assert mail.outbox[0].to == ["li@example.cn"]
    assert mail.outbox[0].body.startswith("Hello,\n\nThank you. A reviewer will look at")
    assert f"{SITE_URL}/applications/0f6b/" in mail.outbox[0].body
    assert [mimetype for _html, mimetype in mail.outbox[0].alternatives] == ["text/html"]
    notification.refresh_from_db()
    assert notification.emailed_at is not None


def test_a_notification_is_emailed_in_chinese_by_default():
    user = factories.CustomerFactory(email="li@example.cn")
    notification = notification_for(user)

    services.notification_email(notification_id=notification.pk, site_url=SITE_URL)

    assert user.language == "zh-hans"
    assert [message.subject for message in mail.outbox] == ["申请 AP20261126000001 已收到"]


def test_a_notification_is_emailed_only_once():
    notification = notification_for(factories.CustomerFactory(email="li@example.cn"))
    services.notification_email(notification_id=notification.pk, site_url=SITE_URL)

    sent_again = services.notification_email(notification_id=notification.pk, site_url=SITE_URL)

    assert sent_again is False
    assert len(mail.outbox) == 1


def test_a_failed_send_releases_the_notification_so_a_retry_sends_it(monkeypatch):
    notification = notification_for(factories.CustomerFactory(email="li@example.cn"))

    def refuse(self, fail_silently=False):
        raise OSError("mail server unreachable")

    monkeypatch.setattr(EmailMultiAlternatives, "send", refuse)
    with pytest.raises(OSError):
        services.notification_email(notification_id=notification.pk, site_url=SITE_URL)
    notification.refresh_from_db()
    assert notification.emailed_at is None
    assert mail.outbox == []

    monkeypatch.undo()
    sent = services.notification_email(notification_id=notification.pk, site_url=SITE_URL)

    assert sent is True
    assert len(mail.outbox) == 1
