from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from portal.management.commands.seed_demo import DEMO_MERCHANT_MOBILE, DEMO_PASSWORD
from portal.models import Application, Merchant, User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def development_mode(settings):
    # pytest-django runs tests with DEBUG off; seeding is for development installations.
    settings.DEBUG = True


def seed():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_creates_every_demo_login_and_prints_it(rf):
    output = seed()

    for login in ["admin", "reviewer", "support", "risk", "finance", DEMO_MERCHANT_MOBILE]:
        assert login in output
        assert authenticate(rf.post("/"), username=login, password=DEMO_PASSWORD) is not None
    assert DEMO_PASSWORD in output
    assert User.objects.get(username="admin").is_superuser
    assert list(User.objects.get(username="risk").groups.values_list("name", flat=True)) == ["risk"]
    merchant = Merchant.objects.get(user__mobile=DEMO_MERCHANT_MOBILE)
    assert merchant.mid in output


def test_seed_demo_twice_changes_nothing_but_restores_passwords():
    seed()
    admin = User.objects.get(username="admin")
    admin.set_password("changed-by-someone-1")
    admin.save()
    before = {
        "users": User.objects.count(),
        "mids": list(Merchant.objects.values_list("mid", flat=True)),
        "applications": list(Application.objects.values_list("number", "status")),
    }

    seed()

    assert before == {
        "users": User.objects.count(),
        "mids": list(Merchant.objects.values_list("mid", flat=True)),
        "applications": list(Application.objects.values_list("number", "status")),
    }
    admin.refresh_from_db()
    assert admin.check_password(DEMO_PASSWORD)


def test_seed_demo_refuses_production(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG is false"):
        call_command("seed_demo")

    assert not User.objects.exists()


def test_seed_demo_has_applications_in_every_status_and_a_merchant_from_one():
    seed()

    statuses = set(Application.objects.values_list("status", flat=True))
    assert statuses == set(Application.Status.values)
    merchant = Merchant.objects.get(user__mobile=DEMO_MERCHANT_MOBILE)
    assert merchant.application.status == Application.Status.APPROVED
    assert merchant.fee_schedule is not None
