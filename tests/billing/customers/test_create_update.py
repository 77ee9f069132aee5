"""Creating and updating customers through the services: validation per kind, outbox events."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from billing import events
from billing.models import Account, Customer, Event
from billing.services.customers import customer_close, customer_create, customer_update
from tests.billing.customers.helpers import _error_fields, _nothing_written

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
