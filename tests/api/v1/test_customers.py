"""Customers: create, read, update, close, list with filters and cursor pagination, caller scoping."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from billing.models import Customer, Event
from billing.services.customers import customer_balance_adjust, customer_close
from tests.api.helpers import LEGAL_ENTITY, SOLE_PROPRIETOR, assert_problem, post, row_counts

CUSTOMERS = "/api/v1/customers/"


def test_create_legal_entity(api):
    # given
    body = {
        **LEGAL_ENTITY,
        "billing_emails": ["buh@romashka.ru"],
        "credit_limit": "1500.50",
        "tags": ["vip"],
        "external_id": "crm-1",
        "metadata": {"segment": "smb"},
        "timezone": "Asia/Yekaterinburg",
    }

    # when
    response = post(api, CUSTOMERS, body)

    # then
    assert response.status_code == 201, response.content
    data = response.json()
    customer = Customer.objects.get()
    assert data["id"] == customer.pk
    assert data["kind"] == "legal_entity"
    assert data["inn"] == "7701234560" and data["kpp"] == "770101001" and data["ogrn"] == "1257700012349"
    assert data["credit_limit"] == "1500.50"
    assert data["currency"] == "RUB"
    assert data["status"] == "active"
    assert data["billing_emails"] == ["buh@romashka.ru"]
    assert data["tags"] == ["vip"]
    assert data["external_id"] == "crm-1"
    assert data["metadata"] == {"segment": "smb"}
    assert data["timezone"] == "Asia/Yekaterinburg"
    assert customer.credit_limit.amount == Decimal("1500.50")
    assert list(Event.objects.values_list("type", flat=True)) == ["customer.created"]


def test_create_sole_proprietor(api):
    # when
    response = post(api, CUSTOMERS, SOLE_PROPRIETOR)

    # then
    assert response.status_code == 201, response.content
    assert response.json()["ogrn"] == "325770000123460"
    assert Customer.objects.get().kind == Customer.Kind.SOLE_PROPRIETOR


def test_create_minimal_individual_defaults(api):
    # when
    response = post(api, CUSTOMERS, {"name": "Jane", "currency": "usd"})

    # then
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["kind"], data["currency"], data["credit_limit"], data["external_id"]) == (
        "individual",
        "USD",
        "0.00",
        None,
    )


def test_get_customer(api, customer):
    # when
    response = api.get(f"{CUSTOMERS}{customer.pk}/")

    # then
    assert response.status_code == 200
    assert response.json()["name"] == "Acme"


def test_get_unknown_customer_is_404_problem(api):
    # when
    response = api.get(f"{CUSTOMERS}999999/")

    # then
    assert_problem(response, 404, "customer_not_found")


def test_patch_changes_only_sent_fields(api, make_customer):
    # given
    customer = make_customer(name="Old", tags=["a"], credit_limit=Decimal("10"))

    # when
    response = api.patch(f"{CUSTOMERS}{customer.pk}/", {"name": "New", "credit_limit": "250.00"}, format="json")

    # then
    assert response.status_code == 200, response.content
    customer.refresh_from_db()
    assert (customer.name, customer.tags, customer.credit_limit.amount) == ("New", ["a"], Decimal("250.00"))
    assert response.json()["credit_limit"] == "250.00"
    assert Event.objects.filter(type="customer.updated").count() == 1


def test_patch_invalid_inn_is_400_and_nothing_changes(api, customer):
    # given
    before = row_counts()

    # when
    response = api.patch(f"{CUSTOMERS}{customer.pk}/", {"inn": "7701234561"}, format="json")

    # then
    assert_problem(response, 400, "validation_error", field="inn")
    customer.refresh_from_db()
    assert customer.inn == ""
    assert row_counts() == before


def test_patch_currency_is_refused(api, customer):
    # when
    response = api.patch(f"{CUSTOMERS}{customer.pk}/", {"currency": "USD"}, format="json")

    # then
    body = assert_problem(response, 400, "validation_error", field="currency")
    assert body["errors"][0]["code"] == "read_only"
    customer.refresh_from_db()
    assert customer.currency == "RUB"


def test_patch_duplicate_external_id_is_field_error(api, make_customer):
    # given
    make_customer(name="A", external_id="x-1")
    other = make_customer(name="B")
    before = row_counts()

    # when
    response = api.patch(f"{CUSTOMERS}{other.pk}/", {"external_id": "x-1"}, format="json")

    # then
    assert_problem(response, 400, "validation_error", field="external_id")
    assert row_counts() == before


def test_patch_closed_customer_is_422(api, customer):
    # given
    customer_close(customer_id=customer.pk)

    # when
    response = api.patch(f"{CUSTOMERS}{customer.pk}/", {"name": "Zombie"}, format="json")

    # then
    assert_problem(response, 422, "customer_closed")


# --- billing model --------------------------------------------------------------------------


def test_create_a_postpaid_customer(api, time_machine):
    # given the clock at May 4, 2026, 22:00 UTC (May 5 in Moscow)
    time_machine.move_to(dt.datetime(2026, 5, 4, 22, tzinfo=dt.UTC), tick=False)

    # when
    response = post(api, CUSTOMERS, {"name": "Jane", "currency": "RUB", "billing_model": "postpaid"})

    # then it is postpaid since its creation day in UTC; creating is not a switch
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["billing_model"], data["postpaid_since"]) == ("postpaid", "2026-05-04")
    customer = Customer.objects.get()
    assert (customer.billing_model, customer.postpaid_since) == ("postpaid", dt.date(2026, 5, 4))
    assert list(Event.objects.values_list("type", flat=True)) == ["customer.created"]


def test_a_customer_is_created_prepaid_by_default(api):
    # when
    response = post(api, CUSTOMERS, {"name": "Jane", "currency": "RUB"})

    # then
    assert (response.json()["billing_model"], response.json()["postpaid_since"]) == ("prepaid", None)


def test_patch_switches_the_billing_model(api, customer, time_machine):
    # given a prepaid customer
    Event.objects.all().delete()

    # when switched to postpaid on Jun 1, 2026
    time_machine.move_to(dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC), tick=False)
    response = api.patch(f"{CUSTOMERS}{customer.pk}/", {"billing_model": "postpaid"}, format="json")

    # then
    assert response.status_code == 200, response.content
    assert (response.json()["billing_model"], response.json()["postpaid_since"]) == ("postpaid", "2026-06-01")
    assert api.get(f"{CUSTOMERS}{customer.pk}/").json()["postpaid_since"] == "2026-06-01"
    assert [(e.type, e.payload) for e in Event.objects.order_by("pk")] == [
        (
            "customer.billing_model_changed",
            {"customer_id": customer.pk, "from": "prepaid", "to": "postpaid", "postpaid_since": "2026-06-01"},
        )
    ]

    # when switched back to prepaid
    response = api.patch(f"{CUSTOMERS}{customer.pk}/", {"billing_model": "prepaid"}, format="json")

    # then
    assert response.status_code == 200, response.content
    assert (response.json()["billing_model"], response.json()["postpaid_since"]) == ("prepaid", None)
    customer.refresh_from_db()
    assert (customer.billing_model, customer.postpaid_since) == ("prepaid", None)
    assert Event.objects.filter(type="customer.billing_model_changed").count() == 2


@pytest.mark.parametrize("value", ["credit", "Postpaid", "", None, 1])
def test_patch_an_unknown_billing_model_is_a_field_error_and_nothing_changes(api, customer, value):
    # given
    before = row_counts()

    # when
    response = api.patch(f"{CUSTOMERS}{customer.pk}/", {"billing_model": value, "name": "Renamed"}, format="json")

    # then
    body = assert_problem(response, 400, "validation_error", field="billing_model")
    assert [e["field"] for e in body["errors"]] == ["billing_model"]
    customer.refresh_from_db()
    assert (customer.name, customer.billing_model, customer.postpaid_since) == ("Acme", "prepaid", None)
    assert row_counts() == before


def test_create_with_an_unknown_billing_model_is_a_field_error_and_writes_nothing(api):
    # when
    response = post(api, CUSTOMERS, {"name": "Jane", "currency": "RUB", "billing_model": "credit"})

    # then
    body = assert_problem(response, 400, "validation_error", field="billing_model")
    assert body["errors"] == [
        {"field": "billing_model", "code": "invalid_choice", "message": '"credit" is not a valid choice.'}
    ]
    assert row_counts() == {"Customer": 0, "Transaction": 0, "Entry": 0, "Event": 0, "IdempotencyRecord": 0}


@pytest.mark.parametrize(
    "send",
    [
        lambda api, customer: api.patch(f"{CUSTOMERS}{customer.pk}/", {"postpaid_since": "2026-01-01"}, format="json"),
        lambda api, customer: post(
            api,
            CUSTOMERS,
            {"name": "Jane", "currency": "RUB", "billing_model": "postpaid", "postpaid_since": "2026-01-01"},
        ),
    ],
)
def test_postpaid_since_is_read_only(api, customer, send):
    # given
    before = row_counts()

    # when
    response = send(api, customer)

    # then
    body = assert_problem(response, 400, "validation_error", field="postpaid_since")
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("postpaid_since", "read_only")]
    assert row_counts() == before
    assert Customer.objects.get().postpaid_since is None


def test_close_customer(api, customer):
    # when
    response = post(api, f"{CUSTOMERS}{customer.pk}/close/")

    # then
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "closed"
    assert response.json()["closed_at"] is not None
    customer.refresh_from_db()
    assert customer.status == Customer.Status.CLOSED


def test_close_with_open_balance_is_422_and_nothing_written(api, customer, unique_key):
    # given
    customer_balance_adjust(
        customer_id=customer.pk, amount=Decimal("1.00"), direction="credit", reason="gift", key=unique_key()
    )
    before = row_counts()

    # when
    response = post(api, f"{CUSTOMERS}{customer.pk}/close/")

    # then
    assert_problem(response, 422, "balance_not_zero")
    assert row_counts() == before
    customer.refresh_from_db()
    assert customer.status == Customer.Status.ACTIVE


def test_list_filters(api, make_customer):
    # given
    acme = make_customer(name="Acme", tags=["vip"], billing_emails=["a@acme.test"])
    make_customer(name="Globex", currency="USD")
    closed = make_customer(name="Initech")
    customer_close(customer_id=closed.pk)

    # when
    by_status = api.get(CUSTOMERS, {"status": "closed"}).json()["results"]
    by_currency = api.get(CUSTOMERS, {"currency": "usd"}).json()["results"]
    by_tag = api.get(CUSTOMERS, {"tag": "vip"}).json()["results"]
    by_email = api.get(CUSTOMERS, {"email": "A@acme.test"}).json()["results"]
    by_name = api.get(CUSTOMERS, {"name": "glob"}).json()["results"]

    # then
    assert [c["name"] for c in by_status] == ["Initech"]
    assert [c["name"] for c in by_currency] == ["Globex"]
    assert [c["id"] for c in by_tag] == [acme.pk]
    assert [c["id"] for c in by_email] == [acme.pk]
    assert [c["name"] for c in by_name] == ["Globex"]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"status": "sleeping"}, "status"),
        ({"kind": "robot"}, "kind"),
        ({"created_after": "yesterday"}, "created_after"),
    ],
)
def test_invalid_filter_is_400_problem(api, customer, params, field):
    # when
    response = api.get(CUSTOMERS, params)

    # then
    assert_problem(response, 400, "validation_error", field=field)


def test_cursor_pagination_walks_every_customer_once(api, make_customer):
    # given
    ids = [make_customer(name=f"C{i}").pk for i in range(5)]

    # when
    seen, pages, url = [], 0, f"{CUSTOMERS}?limit=2"
    while url:
        page = api.get(url).json()
        seen += [c["id"] for c in page["results"]]
        pages += 1
        url = page["next"]

    # then
    assert seen == sorted(ids, reverse=True)
    assert pages == 3


def test_invalid_cursor_is_a_400_field_error(api, customer):
    # when
    response = api.get(CUSTOMERS, {"cursor": "garbage"})

    # then
    assert_problem(response, 400, "validation_error", "cursor")


def test_restricted_key_sees_only_its_customer(make_client, make_customer):
    # given
    mine = make_customer(name="Mine")
    theirs = make_customer(name="Theirs")
    client = make_client(customer=mine)

    # when
    listed = client.get(CUSTOMERS).json()["results"]
    own = client.get(f"{CUSTOMERS}{mine.pk}/")
    foreign = [
        client.get(f"{CUSTOMERS}{theirs.pk}/"),
        client.get(f"{CUSTOMERS}{theirs.pk}/balance/"),
        client.get(f"{CUSTOMERS}{theirs.pk}/transactions/"),
        client.patch(f"{CUSTOMERS}{theirs.pk}/", {"name": "Hijacked"}, format="json"),
    ]

    # then
    assert [c["id"] for c in listed] == [mine.pk]
    assert own.status_code == 200
    for response in foreign:
        assert_problem(response, 404, "customer_not_found")
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"


def test_restricted_key_cannot_write_to_another_customer_and_nothing_is_written(make_client, make_customer):
    # given
    mine = make_customer(name="Mine")
    theirs = make_customer(name="Theirs")
    client = make_client(customer=mine)
    before = row_counts()

    # when
    adjust = post(
        client, f"{CUSTOMERS}{theirs.pk}/adjustments/", {"direction": "credit", "amount": "10.00", "reason": "gift"}
    )
    close = post(client, f"{CUSTOMERS}{theirs.pk}/close/")
    create = post(client, CUSTOMERS, {"name": "Another", "currency": "RUB"})

    # then
    assert_problem(adjust, 404, "customer_not_found")
    assert_problem(close, 404, "customer_not_found")
    assert_problem(create, 403, "customer_scope")
    assert row_counts() == before


def test_create_with_its_seller_and_closing_documents_and_refuse_an_unknown_seller(api):
    from tests.factories.sellers import seller_create

    # given a seller
    seller = seller_create()

    # when a customer is created served by it, on УПД, paying by bank transfer under a contract
    body = {
        **LEGAL_ENTITY,
        "seller_id": seller.pk,
        "closing_documents": "upd",
        "pays_by_bank_transfer": True,
        "contract_number": "Д-17",
        "contract_date": "2026-01-15",
    }
    response = post(api, CUSTOMERS, body)

    # then it is stored and shown
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["seller_id"], data["closing_documents"], data["pays_by_bank_transfer"], data["contract_number"]) == (
        seller.pk,
        "upd",
        True,
        "Д-17",
    )
    assert Customer.objects.get().seller_id == seller.pk

    # and an unknown seller is a field error, nothing written
    refused = post(api, CUSTOMERS, {**LEGAL_ENTITY, "inn": "5003123458", "seller_id": 999999}, key="other")
    assert_problem(refused, 400, field="seller_id")
    assert Customer.objects.count() == 1
