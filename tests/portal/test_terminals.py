import re

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse

from portal import services
from portal.models import Merchant, MerchantEvent, Notification, Terminal, TerminalEvent
from tests import factories
from tests import onboarding as data
from tests.contracts import signed_contract
from tests.helpers import assert_constant_queries

pytestmark = pytest.mark.django_db

Status = Terminal.Status
MerchantStatus = Merchant.Status

# The lifecycle as specified: from the warehouse to the counter, with the carrier's
# "undeliverable" sending it back, and activation possible before the "delivered" scan.
EXPECTED_TRANSITIONS = {
    Status.PENDING: {Status.READY_TO_SHIP},
    Status.READY_TO_SHIP: {Status.SHIPPED, Status.PENDING},
    Status.SHIPPED: {Status.DELIVERED, Status.UNDELIVERABLE, Status.ACTIVE},
    Status.UNDELIVERABLE: {Status.SHIPPED, Status.READY_TO_SHIP},
    Status.DELIVERED: {Status.ACTIVE},
    Status.ACTIVE: set(),
}
ALLOWED = [(a, b) for a, targets in EXPECTED_TRANSITIONS.items() for b in sorted(targets)]
REFUSED = [(a, b) for a in Status for b in Status if b not in EXPECTED_TRANSITIONS[a]]
TRACKING = {"carrier": "顺丰速运", "tracking_number": "SF1234567890"}


@pytest.fixture
def staff():
    return factories.StaffFactory(group="finance")


def signed_merchant(**kwargs) -> Merchant:
    """A merchant that has signed its contract (set directly: the contract is not under test
    here; see test_first_shipment_of_a_really_signed_contract for the whole way)."""
    return factories.MerchantFactory(status=MerchantStatus.CONTRACT_SIGNED, **kwargs)


def assign(merchant, staff, *, serial="SN-000001", tid="10000001"):
    return services.terminal_assign(
        merchant=merchant,
        product=data.product(),
        serial_number=serial,
        tid=tid,
        model="P30",
        actor=staff,
    )


def move(terminal, to_status, staff, **fields):
    return services.terminal_transition(
        terminal=terminal, to_status=to_status, actor=staff, **fields
    )


def shipped(staff, merchant=None, **kwargs) -> Terminal:
    terminal = assign(merchant or signed_merchant(), staff, **kwargs)
    move(terminal, Status.READY_TO_SHIP, staff)
    return move(terminal, Status.SHIPPED, staff, **TRACKING)


def in_status(status, staff) -> Terminal:
    terminal = assign(signed_merchant(), staff)
    Terminal.objects.filter(pk=terminal.pk).update(status=status)
    terminal.refresh_from_db()
    return terminal


def snapshot(terminal) -> dict:
    row = Terminal.objects.filter(pk=terminal.pk).values().get()
    return {
        **row,
        "events": TerminalEvent.objects.filter(terminal=terminal).count(),
        "merchant": Merchant.objects.filter(pk=terminal.merchant_id).values("status").get(),
        "notifications": Notification.objects.count(),
    }


# --- assignment ------------------------------------------------------------------------------


def test_assigning_a_terminal_gives_it_an_8_digit_activation_code(staff):
    merchant = signed_merchant()

    terminal = assign(merchant, staff, serial=" sn-abc123 ", tid=" 12345678 ")

    terminal.refresh_from_db()
    assert (terminal.serial_number, terminal.tid, terminal.status) == (
        "SN-ABC123",
        "12345678",
        Status.PENDING,
    )
    assert re.fullmatch(r"\d{8}", terminal.activation_code)
    assert terminal.activation_attempts == 0
    event = terminal.events.get()
    assert (event.from_status, event.to_status, event.actor) == ("", Status.PENDING, staff)


@pytest.mark.parametrize(
    ("serial", "tid", "field"),
    [
        ("SN-000001", "1234567", "tid"),
        ("SN-000001", "123456789", "tid"),
        ("SN-000001", "1234567A", "tid"),
        ("SN 1", "12345678", "serial_number"),
        ("SN_000001", "12345678", "serial_number"),
    ],
)
def test_a_bad_serial_number_or_tid_is_refused(staff, serial, tid, field):
    with pytest.raises(ValidationError) as refused:
        assign(signed_merchant(), staff, serial=serial, tid=tid)

    assert list(refused.value.error_dict) == [field]
    assert not Terminal.objects.exists()
    assert not TerminalEvent.objects.exists()


def test_a_tid_already_in_use_is_refused(staff):
    assign(signed_merchant(), staff, serial="SN-000001", tid="10000001")

    with pytest.raises(ValidationError) as refused:
        assign(signed_merchant(), staff, serial="SN-000002", tid="10000001")

    assert list(refused.value.error_dict) == ["tid"]
    assert Terminal.objects.count() == 1
    assert TerminalEvent.objects.count() == 1


def test_a_serial_number_already_in_use_is_refused(staff):
    assign(signed_merchant(), staff, serial="SN-000001", tid="10000001")

    with pytest.raises(ValidationError) as refused:
        assign(signed_merchant(), staff, serial="sn-000001", tid="10000002")

    assert list(refused.value.error_dict) == ["serial_number"]
    assert Terminal.objects.count() == 1


@pytest.mark.parametrize("status", [MerchantStatus.SUSPENDED, MerchantStatus.CLOSED])
def test_a_suspended_or_closed_merchant_gets_no_terminal(staff, status):
    with pytest.raises(ValidationError) as refused:
        assign(factories.MerchantFactory(status=status), staff)

    assert refused.value.code == "merchant_inactive"
    assert not Terminal.objects.exists()


# --- transitions -----------------------------------------------------------------------------


def test_the_transition_table_is_the_specified_lifecycle():
    assert Terminal.ALLOWED_TRANSITIONS == EXPECTED_TRANSITIONS


@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED)
def test_an_allowed_move_is_applied_with_an_event(staff, from_status, to_status):
    terminal = in_status(from_status, staff)
    fields = TRACKING if to_status == Status.SHIPPED else {}

    moved = move(terminal, to_status, staff, note="检查", **fields)

    assert moved.status == to_status
    event = terminal.events.last()
    assert (event.from_status, event.to_status, event.actor, event.reason) == (
        from_status,
        to_status,
        staff,
        "检查",
    )


@pytest.mark.parametrize(("from_status", "to_status"), REFUSED)
def test_a_move_not_in_the_table_is_refused_and_changes_nothing(staff, from_status, to_status):
    terminal = in_status(from_status, staff)
    before = snapshot(terminal)

    with pytest.raises(ValidationError) as refused:
        move(terminal, to_status, staff, **TRACKING)

    assert refused.value.code == "transition_not_allowed"
    assert snapshot(terminal) == before


@pytest.mark.parametrize(
    "fields",
    [{}, {"carrier": "顺丰速运"}, {"tracking_number": "SF1234567890"}],
    ids=["nothing", "no-tracking-number", "no-carrier"],
)
def test_shipping_needs_the_carrier_and_the_tracking_number(staff, fields):
    terminal = in_status(Status.READY_TO_SHIP, staff)
    before = snapshot(terminal)

    with pytest.raises(ValidationError) as refused:
        move(terminal, Status.SHIPPED, staff, **fields)

    assert refused.value.code == "no_tracking"
    assert snapshot(terminal) == before


def test_shipping_before_the_contract_is_signed_is_refused(staff):
    terminal = assign(factories.MerchantFactory(), staff)
    move(terminal, Status.READY_TO_SHIP, staff)
    before = snapshot(terminal)

    with pytest.raises(ValidationError) as refused:
        move(terminal, Status.SHIPPED, staff, **TRACKING)

    assert refused.value.code == "contract_unsigned"
    assert snapshot(terminal) == before


def test_the_first_shipment_moves_the_merchant_to_terminal_shipped(staff):
    merchant = signed_merchant()

    terminal = shipped(staff, merchant)

    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.TERMINAL_SHIPPED
    event = merchant.events.get()
    assert (event.from_status, event.to_status, event.actor, event.reason) == (
        MerchantStatus.CONTRACT_SIGNED,
        MerchantStatus.TERMINAL_SHIPPED,
        staff,
        terminal.tid,
    )
    assert (terminal.carrier, terminal.tracking_number) == ("顺丰速运", "SF1234567890")
    assert terminal.shipped_at is not None


def test_a_second_shipment_leaves_the_merchant_as_it_is(staff):
    merchant = signed_merchant()
    shipped(staff, merchant)

    shipped(staff, merchant, serial="SN-000002", tid="10000002")

    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.TERMINAL_SHIPPED
    assert merchant.events.count() == 1


def test_first_shipment_of_a_really_signed_contract(staff, contract_template):
    merchant = signed_contract().merchant

    terminal = shipped(staff, merchant)

    merchant.refresh_from_db()
    assert terminal.status == Status.SHIPPED
    assert list(merchant.events.values_list("to_status", flat=True)) == [
        MerchantStatus.CONTRACT_SIGNED,
        MerchantStatus.TERMINAL_SHIPPED,
    ]


# --- notifications ---------------------------------------------------------------------------


def test_the_merchant_is_told_when_the_terminal_is_shipped(staff):
    terminal = shipped(staff)

    notification = Notification.objects.get(kind="terminal_shipped")
    assert notification.user == terminal.merchant.user
    assert notification.params == {
        "tid": terminal.tid,
        "carrier": "顺丰速运",
        "tracking": "SF1234567890",
    }
    assert notification.url == reverse("portal:terminal-list")


@pytest.mark.parametrize(
    ("status", "kind"),
    [(Status.DELIVERED, "terminal_delivered"), (Status.UNDELIVERABLE, "terminal_undeliverable")],
)
def test_the_merchant_is_told_of_the_delivery_outcome(staff, status, kind):
    terminal = shipped(staff)

    moved = move(terminal, status, staff)

    notification = Notification.objects.get(kind=kind)
    assert notification.user == terminal.merchant.user
    assert notification.params["tid"] == terminal.tid
    if status == Status.DELIVERED:
        assert moved.delivered_at is not None


def test_moving_back_to_the_warehouse_tells_the_merchant_nothing(staff):
    terminal = in_status(Status.READY_TO_SHIP, staff)

    move(terminal, Status.PENDING, staff)

    assert not Notification.objects.exists()


# --- activation ------------------------------------------------------------------------------


def activate(terminal, code, user=None):
    return services.terminal_activate(
        terminal=terminal, user=user or terminal.merchant.user, code=code
    )


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**8:08d}"


def test_the_right_code_activates_the_terminal_and_the_merchant(staff):
    terminal = shipped(staff)
    merchant = terminal.merchant

    activated = activate(terminal, f" {terminal.activation_code} ")

    merchant.refresh_from_db()
    assert activated.status == Status.ACTIVE
    assert activated.activated_at is not None
    assert activated.activation_attempts == 1
    assert merchant.status == MerchantStatus.ACTIVE
    assert merchant.events.last().actor == merchant.user
    notification = Notification.objects.get(kind="terminal_activated")
    assert (notification.user, notification.params) == (merchant.user, {"tid": terminal.tid})


def test_a_delivered_terminal_can_be_activated(staff):
    terminal = shipped(staff)
    move(terminal, Status.DELIVERED, staff)

    assert activate(terminal, terminal.activation_code).status == Status.ACTIVE


def test_a_wrong_code_is_refused_and_counted(staff):
    terminal = shipped(staff)

    with pytest.raises(ValidationError) as refused:
        activate(terminal, wrong(terminal.activation_code))

    assert refused.value.code == "wrong_code"
    terminal.refresh_from_db()
    assert (terminal.status, terminal.activation_attempts) == (Status.SHIPPED, 1)
    assert terminal.merchant.status == MerchantStatus.TERMINAL_SHIPPED


def test_after_five_wrong_codes_even_the_right_one_is_refused(staff):
    terminal = shipped(staff)
    for _attempt in range(5):
        with pytest.raises(ValidationError):
            activate(terminal, wrong(terminal.activation_code))

    with pytest.raises(ValidationError) as refused:
        activate(terminal, terminal.activation_code)

    assert refused.value.code == "too_many_attempts"
    terminal.refresh_from_db()
    assert (terminal.status, terminal.activation_attempts) == (Status.SHIPPED, 5)
    assert terminal.merchant.status == MerchantStatus.TERMINAL_SHIPPED
    assert not Notification.objects.filter(kind="terminal_activated").exists()


def test_a_terminal_not_yet_shipped_cannot_be_activated(staff):
    terminal = in_status(Status.READY_TO_SHIP, staff)

    with pytest.raises(ValidationError) as refused:
        activate(terminal, terminal.activation_code)

    assert refused.value.code == "not_activatable"
    terminal.refresh_from_db()
    assert (terminal.status, terminal.activation_attempts) == (Status.READY_TO_SHIP, 0)


def test_another_user_cannot_activate_a_terminal(client, staff):
    terminal = shipped(staff)
    other = factories.CustomerFactory()
    client.force_login(other)

    response = client.post(
        reverse("portal:terminal-activate", args=[terminal.public_id]),
        {"code": terminal.activation_code},
    )
    with pytest.raises(ValidationError) as refused:
        activate(terminal, terminal.activation_code, user=other)

    assert response.status_code == 404
    assert refused.value.code == "not_yours"
    terminal.refresh_from_db()
    assert (terminal.status, terminal.activation_attempts) == (Status.SHIPPED, 0)


def test_activating_on_the_page_shows_a_success_message(client, staff):
    terminal = shipped(staff)
    client.force_login(terminal.merchant.user)

    response = client.post(
        reverse("portal:terminal-activate", args=[terminal.public_id]),
        {"code": terminal.activation_code},
        follow=True,
    )

    terminal.refresh_from_db()
    assert response.redirect_chain == [(reverse("portal:terminal-list"), 302)]
    assert [str(m) for m in response.context["messages"]] == [
        f"终端 {terminal.tid} 已激活，现在可以收款了。"
    ]
    assert terminal.status == Status.ACTIVE
    assert terminal.merchant.status == MerchantStatus.ACTIVE


def test_a_wrong_code_on_the_page_shows_why(client, staff):
    terminal = shipped(staff)
    client.force_login(terminal.merchant.user)

    response = client.post(
        reverse("portal:terminal-activate", args=[terminal.public_id]),
        {"code": wrong(terminal.activation_code)},
    )

    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "激活码不正确。激活码在包装盒内的标签上。"
    ]
    terminal.refresh_from_db()
    assert terminal.status == Status.SHIPPED


# --- the merchant's terminals page -----------------------------------------------------------


def test_the_terminals_page_lists_only_my_terminals_with_their_tracking(client, staff):
    mine = shipped(staff)
    theirs = shipped(staff, serial="SN-000002", tid="10000002")
    client.force_login(mine.merchant.user)

    response = client.get(reverse("portal:terminal-list"))

    body = response.content.decode()
    assert response.status_code == 200
    assert list(response.context["terminals"]) == [mine]
    assert f'data-testid="terminal-{mine.tid}"' in body
    assert f'data-testid="terminal-{theirs.tid}"' not in body
    assert "快递公司 顺丰速运，运单号 SF1234567890。" in body
    assert mine.activation_code not in body


def test_the_terminals_page_keeps_a_constant_number_of_queries(client, staff):
    merchant = signed_merchant()
    shipped(staff, merchant)
    client.force_login(merchant.user)
    serials = iter(range(2, 100))

    def add_terminal():
        n = next(serials)
        shipped(staff, merchant, serial=f"SN-{n:06d}", tid=f"{10000000 + n}")

    assert_constant_queries(lambda: client.get(reverse("portal:terminal-list")), add_terminal)


# --- the admin -------------------------------------------------------------------------------


def test_finance_assigns_a_terminal_in_the_admin_through_the_service(client, staff):
    merchant = signed_merchant()
    client.force_login(staff)

    response = client.post(
        reverse("admin:portal_terminal_add"),
        {
            "merchant": merchant.pk,
            "product": data.product().pk,
            "serial_number": "sn-admin-1",
            "tid": "20000001",
            "model": "P30",
        },
    )

    terminal = Terminal.objects.get()
    assert response.status_code == 302
    assert (terminal.merchant, terminal.serial_number, terminal.tid, terminal.status) == (
        merchant,
        "SN-ADMIN-1",
        "20000001",
        Status.PENDING,
    )
    assert re.fullmatch(r"\d{8}", terminal.activation_code)
    event = terminal.events.get()
    assert (event.to_status, event.actor) == (Status.PENDING, staff)


def test_the_admin_add_form_refuses_a_bad_tid(client, staff):
    client.force_login(staff)

    response = client.post(
        reverse("admin:portal_terminal_add"),
        {
            "merchant": signed_merchant().pk,
            "product": data.product().pk,
            "serial_number": "SN-ADMIN-1",
            "tid": "2000",
            "model": "P30",
        },
    )

    assert response.status_code == 200
    assert "tid" in response.context["adminform"].form.errors
    assert not Terminal.objects.exists()


def move_url(terminal, status):
    return reverse("admin:portal_terminal_move", args=[terminal.pk, status])


def test_finance_ships_a_terminal_from_the_admin(client, staff):
    terminal = assign(signed_merchant(), staff)
    client.force_login(staff)

    client.post(move_url(terminal, Status.READY_TO_SHIP))
    response = client.post(move_url(terminal, Status.SHIPPED), TRACKING)

    terminal.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:portal_terminal_change", args=[terminal.pk])
    assert (terminal.status, terminal.carrier, terminal.tracking_number) == (
        Status.SHIPPED,
        "顺丰速运",
        "SF1234567890",
    )
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"终端 {terminal.tid} 已更新。"
    ] * 2
    assert terminal.merchant.status == MerchantStatus.TERMINAL_SHIPPED


def test_shipping_from_the_admin_without_tracking_is_refused(client, staff):
    terminal = in_status(Status.READY_TO_SHIP, staff)
    client.force_login(staff)
    before = snapshot(terminal)

    client.post(move_url(terminal, Status.SHIPPED), {"carrier": "顺丰速运"})

    assert snapshot(terminal) == before


def test_staff_cannot_activate_a_terminal_from_the_admin(client, staff):
    terminal = shipped(staff)
    client.force_login(staff)
    before = snapshot(terminal)

    response = client.post(move_url(terminal, Status.ACTIVE))

    assert response.status_code == 403
    assert snapshot(terminal) == before


def test_a_reviewer_cannot_move_a_terminal(client, staff):
    terminal = in_status(Status.READY_TO_SHIP, staff)
    client.force_login(factories.StaffFactory(group="reviewer"))
    before = snapshot(terminal)

    response = client.post(move_url(terminal, Status.SHIPPED), TRACKING)

    assert response.status_code == 403
    assert snapshot(terminal) == before


def test_the_admin_page_offers_the_next_moves_but_not_activation(client, staff):
    terminal = shipped(staff)
    client.force_login(staff)

    response = client.get(reverse("admin:portal_terminal_change", args=[terminal.pk]))

    assert response.status_code == 200
    assert sorted(status for status, _label in response.context["next_statuses"]) == [
        Status.DELIVERED,
        Status.UNDELIVERABLE,
    ]
    assert MerchantEvent.objects.count() == 1
