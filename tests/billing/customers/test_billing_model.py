"""A customer's billing model: prepaid or postpaid, switches and their events, refused values."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection

from billing import events
from billing.errors import CustomerClosed
from billing.models import Customer, Event
from billing.services.customers import customer_close, customer_create, customer_update
from tests.billing.customers.helpers import _error_fields, _nothing_written

pytestmark = pytest.mark.django_db


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


def test_a_customer_postpaid_since_an_earlier_day_keeps_that_day():
    # given a customer taken over from another system, postpaid since March
    customer = customer_create(name="Old", currency="RUB", billing_model="postpaid", postpaid_since=dt.date(2026, 3, 1))
    assert customer.postpaid_since == dt.date(2026, 3, 1)

    # a day in the future, or a day for a prepaid customer, is refused and nothing is written
    before = Customer.objects.count()
    for fields in (
        {"billing_model": "postpaid", "postpaid_since": dt.date.today() + dt.timedelta(days=2)},
        {"billing_model": "prepaid", "postpaid_since": dt.date(2026, 3, 1)},
    ):
        with pytest.raises(ValidationError) as info:
            customer_create(name="Bad", currency="RUB", **fields)
        assert "postpaid_since" in info.value.message_dict
    assert Customer.objects.count() == before
