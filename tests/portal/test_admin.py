import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse

from core.staff import staff_permissions
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_four_staff_groups_have_exactly_the_permissions_of_the_table():
    permissions = {
        group.name: {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        }
        for group in Group.objects.prefetch_related("permissions")
    }

    assert permissions == {name: set(perms) for name, perms in staff_permissions().items()}
    assert set(permissions) == {"reviewer", "support", "risk", "finance"}


def test_a_group_missing_a_permission_gets_it_back_on_the_next_migrate():
    reviewer = Group.objects.get(name="reviewer")
    reviewer.permissions.clear()

    call_command("migrate", verbosity=0)

    assert reviewer.permissions.filter(codename="review_application").exists()


def test_staff_without_a_group_see_an_empty_admin(client):
    client.force_login(factories.StaffFactory())

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert response.context["app_list"] == []


def test_a_reviewer_can_read_merchants_but_not_change_them(client, merchant):
    client.force_login(factories.StaffFactory(group="reviewer"))
    url = reverse("admin:portal_merchant_change", args=[merchant.pk])

    page = client.get(url)
    post = client.post(url, {"name": "改名"})

    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert post.status_code == 403
    merchant.refresh_from_db()
    assert merchant.name != "改名"


def test_risk_can_rename_a_merchant_but_never_move_it_or_edit_its_status_or_mid(client, merchant):
    original = (merchant.user_id, merchant.mid)
    other_account = factories.CustomerFactory()
    client.force_login(factories.StaffFactory(group="risk"))
    url = reverse("admin:portal_merchant_change", args=[merchant.pk])

    # As the browser posts it: the status timeline below the form (read-only) sends its
    # formset's management fields.
    response = client.post(
        url,
        {
            "name": "新名字",
            "user": other_account.pk,
            "status": "active",
            "mid": "1" * 15,
            "events-TOTAL_FORMS": "0",
            "events-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302
    merchant.refresh_from_db()
    assert (merchant.name, merchant.status) == ("新名字", "contract_pending")
    assert (merchant.user_id, merchant.mid) == original


def test_api_token_keys_are_not_readable_in_the_admin(admin_client):
    response = admin_client.get("/admin/authtoken/tokenproxy/")

    assert response.status_code == 404


def test_nobody_adds_a_merchant_from_a_blank_form(admin_client):
    assert admin_client.get(reverse("admin:portal_merchant_add")).status_code == 403


def test_the_admin_is_in_chinese(admin_client):
    body = admin_client.get(reverse("admin:index")).content.decode()

    assert "POS 商户门户管理后台" in body


@pytest.mark.parametrize("model", ["user", "merchant"])
def test_changelists_keep_a_constant_number_of_queries(
    admin_client, django_assert_max_num_queries, model
):
    factories.MerchantFactory.create_batch(30)

    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse(f"admin:portal_{model}_changelist"))

    assert response.status_code == 200


def test_merchant_search_by_mobile(admin_client, merchant):
    other = factories.MerchantFactory()

    response = admin_client.get(
        reverse("admin:portal_merchant_changelist"), {"q": merchant.user.mobile}
    )

    assert list(response.context["cl"].result_list) == [merchant]
    assert other not in response.context["cl"].result_list
