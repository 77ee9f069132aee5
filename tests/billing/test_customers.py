"""Customer lifecycle through the services: create, update, close; validation per kind; outbox events."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection

from billing import events
from billing.errors import BalanceNotZero, CustomerClosed
from billing.models import Account, Customer, Entry, Event, Transaction
from billing.selectors import customer_balance
from billing.services.customers import customer_balance_adjust, customer_close, customer_create, customer_update

pytestmark = pytest.mark.django_db

LEGAL_ENTITY = {
    "kind": Customer.Kind.LEGAL_ENTITY,
    "name": "ООО Ромашка",
    "currency": "RUB",
    "inn": "7701234560",
    "kpp": "770101001",
    "ogrn": "1257700012349",
}
SOLE_PROPRIETOR = {
    "kind": Customer.Kind.SOLE_PROPRIETOR,
    "name": "ИП Иванов",
    "currency": "RUB",
    "inn": "771234567859",
    "ogrn": "325770000123460",  # valid (remainder 10 → 0) although stdnum rejects it
}


def _nothing_written():
    assert Customer.objects.count() == 0
    assert Account.objects.count() == 0
    assert Event.objects.count() == 0


def _error_fields(exc_info) -> set[str]:
    return set(exc_info.value.message_dict)


# --- create ---------------------------------------------------------------------------------


def test_create_individual_writes_customer_account_and_event():
    # given nothing
    # when
    customer = customer_create(
        name="Anna",
        currency="rub",
        credit_limit=Decimal("150.00"),
        billing_emails=["anna@example.com"],
        external_id="crm-1",
        tags=["vip"],
    )

    # then
    customer.refresh_from_db()
    assert customer.kind == Customer.Kind.INDIVIDUAL
    assert customer.currency == "RUB"
    assert customer.credit_limit.amount == Decimal("150.0000")
    assert customer.credit_limit.currency.code == "RUB"
    assert customer.status == Customer.Status.ACTIVE
    assert customer.timezone == "Europe/Moscow"
    account = Account.objects.get(customer=customer)
    assert (account.kind, account.code, account.currency, account.balance.amount) == (
        Account.Kind.CUSTOMER,
        f"customer:{customer.pk}",
        "RUB",
        Decimal("0"),
    )
    event = Event.objects.get()
    assert event.type == events.CUSTOMER_CREATED
    assert event.customer_id == customer.pk
    assert event.payload == {
        "customer_id": customer.pk,
        "external_id": "crm-1",
        "status": "active",
        "changed_fields": [],
    }
    assert event.dispatched_at is None


def test_create_legal_entity():
    # given / when
    customer = customer_create(**LEGAL_ENTITY)

    # then
    customer.refresh_from_db()
    assert (customer.inn, customer.kpp, customer.ogrn) == ("7701234560", "770101001", "1257700012349")
    assert Event.objects.filter(type=events.CUSTOMER_CREATED, customer=customer).count() == 1


def test_create_legal_entity_with_letters_in_kpp():
    # given / when
    customer = customer_create(**{**LEGAL_ENTITY, "kpp": "7701AB001"})

    # then
    assert Customer.objects.get(pk=customer.pk).kpp == "7701AB001"


def test_create_sole_proprietor_with_ogrnip_that_stdnum_rejects():
    # given / when
    customer = customer_create(**SOLE_PROPRIETOR)

    # then
    customer.refresh_from_db()
    assert (customer.inn, customer.kpp, customer.ogrn) == ("771234567859", "", "325770000123460")


@pytest.mark.parametrize(
    ("fields", "error_fields"),
    [
        ({**LEGAL_ENTITY, "inn": "771234567859"}, {"inn"}),  # a 12-digit ИНН on a legal entity
        ({**LEGAL_ENTITY, "inn": ""}, {"inn"}),
        ({**LEGAL_ENTITY, "inn": "7701234561"}, {"inn"}),  # check digit
        ({**LEGAL_ENTITY, "kpp": ""}, {"kpp"}),  # a legal entity needs a КПП
        ({**LEGAL_ENTITY, "kpp": "7701ab001"}, {"kpp"}),
        ({**LEGAL_ENTITY, "ogrn": "1257700012348"}, {"ogrn"}),
        ({**LEGAL_ENTITY, "ogrn": "325770000123459"}, {"ogrn"}),  # an ОГРНИП is not an ОГРН
        ({**SOLE_PROPRIETOR, "inn": "7701234560"}, {"inn"}),  # a 10-digit ИНН on a sole proprietor
        ({**SOLE_PROPRIETOR, "inn": "771234567858"}, {"inn"}),
        ({**SOLE_PROPRIETOR, "kpp": "770101001"}, {"kpp"}),  # a sole proprietor has no КПП
        ({**SOLE_PROPRIETOR, "ogrn": "325770000123458"}, {"ogrn"}),
        ({**SOLE_PROPRIETOR, "ogrn": "1257700012349"}, {"ogrn"}),  # an ОГРН is not an ОГРНИП
        ({"name": "Anna", "currency": "RUB", "kpp": "770101001"}, {"kpp"}),  # an individual has no КПП
        ({"name": "Anna", "currency": "RUB", "inn": "771234567858"}, {"inn"}),
        ({"name": "Anna", "currency": "RUB", "timezone": "Mars/Olympus"}, {"timezone"}),
        ({"name": "Anna", "currency": "RUB", "credit_limit": Decimal("-1.00")}, {"__all__"}),
        ({"name": "", "currency": "RUB"}, {"name"}),
    ],
)
def test_create_refuses_invalid_fields_and_writes_nothing(fields, error_fields):
    # given invalid fields for the customer's kind
    # when
    with pytest.raises(ValidationError) as exc_info:
        customer_create(**fields)

    # then
    assert error_fields <= _error_fields(exc_info)
    _nothing_written()


@pytest.mark.parametrize("currency", ["CHF", "ZZZ", ""])
def test_create_refuses_unknown_currency_and_writes_nothing(currency):
    # given a currency this installation does not bill in (CHF is ISO but not configured; ZZZ is not ISO)
    # when
    with pytest.raises(ValidationError) as exc_info:
        customer_create(name="Anna", currency=currency)

    # then
    assert "currency" in _error_fields(exc_info)
    _nothing_written()


def test_external_id_is_unique(make_customer):
    # given
    first = make_customer(external_id="crm-42")

    # when
    with pytest.raises(ValidationError) as exc_info:
        make_customer(name="Other", external_id="crm-42")

    # then
    assert "external_id" in _error_fields(exc_info)
    assert list(Customer.objects.values_list("pk", flat=True)) == [first.pk]
    assert Account.objects.count() == 1
    assert Event.objects.count() == 1


def test_many_customers_without_external_id(make_customer):
    # given / when
    make_customer(name="A")
    make_customer(name="B", external_id=None)

    # then
    assert Customer.objects.filter(external_id=None).count() == 2


def test_create_refuses_unknown_fields():
    # given / when / then
    with pytest.raises(TypeError):
        customer_create(name="Anna", currency="RUB", status="closed")
    _nothing_written()


# --- update ---------------------------------------------------------------------------------


def test_update_changes_fields_and_writes_event(customer):
    # given
    Event.objects.all().delete()

    # when
    updated = customer_update(
        customer_id=customer.pk, name="Acme Ltd", credit_limit=Decimal("500.00"), timezone="Asia/Yekaterinburg"
    )

    # then
    row = Customer.objects.get(pk=customer.pk)
    assert row.name == "Acme Ltd"
    assert row.credit_limit.amount == Decimal("500.0000")
    assert row.credit_limit.currency.code == "RUB"
    assert row.timezone == "Asia/Yekaterinburg"
    assert updated.name == "Acme Ltd"
    event = Event.objects.get()
    assert event.type == events.CUSTOMER_UPDATED
    assert event.customer_id == customer.pk
    assert event.payload["changed_fields"] == ["name", "credit_limit", "timezone"]


def test_update_without_change_writes_no_event(customer):
    # given
    Event.objects.all().delete()

    # when
    customer_update(customer_id=customer.pk, name="Acme")

    # then
    assert Event.objects.count() == 0


def test_update_refuses_invalid_value_and_writes_nothing(customer):
    # given
    Event.objects.all().delete()

    # when
    with pytest.raises(ValidationError) as exc_info:
        customer_update(customer_id=customer.pk, name="Renamed", timezone="Europe/Nowhere")

    # then
    assert "timezone" in _error_fields(exc_info)
    row = Customer.objects.get(pk=customer.pk)
    assert (row.name, row.timezone) == ("Acme", "Europe/Moscow")
    assert Event.objects.count() == 0


def test_update_to_legal_entity_requires_kpp(customer):
    # given an individual
    # when it becomes a legal entity without a КПП
    with pytest.raises(ValidationError) as exc_info:
        customer_update(customer_id=customer.pk, kind=Customer.Kind.LEGAL_ENTITY, inn="7701234560")

    # then
    assert "kpp" in _error_fields(exc_info)
    assert Customer.objects.get(pk=customer.pk).kind == Customer.Kind.INDIVIDUAL


# --- billing model --------------------------------------------------------------------------


def _switches() -> list[tuple[int, dict]]:
    return [
        (e.customer_id, e.payload)
        for e in Event.objects.filter(type=events.CUSTOMER_BILLING_MODEL_CHANGED).order_by("pk")
    ]


def test_a_customer_is_prepaid_unless_created_postpaid(customer):
    # then
    assert (customer.billing_model, customer.postpaid_since) == (Customer.BillingModel.PREPAID, None)


def test_create_postpaid_is_postpaid_from_its_creation_day(time_machine):
    # given the clock at Mar 3, 2026, 23:30 UTC (already Mar 4 in Moscow)
    time_machine.move_to(dt.datetime(2026, 3, 3, 23, 30, tzinfo=dt.UTC), tick=False)

    # when
    customer = customer_create(name="Anna", currency="RUB", billing_model="postpaid")

    # then it is postpaid since its creation day in UTC; creating is not a switch
    row = Customer.objects.get(pk=customer.pk)
    assert (row.billing_model, row.postpaid_since) == ("postpaid", dt.date(2026, 3, 3))
    assert row.postpaid_since == row.created_at.astimezone(dt.UTC).date()
    assert list(Event.objects.values_list("type", flat=True)) == [events.CUSTOMER_CREATED]


def test_switch_to_postpaid_and_back_sets_and_clears_postpaid_since_with_an_event_each(customer, time_machine):
    # given a prepaid customer
    Event.objects.all().delete()

    # when it switches to postpaid on Feb 10, 2026 (21:30 UTC: Feb 11 in Moscow, the day is UTC's)
    time_machine.move_to(dt.datetime(2026, 2, 10, 21, 30, tzinfo=dt.UTC), tick=False)
    switched = customer_update(customer_id=customer.pk, billing_model="postpaid")

    # then it is postpaid since Feb 10, announced by one customer.billing_model_changed and no customer.updated
    row = Customer.objects.get(pk=customer.pk)
    assert (row.billing_model, row.postpaid_since) == ("postpaid", dt.date(2026, 2, 10))
    assert (switched.billing_model, switched.postpaid_since) == ("postpaid", dt.date(2026, 2, 10))
    assert _switches() == [
        (customer.pk, {"customer_id": customer.pk, "from": "prepaid", "to": "postpaid", "postpaid_since": "2026-02-10"})
    ]
    assert Event.objects.count() == 1

    # when asked again to be postpaid (on Mar 1)
    time_machine.move_to(dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC), tick=False)
    customer_update(customer_id=customer.pk, billing_model="postpaid")

    # then nothing changes: it stays postpaid since Feb 10, no event
    assert Customer.objects.get(pk=customer.pk).postpaid_since == dt.date(2026, 2, 10)
    assert Event.objects.count() == 1

    # when it goes back to prepaid on Mar 5
    time_machine.move_to(dt.datetime(2026, 3, 5, 9, tzinfo=dt.UTC), tick=False)
    customer_update(customer_id=customer.pk, billing_model=Customer.BillingModel.PREPAID)

    # then postpaid_since is cleared, with a second event
    row = Customer.objects.get(pk=customer.pk)
    assert (row.billing_model, row.postpaid_since) == ("prepaid", None)
    assert _switches()[1:] == [
        (customer.pk, {"customer_id": customer.pk, "from": "postpaid", "to": "prepaid", "postpaid_since": None})
    ]
    assert Event.objects.count() == 2


def test_a_switch_with_other_changes_writes_both_events(customer, time_machine):
    # given
    Event.objects.all().delete()
    time_machine.move_to(dt.datetime(2026, 4, 1, 8, tzinfo=dt.UTC), tick=False)

    # when
    customer_update(customer_id=customer.pk, name="Acme Ltd", billing_model="postpaid")

    # then customer.updated names the other fields, customer.billing_model_changed tells the switch
    assert [(e.type, e.payload.get("changed_fields")) for e in Event.objects.order_by("pk")] == [
        (events.CUSTOMER_UPDATED, ["name"]),
        (events.CUSTOMER_BILLING_MODEL_CHANGED, None),
    ]
    row = Customer.objects.get(pk=customer.pk)
    assert (row.name, row.billing_model, row.postpaid_since) == ("Acme Ltd", "postpaid", dt.date(2026, 4, 1))


@pytest.mark.parametrize("value", ["credit", "POSTPAID", "", None, 1])
def test_update_refuses_an_unknown_billing_model_and_writes_nothing(customer, value):
    # given
    Event.objects.all().delete()

    # when
    with pytest.raises(ValidationError) as exc_info:
        customer_update(customer_id=customer.pk, name="Renamed", billing_model=value)

    # then a field error that names the choices, and nothing written (not even the name)
    assert exc_info.value.message_dict == {
        "billing_model": [f"{value!r} is not a billing model: use 'prepaid' or 'postpaid'."]
    }
    assert exc_info.value.error_dict["billing_model"][0].code == "invalid_choice"
    row = Customer.objects.get(pk=customer.pk)
    assert (row.name, row.billing_model, row.postpaid_since) == ("Acme", "prepaid", None)
    assert Event.objects.count() == 0


@pytest.mark.parametrize("value", ["credit", None])
def test_create_refuses_an_unknown_billing_model_and_writes_nothing(value):
    # when
    with pytest.raises(ValidationError) as exc_info:
        customer_create(name="Anna", currency="RUB", billing_model=value)

    # then
    assert _error_fields(exc_info) == {"billing_model"}
    _nothing_written()


def test_a_closed_customer_cannot_switch(customer):
    # given
    customer_close(customer_id=customer.pk)
    before = Event.objects.count()

    # when / then
    with pytest.raises(CustomerClosed):
        customer_update(customer_id=customer.pk, billing_model="postpaid")
    assert Customer.objects.get(pk=customer.pk).billing_model == "prepaid"
    assert Event.objects.count() == before


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE billing_customer SET billing_model = 'postpaid' WHERE id = %s",  # postpaid without a day
        "UPDATE billing_customer SET postpaid_since = '2026-01-01' WHERE id = %s",  # a day while prepaid
    ],
)
def test_the_database_refuses_a_postpaid_since_that_does_not_match_the_billing_model(sql):
    # given
    customer = customer_create(name="Anna", currency="RUB")

    # when / then
    with (
        pytest.raises(IntegrityError, match="customer_postpaid_since_matches_billing_model"),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [customer.pk])
    row = Customer.objects.get(pk=customer.pk)
    assert (row.billing_model, row.postpaid_since) == ("prepaid", None)


# --- close ----------------------------------------------------------------------------------


def test_close_with_zero_balance(customer):
    # given
    Event.objects.all().delete()

    # when
    closed = customer_close(customer_id=customer.pk)

    # then
    row = Customer.objects.get(pk=customer.pk)
    assert row.status == Customer.Status.CLOSED
    assert row.closed_at is not None
    assert closed.status == Customer.Status.CLOSED
    event = Event.objects.get()
    assert (event.type, event.customer_id, event.payload["status"]) == (events.CUSTOMER_CLOSED, customer.pk, "closed")


@pytest.mark.parametrize("direction", ["credit", "debit"])
def test_close_refuses_non_zero_balance_and_writes_nothing(make_customer, direction):
    # given a customer holding funds (credit) or owing within the credit limit (debit)
    customer = make_customer(credit_limit=Decimal("100.00"))
    customer_balance_adjust(
        customer_id=customer.pk, amount=Decimal("10.50"), direction=direction, reason="test", key=f"adj-{direction}"
    )
    events_before = Event.objects.count()

    # when
    with pytest.raises(BalanceNotZero) as exc_info:
        customer_close(customer_id=customer.pk)

    # then
    assert "10.5" in str(exc_info.value)
    row = Customer.objects.get(pk=customer.pk)
    assert (row.status, row.closed_at) == (Customer.Status.ACTIVE, None)
    assert Event.objects.count() == events_before
    assert not Event.objects.filter(type=events.CUSTOMER_CLOSED).exists()


def test_close_refuses_non_zero_balance_in_another_currency(customer):
    # given funds in USD on a RUB customer
    customer_balance_adjust(
        customer_id=customer.pk, amount=Decimal("1.00"), currency="USD", direction="credit", reason="usd", key="adj-usd"
    )

    # when
    with pytest.raises(BalanceNotZero):
        customer_close(customer_id=customer.pk)

    # then
    assert Customer.objects.get(pk=customer.pk).status == Customer.Status.ACTIVE


def test_close_after_balance_returns_to_zero(customer):
    # given
    customer_balance_adjust(
        customer_id=customer.pk, amount=Decimal("25.00"), direction="credit", reason="in", key="adj-in"
    )
    customer_balance_adjust(
        customer_id=customer.pk, amount=Decimal("25.00"), direction="debit", reason="out", key="adj-out"
    )
    assert customer_balance(customer=customer).amount == Decimal("0")

    # when
    customer_close(customer_id=customer.pk)

    # then
    assert Customer.objects.get(pk=customer.pk).status == Customer.Status.CLOSED


def test_close_twice_is_a_no_op(customer):
    # given
    customer_close(customer_id=customer.pk)
    first = Customer.objects.get(pk=customer.pk)
    events_before = Event.objects.count()

    # when
    again = customer_close(customer_id=customer.pk)

    # then
    row = Customer.objects.get(pk=customer.pk)
    assert again.status == Customer.Status.CLOSED
    assert row.closed_at == first.closed_at
    assert row.updated_at == first.updated_at
    assert Event.objects.count() == events_before
    assert Event.objects.filter(type=events.CUSTOMER_CLOSED).count() == 1


def test_closed_customer_cannot_be_updated(customer):
    # given
    customer_close(customer_id=customer.pk)
    events_before = Event.objects.count()

    # when
    with pytest.raises(CustomerClosed):
        customer_update(customer_id=customer.pk, name="Reopened?")

    # then
    assert Customer.objects.get(pk=customer.pk).name == "Acme"
    assert Event.objects.count() == events_before


@pytest.mark.parametrize("direction", ["credit", "debit"])
def test_closed_customer_cannot_be_adjusted(customer, direction):
    # given
    customer_close(customer_id=customer.pk)
    events_before = Event.objects.count()

    # when
    with pytest.raises(CustomerClosed):
        customer_balance_adjust(
            customer_id=customer.pk, amount=Decimal("1.00"), direction=direction, reason="late", key=f"late-{direction}"
        )

    # then
    assert Transaction.objects.count() == 0
    assert Entry.objects.count() == 0
    assert Event.objects.count() == events_before
    assert Account.objects.get(customer=customer).balance.amount == Decimal("0")


# --- events share the change's database transaction ----------------------------------------


def _xmin(table: str, pk: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT xmin::text::bigint FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_events_are_written_in_the_same_database_transaction_as_the_change():
    # given real commits (no test-wide transaction), so each service call is its own PostgreSQL transaction;
    # a row's xmin is the id of the transaction that wrote that version of it

    # when / then: created
    customer = customer_create(name="Anna", currency="RUB")
    created = Event.objects.get(type=events.CUSTOMER_CREATED)
    created_xid = _xmin("billing_customer", customer.pk)
    assert _xmin("billing_event", created.pk) == created_xid
    assert _xmin("billing_account", Account.objects.get(customer=customer).pk) == created_xid

    # when / then: updated
    customer_update(customer_id=customer.pk, name="Anna K.")
    updated = Event.objects.get(type=events.CUSTOMER_UPDATED)
    updated_xid = _xmin("billing_customer", customer.pk)
    assert updated_xid != created_xid
    assert _xmin("billing_event", updated.pk) == updated_xid

    # when / then: switched to postpaid
    customer_update(customer_id=customer.pk, billing_model="postpaid")
    switched = Event.objects.get(type=events.CUSTOMER_BILLING_MODEL_CHANGED)
    switched_xid = _xmin("billing_customer", customer.pk)
    assert switched_xid not in (created_xid, updated_xid)
    assert _xmin("billing_event", switched.pk) == switched_xid

    # when / then: closed
    customer_close(customer_id=customer.pk)
    closed = Event.objects.get(type=events.CUSTOMER_CLOSED)
    closed_xid = _xmin("billing_customer", customer.pk)
    assert closed_xid not in (created_xid, updated_xid, switched_xid)
    assert _xmin("billing_event", closed.pk) == closed_xid
