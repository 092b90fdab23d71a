from datetime import timedelta

import pytest
from axes.models import AccessLog
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.authtoken.models import Token

from portal import services
from portal.models import Heartbeat, Merchant, MidSerial, User
from tests import factories
from tests.helpers import run_at_once


@pytest.mark.django_db
def test_sign_up_with_mobile_uses_it_as_login():
    user = services.user_sign_up(login="+86 139 0000 1111", password="a-strong-pass-1")

    assert (user.username, user.mobile, user.email) == ("13900001111", "13900001111", "")
    assert user.check_password("a-strong-pass-1")
    assert not user.is_staff


@pytest.mark.django_db
def test_sign_up_with_email_keeps_its_case_but_logs_in_lowercase():
    user = services.user_sign_up(login="Li.Wei@EXAMPLE.cn", password="a-strong-pass-1")

    assert (user.username, user.email, user.mobile) == (
        "li.wei@example.cn",
        "Li.Wei@example.cn",
        "",
    )


@pytest.mark.django_db
def test_sign_up_refuses_an_email_taken_in_another_case():
    services.user_sign_up(login="li.wei@example.cn", password="a-strong-pass-1")

    with pytest.raises(services.LoginTakenError):
        services.user_sign_up(login="LI.WEI@example.cn", password="a-strong-pass-1")
    assert User.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_sign_ups_with_one_mobile_create_one_account():
    outcomes = run_at_once(
        lambda _: services.user_sign_up(login="13900002222", password="a-strong-pass-1"),
        [1, 2],
    )

    assert sorted(type(o).__name__ for o in outcomes) == ["LoginTakenError", "User"]
    assert User.objects.filter(mobile="13900002222").count() == 1


@pytest.mark.django_db
def test_merchant_gets_a_15_digit_mid_in_unionpay_layout(customer):
    merchant = services.merchant_create(
        user=customer, name="老王面馆", region_code="4401", mcc="5812"
    )

    assert len(merchant.mid) == 15
    assert merchant.mid.isdigit()
    assert merchant.mid[:11] == "89844015812"
    assert merchant.status == Merchant.Status.CONTRACT_PENDING


@pytest.mark.django_db
def test_mid_serials_count_up_per_region_and_category():
    first, second, elsewhere = factories.CustomerFactory.create_batch(3)

    mids = [
        services.merchant_create(user=first, name="甲", region_code="3100", mcc="5411").mid,
        services.merchant_create(user=second, name="乙", region_code="3100", mcc="5411").mid,
        services.merchant_create(user=elsewhere, name="丙", region_code="4401", mcc="5411").mid,
    ]

    assert mids == ["898310054110001", "898310054110002", "898440154110001"]


@pytest.mark.django_db
def test_a_full_region_and_category_refuses_clearly_and_creates_nothing(customer):
    MidSerial.objects.create(region_code="3100", mcc="5411", last_serial=MidSerial.MAX_SERIAL)

    with pytest.raises(services.MidExhaustedError):
        services.merchant_create(user=customer, name="满了", region_code="3100", mcc="5411")

    assert not Merchant.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_in_one_region_get_different_mids():
    users = factories.CustomerFactory.create_batch(4)

    merchants = run_at_once(
        lambda user: services.merchant_create(user=user, name="店", region_code="3100", mcc="5411"),
        users,
    )

    assert sorted(m.mid for m in merchants) == [f"89831005411000{n}" for n in range(1, 5)]


@pytest.mark.django_db
def test_an_account_cannot_become_a_second_merchant(merchant):
    with pytest.raises(ValidationError) as excinfo:
        services.merchant_create(user=merchant.user, name="二号店", region_code="3100", mcc="5411")

    assert excinfo.value.code == "already_merchant"
    assert Merchant.objects.count() == 1


@pytest.mark.django_db
def test_staff_cannot_become_merchants(staff_user):
    with pytest.raises(ValidationError):
        services.merchant_create(user=staff_user, name="员工店", region_code="3100", mcc="5411")

    assert not Merchant.objects.exists()


@pytest.mark.django_db
def test_heartbeat_is_one_row_that_moves_forward():
    Heartbeat.objects.create(name="worker", seen_at=timezone.now() - timedelta(hours=1))

    services.heartbeat_record(name="worker")

    assert Heartbeat.objects.count() == 1
    assert timezone.now() - Heartbeat.objects.get().seen_at < timedelta(minutes=1)


@pytest.mark.django_db
def test_regenerating_a_token_invalidates_the_old_one(customer):
    old = services.api_token_regenerate(user=customer)
    new = services.api_token_regenerate(user=customer)

    assert old.key != new.key
    assert list(Token.objects.filter(user=customer).values_list("key", flat=True)) == [new.key]


@pytest.mark.django_db
def test_revoking_a_token_twice_is_harmless(customer):
    services.api_token_regenerate(user=customer)

    assert services.api_token_revoke(user=customer) is True
    assert services.api_token_revoke(user=customer) is False
    assert not Token.objects.filter(user=customer).exists()


@pytest.mark.django_db
def test_staff_get_no_api_token(staff_user):
    with pytest.raises(ValidationError):
        services.api_token_regenerate(user=staff_user)

    assert not Token.objects.exists()


@pytest.mark.django_db
def test_old_login_records_are_purged_and_recent_ones_kept():
    old = AccessLog.objects.create(ip_address="203.0.113.1")
    recent = AccessLog.objects.create(ip_address="203.0.113.2")
    # attempt_time is set on creation; move the rows back in time.
    AccessLog.objects.filter(pk=old.pk).update(attempt_time=timezone.now() - timedelta(days=91))
    AccessLog.objects.filter(pk=recent.pk).update(attempt_time=timezone.now() - timedelta(days=1))

    purged = services.login_logs_purge(older_than_days=90)

    assert purged == 1
    assert list(AccessLog.objects.all()) == [recent]
