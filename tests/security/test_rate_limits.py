"""Rate limits on what an attacker would hammer: sign-up, log-in (portal and admin), password
reset and one-time signing codes. 429 with a page saying when to come back; one address's
limit does not touch another's."""

import pytest
from django.core import mail

from core import ratelimit
from core.ratelimit import Rate
from tests import factories
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

ELSEWHERE = {"REMOTE_ADDR": "203.0.113.9"}


@pytest.fixture
def tight(settings):
    settings.RATE_LIMITS = {
        **settings.RATE_LIMITS,
        "signup": "2/h",
        "login": "3/10m",
        "password_reset": "2/h",
        "password_reset_address": "1/h",
        "one_time_code": "2/h",
    }


def signup(client, n: int, **extra):
    return client.post(
        "/accounts/signup/",
        {
            "login": f"1390000{n:04d}",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "accept_terms": "on",
        },
        **extra,
    )


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("10/h", Rate(10, 3600)),
        ("30/10m", Rate(30, 600)),
        ("5/s", Rate(5, 1)),
        ("1/d", Rate(1, 86400)),
    ],
)
def test_rates_read_as_count_per_period(text, rate):
    assert Rate.parse(text) == rate


@pytest.mark.parametrize("text", ["10", "10/x", "/h", "ten/h", "10/h/2"])
def test_a_malformed_rate_is_refused(text):
    with pytest.raises(ValueError, match="a rate looks like"):
        Rate.parse(text)


def test_sign_ups_beyond_the_limit_answer_429_and_create_nobody(client, tight):
    from portal.models import User

    first, second = signup(client, 1), signup(client.__class__(), 2)
    third = signup(client.__class__(), 3)

    assert (first.status_code, second.status_code) == (302, 302)
    assert third.status_code == 429
    assert int(third["Retry-After"]) > 0
    assert "Too many attempts" in third.content.decode() or "尝试次数过多" in third.content.decode()
    assert not User.objects.filter(mobile="13900000003").exists()


def test_another_address_still_signs_up(client, tight):
    for n in range(3):
        signup(client.__class__(), n)

    assert signup(client.__class__(), 9, **ELSEWHERE).status_code == 302


def test_log_in_attempts_on_many_accounts_from_one_address_are_cut_off(client, tight):
    users = [factories.CustomerFactory() for _ in range(4)]
    answers = [
        client.post("/accounts/login/", {"username": user.mobile, "password": "wrong-guess-1"})
        for user in users
    ]

    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]


def test_the_log_in_page_itself_is_never_limited(client, tight):
    assert all(client.get("/accounts/login/").status_code == 200 for _ in range(6))


def test_admin_log_in_is_limited_too(client, tight):
    staff = factories.StaffFactory()
    answers = [
        client.post("/admin/login/", {"username": staff.username, "password": "nope-nope-1"})
        for _ in range(4)
    ]

    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]


def test_password_reset_mails_to_one_address_stop_but_the_page_reveals_nothing(client, tight):
    customer = factories.CustomerFactory(email="li@example.cn")

    first = client.post("/accounts/password/reset/", {"email": customer.email})
    second = client.post("/accounts/password/reset/", {"email": "LI@example.cn "})

    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert len(mail.outbox) == 1


def test_password_reset_requests_from_one_address_answer_429(client, tight):
    answers = [
        client.post("/accounts/password/reset/", {"email": f"nobody{n}@example.cn"})
        for n in range(3)
    ]

    assert [answer.status_code for answer in answers] == [302, 302, 429]


def test_counts_are_kept_per_scope(client, tight):
    for n in range(3):
        signup(client.__class__(), n)

    assert client.post("/accounts/password/reset/", {"email": "x@example.cn"}).status_code == 302


def test_the_count_is_keyed_by_a_hash_not_the_address(tight, monkeypatch):
    keys = []
    real = ratelimit.cache

    class Recording:
        def __getattr__(self, name):
            method = getattr(real, name)

            def recorded(key, *args, **kwargs):
                keys.append(key)
                return method(key, *args, **kwargs)

            return recorded

    monkeypatch.setattr(ratelimit, "cache", Recording())

    ratelimit.hit("signup", "198.51.100.7")
    ratelimit.hit("signup", "198.51.100.7")

    assert keys and all(key.startswith("ratelimit:signup:") for key in keys)
    assert not any("198.51.100.7" in key for key in keys)


def test_one_time_codes_beyond_the_limit_answer_429_in_json(client, tight, contract_template):
    from tests import contracts

    merchant = contracts.approved_merchant()
    contract = contracts.pending_contract(merchant)
    client.force_login(merchant.user)
    url = f"/merchant/contracts/{contract.public_id}/code/"
    # The service also asks for a minute between two codes (409): the limit counts attempts.
    answers = [client.post(url) for _ in range(3)]

    assert [answer.status_code for answer in answers[:2]] == [200, 409]
    assert answers[2].status_code == 429
    assert answers[2].json()["detail"]
