import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from rest_framework.authtoken.models import Token

from portal import services
from portal.models import Heartbeat, Merchant, User
from tests import factories


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
def test_concurrent_sign_ups_with_one_mobile_create_one_account(postgres):
    barrier = threading.Barrier(2)
    outcomes = []

    def sign_up():
        barrier.wait()
        try:
            services.user_sign_up(login="13900002222", password="a-strong-pass-1")
            outcomes.append("created")
        except services.LoginTakenError:
            outcomes.append("taken")
        finally:
            connection.close()

    threads = [threading.Thread(target=sign_up) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["created", "taken"]
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
def test_mids_stay_unique_when_many_merchants_share_a_region_and_category():
    users = factories.CustomerFactory.create_batch(60)

    mids = {
        services.merchant_create(user=u, name="店", region_code="3100", mcc="5411").mid
        for u in users
    }

    assert len(mids) == 60


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
    first = services.heartbeat_record(name="worker")
    second = services.heartbeat_record(name="worker")

    assert Heartbeat.objects.count() == 1
    assert second.seen_at >= first.seen_at


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
