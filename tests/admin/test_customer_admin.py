"""The customer card in the admin: created and edited through the customer services, validated by the model's
check rules, never deleted, closed through customer_close."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.urls import reverse

from billing import events
from billing.models import Account, Customer, Event, Transaction
from billing.services.customers import customer_balance_adjust, customer_close
from tests.admin.helpers import form_fields, shown_messages

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:billing_customer_add")
CHANGELIST_URL = reverse("admin:billing_customer_changelist")


def change_url(customer) -> str:
    return reverse("admin:billing_customer_change", args=[customer.pk])


def close_url(customer) -> str:
    return reverse("admin:billing_customer_close", args=[customer.pk])


def _add_form(client, **values) -> dict:
    data = form_fields(client.get(ADD_URL), "customer_form")
    data.update(values)
    return data


def test_add_customer_goes_through_customer_create(admin_client):
    # given the add form as rendered
    data = _add_form(
        admin_client,
        kind="legal_entity",
        name="ООО Ромашка",
        inn="7701234560",
        kpp="770101001",
        ogrn="1257700012349",
        currency="RUB",
        credit_limit_amount="250.50",
        billing_emails="a@example.com,b@example.com",
        tags="vip,partner",
        external_id="crm-42",
    )

    # when
    response = admin_client.post(ADD_URL, data)

    # then the customer, its balance account and its customer.created event are written
    assert response.status_code == 302
    customer = Customer.objects.get()
    assert (customer.name, customer.kind, customer.inn, customer.kpp, customer.ogrn) == (
        "ООО Ромашка",
        "legal_entity",
        "7701234560",
        "770101001",
        "1257700012349",
    )
    assert customer.credit_limit.amount == Decimal("250.5000")
    assert customer.credit_limit.currency.code == "RUB"
    assert customer.billing_emails == ["a@example.com", "b@example.com"]
    assert customer.tags == ["vip", "partner"]
    assert customer.external_id == "crm-42"
    account = Account.objects.get()
    assert (account.kind, account.code, account.currency, account.balance.amount) == (
        "customer",
        f"customer:{customer.pk}",
        "RUB",
        Decimal("0"),
    )
    event = Event.objects.get()
    assert (event.type, event.customer_id) == (events.CUSTOMER_CREATED, customer.pk)
    assert LogEntry.objects.get().action_flag == ADDITION


def test_add_customer_without_external_id_stores_null(admin_client):
    # given two customers without an external id (the column is unique, so blank must be NULL)
    for name in ("First", "Second"):
        response = admin_client.post(ADD_URL, _add_form(admin_client, name=name, currency="EUR"))
        assert response.status_code == 302

    # then
    assert list(Customer.objects.order_by("pk").values_list("name", "external_id", "currency")) == [
        ("First", None, "EUR"),
        ("Second", None, "EUR"),
    ]


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"inn": "7701234561"}, "inn", "ИНН check digits do not match."),
        ({"kpp": "77010100"}, "kpp", "КПП must be 4 digits, 2 digits or capital letters, 3 digits."),
        ({"ogrn": "1257700012340"}, "ogrn", "ОГРН check digit does not match."),
    ],
)
def test_invalid_requisites_show_form_errors_and_write_nothing(admin_client, values, field, message):
    # given a legal entity with one broken identifier
    data = _add_form(
        admin_client,
        kind="legal_entity",
        name="ООО Ромашка",
        inn="7701234560",
        kpp="770101001",
        ogrn="1257700012349",
        currency="RUB",
    )
    data.update(values)

    # when
    response = admin_client.post(ADD_URL, data)

    # then the form is shown again with the error on its field
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field] == [message]
    assert message in response.content.decode()
    assert Customer.objects.count() == 0
    assert Account.objects.count() == 0
    assert Event.objects.count() == 0
    assert LogEntry.objects.count() == 0


def test_negative_credit_limit_is_a_form_error(admin_client):
    # given / when
    response = admin_client.post(ADD_URL, _add_form(admin_client, name="Anna", credit_limit_amount="-1"))

    # then
    assert response.status_code == 200
    assert "credit_limit_amount" in response.context["adminform"].form.errors
    assert Customer.objects.count() == 0
    assert Event.objects.count() == 0


def test_change_goes_through_customer_update(admin_client, make_customer):
    # given
    customer = make_customer(name="Anna", credit_limit=Decimal("10.00"))
    data = form_fields(admin_client.get(change_url(customer)), "customer_form")
    assert data["credit_limit_amount"] == "10.0000"
    assert "currency" not in data  # the currency of a customer is fixed once its account exists

    # when
    data.update(name="Anna Petrova", phone="+79990000000", credit_limit_amount="20.00")
    response = admin_client.post(change_url(customer), data)

    # then one customer.updated event names exactly the changed fields
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.name, customer.phone, customer.credit_limit.amount) == (
        "Anna Petrova",
        "+79990000000",
        Decimal("20.0000"),
    )
    event = Event.objects.get(type=events.CUSTOMER_UPDATED)
    assert sorted(event.payload["changed_fields"]) == ["credit_limit", "name", "phone"]


def test_change_with_invalid_inn_writes_nothing(admin_client, make_customer):
    # given
    customer = make_customer(name="Anna")
    data = form_fields(admin_client.get(change_url(customer)), "customer_form")

    # when an individual gets a broken ИНН
    data.update(inn="500100732258")
    response = admin_client.post(change_url(customer), data)

    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["inn"] == ["ИНН check digits do not match."]
    customer.refresh_from_db()
    assert customer.inn == ""
    assert not Event.objects.filter(type=events.CUSTOMER_UPDATED).exists()


def test_add_a_postpaid_customer(admin_client, time_machine):
    # given the add form, with postpaid chosen, on Apr 2, 2026
    time_machine.move_to(dt.datetime(2026, 4, 2, 10, tzinfo=dt.UTC), tick=False)
    page = admin_client.get(ADD_URL)
    assert form_fields(page, "customer_form")["billing_model"] == "prepaid"  # the default
    assert "postpaid_since" not in page.context["adminform"].form.fields

    # when
    response = admin_client.post(ADD_URL, _add_form(admin_client, name="Anna", billing_model="postpaid"))

    # then customer_create made it postpaid since its creation day; creating is no switch
    assert response.status_code == 302
    customer = Customer.objects.get()
    assert (customer.billing_model, customer.postpaid_since) == ("postpaid", dt.date(2026, 4, 2))
    assert list(Event.objects.values_list("type", flat=True)) == [events.CUSTOMER_CREATED]


def test_the_card_switches_the_billing_model_through_customer_update(admin_client, make_customer, time_machine):
    # given a prepaid customer's card
    customer = make_customer(name="Anna")
    Event.objects.all().delete()
    page = admin_client.get(change_url(customer))
    data = form_fields(page, "customer_form")
    assert data["billing_model"] == "prepaid"

    # when it is switched to postpaid on Apr 2, 2026
    time_machine.move_to(dt.datetime(2026, 4, 2, 10, tzinfo=dt.UTC), tick=False)
    response = admin_client.post(change_url(customer), {**data, "billing_model": "postpaid"})

    # then it is postpaid since that day, with one customer.billing_model_changed event and no customer.updated
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.billing_model, customer.postpaid_since) == ("postpaid", dt.date(2026, 4, 2))
    assert [(e.type, e.payload) for e in Event.objects.order_by("pk")] == [
        (
            events.CUSTOMER_BILLING_MODEL_CHANGED,
            {"customer_id": customer.pk, "from": "prepaid", "to": "postpaid", "postpaid_since": "2026-04-02"},
        )
    ]
    # and the card shows the day, read-only
    page = admin_client.get(change_url(customer))
    assert "postpaid_since" not in form_fields(page, "customer_form")
    assert "Postpaid since" in page.content.decode() and "April 2, 2026" in page.content.decode()

    # when switched back to prepaid
    data = form_fields(page, "customer_form")
    assert data["billing_model"] == "postpaid"
    response = admin_client.post(change_url(customer), {**data, "billing_model": "prepaid"})

    # then
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.billing_model, customer.postpaid_since) == ("prepaid", None)
    assert Event.objects.filter(type=events.CUSTOMER_BILLING_MODEL_CHANGED).count() == 2


def test_an_unknown_billing_model_is_a_form_error_and_writes_nothing(admin_client, make_customer):
    # given
    customer = make_customer(name="Anna")
    Event.objects.all().delete()
    data = form_fields(admin_client.get(change_url(customer)), "customer_form")

    # when
    response = admin_client.post(change_url(customer), {**data, "billing_model": "credit", "name": "Renamed"})

    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["billing_model"] == [
        "Select a valid choice. credit is not one of the available choices."
    ]
    customer.refresh_from_db()
    assert (customer.name, customer.billing_model, customer.postpaid_since) == ("Anna", "prepaid", None)
    assert Event.objects.count() == 0


def test_card_shows_balance_and_newest_transactions(admin_client, make_customer, unique_key):
    # given a customer with 52 adjustments
    customer = make_customer(name="Anna")
    for index in range(52):
        customer_balance_adjust(
            customer_id=customer.pk,
            amount=Decimal(f"{index + 1}.00"),
            direction="credit",
            reason=f"bonus {index + 1}",
            key=unique_key(),
        )
    newest = Transaction.objects.filter(customer=customer).order_by("-id")

    # when
    response = admin_client.get(change_url(customer))

    # then the balance is 1 + 2 + … + 52 = 1378.00 and only the newest 50 transactions are listed, newest first
    assert response.status_code == 200
    page = response.content.decode()
    assert "RUB 1,378.00" in page
    inline = response.context["inline_admin_formsets"][0]
    shown = [form.original.pk for form in inline]
    assert shown == [t.pk for t in newest[:50]]
    # each a credit to the customer's account, shown positive under Credit, nothing under Debit
    rows = [(inline.opts.debit(form.original), inline.opts.credit(form.original)) for form in inline]
    assert rows[0] == ("", "RUB 52.00") and rows[-1] == ("", "RUB 3.00")
    assert reverse("admin:billing_transaction_change", args=[newest[0].pk]) in page


def test_changelist_shows_balances_and_searches_emails_and_filters_tags(admin_client, make_customer, unique_key):
    # given
    anna = make_customer(name="Anna", billing_emails=["anna@example.com"], tags=["vip"])
    make_customer(name="Boris", billing_emails=["boris@example.com"], tags=["trial"])
    customer_balance_adjust(
        customer_id=anna.pk, amount=Decimal("12.50"), direction="credit", reason="gift", key=unique_key()
    )

    # when
    everyone = admin_client.get(CHANGELIST_URL)
    by_email = admin_client.get(CHANGELIST_URL, {"q": "anna@example"})
    by_tag = admin_client.get(CHANGELIST_URL, {"tag": "trial"})

    # then
    assert everyone.status_code == 200
    assert "RUB 12.50" in everyone.content.decode()
    assert [c.name for c in by_email.context["cl"].result_list] == ["Anna"]
    assert [c.name for c in by_tag.context["cl"].result_list] == ["Boris"]


def test_customers_cannot_be_deleted_even_by_a_superuser(admin_client, customer):
    # given / when
    delete_page = admin_client.get(reverse("admin:billing_customer_delete", args=[customer.pk]))
    changelist = admin_client.get(CHANGELIST_URL)

    # then
    assert delete_page.status_code == 403
    assert "delete_selected" not in dict(changelist.context["action_form"].fields["action"].choices)
    assert Customer.objects.filter(pk=customer.pk).exists()


def test_close_button_refuses_a_non_zero_balance(admin_client, customer, unique_key):
    # given
    customer_balance_adjust(
        customer_id=customer.pk, amount=Decimal("5.00"), direction="credit", reason="gift", key=unique_key()
    )
    assert admin_client.get(close_url(customer)).status_code == 200

    # when
    response = admin_client.post(close_url(customer), follow=True)

    # then
    assert "The customer's balance is 5.00 RUB; refund or write it off before closing." in " ".join(
        shown_messages(response)
    )
    customer.refresh_from_db()
    assert customer.status == Customer.Status.ACTIVE
    assert not Event.objects.filter(type=events.CUSTOMER_CLOSED).exists()


def test_close_button_closes_through_customer_close(admin_client, customer):
    # given the card offers the button
    assert close_url(customer) in admin_client.get(change_url(customer)).content.decode()

    # when
    response = admin_client.post(close_url(customer))

    # then
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.status == Customer.Status.CLOSED
    assert customer.closed_at is not None
    assert Event.objects.filter(type=events.CUSTOMER_CLOSED, customer=customer).count() == 1


def test_close_action_on_the_changelist(admin_client, make_customer, unique_key):
    # given one customer with money and one without
    rich = make_customer(name="Rich")
    empty = make_customer(name="Empty")
    customer_balance_adjust(
        customer_id=rich.pk, amount=Decimal("1.00"), direction="credit", reason="gift", key=unique_key()
    )

    # when
    response = admin_client.post(
        CHANGELIST_URL, {"action": "close_customers", "_selected_action": [rich.pk, empty.pk]}, follow=True
    )

    # then
    rich.refresh_from_db()
    empty.refresh_from_db()
    assert (rich.status, empty.status) == ("active", "closed")
    shown = " ".join(shown_messages(response))
    assert f"Empty (#{empty.pk}) is closed." in shown
    assert "The customer's balance is 1.00 RUB" in shown


def test_a_closed_customer_card_is_view_only(admin_client, customer):
    # given
    customer_close(customer_id=customer.pk)
    data = form_fields(admin_client.get(change_url(customer)), "customer_form")

    # when
    page = admin_client.get(change_url(customer))
    response = admin_client.post(change_url(customer), {**data, "name": "Renamed"})

    # then
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert reverse("admin:billing_customer_adjust_balance", args=[customer.pk]) not in page.content.decode()
    assert response.status_code == 403
    customer.refresh_from_db()
    assert customer.name == "Acme"


@pytest.mark.parametrize(("group", "switched"), [("Support", False), ("Accountant", True)])
def test_only_a_group_with_the_permission_switches_the_billing_model(group_client, customer, group, switched):
    # given a prepaid customer's card, seen by a Support or an Accountant user
    client = group_client(group)
    data = form_fields(client.get(change_url(customer)), "customer_form")
    assert ("billing_model" in data) is switched  # for Support it is shown read-only, not as a form field

    # when the card is posted with postpaid (Support forges the field) and a new phone number
    response = client.post(change_url(customer), {**data, "billing_model": "postpaid", "phone": "+70000000001"})

    # then the phone is saved, and the billing model only for the Accountant
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.phone == "+70000000001"
    assert customer.billing_model == ("postpaid" if switched else "prepaid")


def test_support_edits_a_customer_but_cannot_add_one(group_client, customer):
    # given
    client = group_client("Support")
    data = form_fields(client.get(change_url(customer)), "customer_form")

    # when
    edited = client.post(change_url(customer), {**data, "phone": "+70000000000"})
    add_page = client.get(ADD_URL)

    # then
    assert edited.status_code == 302
    customer.refresh_from_db()
    assert customer.phone == "+70000000000"
    assert add_page.status_code == 403
