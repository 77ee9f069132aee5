"""The ledger in the admin is read-only for everyone; reversals and event redelivery go through services."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from billing.models import Account, Entry, Event, EventDelivery, Transaction
from billing.selectors import customer_balance
from billing.services.customers import customer_balance_adjust
from billing.services.outbox import outbox_dispatch
from tests.admin.helpers import form_fields, shown_messages

pytestmark = pytest.mark.django_db

TRANSACTIONS_URL = reverse("admin:billing_transaction_changelist")


@pytest.fixture
def adjustment(customer, unique_key):
    return customer_balance_adjust(
        customer_id=customer.pk, amount=Decimal("40.00"), direction="credit", reason="Goodwill", key=unique_key()
    )


def _action_choices(response) -> set[str]:
    action_form = response.context["action_form"]  # None when no action is offered at all
    return set(dict(action_form.fields["action"].choices)) if action_form else set()


@pytest.mark.parametrize("model", ["account", "transaction", "entry"])
def test_ledger_rows_cannot_be_added_changed_or_deleted_by_a_superuser(admin_client, adjustment, model):
    # given one row of the model
    obj = {"account": Account.objects.first(), "transaction": adjustment, "entry": Entry.objects.first()}[model]
    change_url = reverse(f"admin:billing_{model}_change", args=[obj.pk])
    before = (Account.objects.count(), Transaction.objects.count(), Entry.objects.count())

    # when
    add = admin_client.get(reverse(f"admin:billing_{model}_add"))
    add_post = admin_client.post(reverse(f"admin:billing_{model}_add"), {})
    view = admin_client.get(change_url)
    change_post = admin_client.post(change_url, form_fields(view))
    delete = admin_client.get(reverse(f"admin:billing_{model}_delete", args=[obj.pk]))
    delete_post = admin_client.post(reverse(f"admin:billing_{model}_delete", args=[obj.pk]), {"post": "yes"})
    changelist = admin_client.get(reverse(f"admin:billing_{model}_changelist"))

    # then
    assert (add.status_code, add_post.status_code) == (403, 403)
    assert view.status_code == 200
    assert 'name="_save"' not in view.content.decode()
    assert change_post.status_code == 403
    assert (delete.status_code, delete_post.status_code) == (403, 403)
    assert changelist.status_code == 200
    assert "delete_selected" not in _action_choices(changelist)
    assert reverse(f"admin:billing_{model}_add") not in changelist.content.decode()
    assert (Account.objects.count(), Transaction.objects.count(), Entry.objects.count()) == before


def test_transaction_page_shows_its_entries(admin_client, adjustment, customer):
    # given / when
    response = admin_client.get(reverse("admin:billing_transaction_change", args=[adjustment.pk]))

    # then
    page = response.content.decode()
    assert response.status_code == 200
    assert f"Balance of {customer.name}" in page
    assert "Manual adjustments" in page
    assert [str(f.original.amount.amount) for f in response.context["inline_admin_formsets"][0]] == [
        "-40.0000",
        "40.0000",
    ]


def test_account_list_shows_balance_and_display_balance(admin_client, adjustment, customer):
    # given / when
    response = admin_client.get(reverse("admin:billing_account_changelist"), {"kind": "customer"})

    # then: a customer's account is credit-normal; its raw balance is -40, its display balance 40
    page = response.content.decode()
    assert [a.code for a in response.context["cl"].result_list] == [f"customer:{customer.pk}"]
    assert "RUB 40.00" in page


def test_system_account_shows_its_whole_cached_balance(admin_client, adjustment):
    # given the adjustments account, whose balance lives in balance slots (system accounts have no hot row)
    account = Account.objects.get(kind=Account.Kind.ADJUSTMENTS)
    assert account.balance.amount == 0

    # when
    listing = admin_client.get(reverse("admin:billing_account_changelist"), {"kind": "adjustments"})
    detail = admin_client.get(reverse("admin:billing_account_change", args=[account.pk]))

    # then both pages show the 40.00 debited to it (the customer was credited 40.00)
    assert [a.total_balance.amount for a in listing.context["cl"].result_list] == [Decimal("40.0000")]
    assert "RUB 40.00" in listing.content.decode()
    assert detail.status_code == 200
    assert "RUB 40.00" in detail.content.decode()


def test_reverse_action_asks_for_a_reason_then_reverses(admin_client, adjustment, customer):
    # given
    data = {"action": "reverse_transactions", "_selected_action": [adjustment.pk], "index": 0}

    # when the action is chosen, an intermediate page asks for the reason
    confirm = admin_client.post(TRANSACTIONS_URL, data)
    assert confirm.status_code == 200
    assert Transaction.objects.count() == 1
    fields = form_fields(confirm, None)
    assert fields["reason"] == "Reversed in admin by root"
    fields["reason"] = "Posted to the wrong customer"
    response = admin_client.post(TRANSACTIONS_URL, fields, follow=True)

    # then
    reversal = Transaction.objects.get(reverses=adjustment)
    assert (reversal.kind, reversal.description, reversal.created_by, reversal.customer_id) == (
        "reversal",
        "Posted to the wrong customer",
        "root",
        customer.pk,
    )
    assert sorted(e.amount.amount for e in reversal.entries.all()) == [Decimal("-40.0000"), Decimal("40.0000")]
    assert customer_balance(customer=customer).amount == Decimal("0.00")
    assert f"Transaction #{adjustment.pk} reversed by #{reversal.pk}." in " ".join(shown_messages(response))


def test_reversing_twice_posts_one_reversal(admin_client, adjustment):
    # given
    data = {"action": "reverse_transactions", "_selected_action": [adjustment.pk], "apply": "yes", "reason": "Mistake"}
    admin_client.post(TRANSACTIONS_URL, data)

    # when
    response = admin_client.post(TRANSACTIONS_URL, data, follow=True)

    # then
    assert Transaction.objects.filter(reverses=adjustment).count() == 1
    assert Transaction.objects.count() == 2
    assert "was already reversed by" in " ".join(shown_messages(response))


def test_reverse_without_a_reason_posts_nothing(admin_client, adjustment):
    # given / when
    response = admin_client.post(
        TRANSACTIONS_URL,
        {"action": "reverse_transactions", "_selected_action": [adjustment.pk], "apply": "yes", "reason": "  "},
    )

    # then
    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == ["This field is required."]
    assert Transaction.objects.count() == 1


def test_support_cannot_reverse(group_client, adjustment):
    # given
    client = group_client("Support")

    # when
    changelist = client.get(TRANSACTIONS_URL)
    client.post(
        TRANSACTIONS_URL,
        {"action": "reverse_transactions", "_selected_action": [adjustment.pk], "apply": "yes", "reason": "Mistake"},
    )

    # then
    assert changelist.status_code == 200
    assert "reverse_transactions" not in _action_choices(changelist)
    assert Transaction.objects.count() == 1


def test_accountant_can_reverse(group_client, adjustment):
    # given
    client = group_client("Accountant")
    assert "reverse_transactions" in _action_choices(client.get(TRANSACTIONS_URL))

    # when
    client.post(
        TRANSACTIONS_URL,
        {"action": "reverse_transactions", "_selected_action": [adjustment.pk], "apply": "yes", "reason": "Mistake"},
    )

    # then
    assert Transaction.objects.get(reverses=adjustment).created_by == "accountant"


def test_redeliver_action_puts_an_event_back_in_the_outbox(admin_client, adjustment):
    # given every event delivered
    outbox_dispatch()
    event = Event.objects.get(type="transaction.posted")
    assert event.dispatched_at is not None
    assert EventDelivery.objects.filter(event=event).exists()

    # when
    response = admin_client.post(
        reverse("admin:billing_event_changelist"),
        {"action": "redeliver", "_selected_action": [event.pk], "index": 0},
        follow=True,
    )

    # then
    event.refresh_from_db()
    assert (event.dispatched_at, event.attempts, event.last_error) == (None, 0, "")
    assert not EventDelivery.objects.filter(event=event).exists()
    assert Event.objects.exclude(pk=event.pk).filter(dispatched_at=None).count() == 0
    assert "1 event will be delivered again." in " ".join(shown_messages(response))


def test_accountant_sees_events_but_cannot_redeliver(group_client, adjustment):
    # given
    outbox_dispatch()
    client = group_client("Accountant")
    event = Event.objects.get(type="transaction.posted")

    # when
    changelist = client.get(reverse("admin:billing_event_changelist"), {"delivery": "dispatched"})
    client.post(
        reverse("admin:billing_event_changelist"), {"action": "redeliver", "_selected_action": [event.pk], "index": 0}
    )

    # then
    assert changelist.status_code == 200
    assert len(changelist.context["cl"].result_list) == 2  # customer.created and transaction.posted
    assert "redeliver" not in _action_choices(changelist)
    event.refresh_from_db()
    assert event.dispatched_at is not None
