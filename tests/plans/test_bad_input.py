"""Bad input to the subscription and usage services: the specific error class with its field, and
nothing written (subscriptions, options, discounts, scheduled changes, charges, ledger transactions
and entries, events, usage events, coupon redemptions are counted before and after)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from billing.errors import CustomerClosed, CustomerNotFound
from billing.services.customers import customer_close
from plans.errors import (
    CouponInvalid,
    CurrencyMismatch,
    InvalidQuantity,
    InvalidSubscriptionState,
    OptionNotAllowed,
    OptionNotFound,
    PlanNotFound,
    SubscriptionNotFound,
)
from plans.models import Subscription
from plans.services.subscriptions import (
    subscription_cancel,
    subscription_change_plan,
    subscription_change_preview,
    subscription_create,
    subscription_option_add,
    subscription_option_remove,
    subscription_pause,
    subscription_resume,
)
from plans.services.usage import MAX_BATCH, InvalidUsageBatch, UsageEventIn, parse_usage_events, usage_record_batch
from tests.factories.catalog import (
    funded_customer,
    make_coupon,
    make_metric,
    make_option,
    make_plan,
    make_product,
)
from tests.plans.support import D, balance, msk, written

pytestmark = pytest.mark.django_db

AT = msk(2026, 4, 10)


@pytest.fixture
def world():
    """A catalog with traps, a funded customer and one active subscription on basic (April paid)."""
    product, other = make_product("crm"), make_product("mail")
    basic = make_plan("basic", "900.00", product=product)
    pro = make_plan("pro", "1500.00", product=product)
    make_plan("euro", "10.00", currency="EUR", product=product)  # no RUB price
    make_plan("weekly", "250.00", interval="week", product=product)
    make_plan("retired", "500.00", product=product, is_active=False)
    make_plan("arrears", "900.00", product=product, charge_timing="in_arrears")
    make_option("backup", "300.00", product=product, max_quantity=5)
    make_option("inbox", "100.00", product=other)  # another product's option
    make_option("pro-only", "100.00", product=product, plans=[pro])
    make_option("dollar", "5.00", currency="USD", product=product)  # no RUB price
    make_option("old", "100.00", product=product, is_active=False)
    make_coupon("EXPIRED", percent="10", expires_at=msk(2026, 4, 1))
    make_coupon("USED-UP", percent="10", max_redemptions=0)
    make_coupon("OFF", percent="10", is_active=False)
    make_coupon("LATER", percent="10", valid_from=msk(2026, 5, 1))
    make_coupon("ENDED", percent="10", valid_until=msk(2026, 4, 1))
    make_coupon("PRO-ONLY", percent="10", plans=[pro])
    make_coupon("DOLLARS", amount="5.00", currency="USD")
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="basic", options=[("backup", 1)], at=msk(2026, 4, 1))
    return {"customer": customer, "sub": sub, "basic": basic, "pro": pro}


def assert_refused(call, error: type[Exception], field: str | None, customer=None):
    """`call()` raises exactly `error` pointing at `field`, and writes nothing."""
    before = written()
    money = balance(customer) if customer is not None else None
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error
    assert info.value.field == field
    assert written() == before
    if customer is not None:
        assert balance(customer) == money
    return info.value


# --- create --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "error", "field"),
    [
        ({"plan_code": "nope"}, PlanNotFound, "plan"),
        ({"plan_code": "retired"}, PlanNotFound, "plan"),  # inactive plans take no new subscriptions
        ({"currency": "USD"}, CurrencyMismatch, "currency"),  # the customer is billed in RUB
        ({"currency": "rub"}, None, None),  # (sanity row: lower case is the customer's currency, accepted)
        ({"plan_code": "euro"}, CurrencyMismatch, "plan"),  # no price in RUB
        ({"quantity": 0}, InvalidQuantity, "quantity"),
        ({"quantity": -1}, InvalidQuantity, "quantity"),
        ({"quantity": 1.5}, InvalidQuantity, "quantity"),
        ({"quantity": "2"}, InvalidQuantity, "quantity"),
        ({"quantity": True}, InvalidQuantity, "quantity"),
        ({"quantity": 1_000_001}, InvalidQuantity, "quantity"),
        ({"trial_days": -1}, InvalidQuantity, "trial_days"),
        ({"options": [("nope", 1)]}, OptionNotFound, "options"),
        ({"options": [("old", 1)]}, OptionNotFound, "options"),  # inactive option
        ({"options": [("backup", 0)]}, InvalidQuantity, "options.quantity"),
        ({"options": [("backup", -3)]}, InvalidQuantity, "options.quantity"),
        ({"options": [("backup", 6)]}, InvalidQuantity, "options.quantity"),  # max 5
        ({"options": [("inbox", 1)]}, OptionNotAllowed, "options"),  # another product's option
        ({"options": [("pro-only", 1)]}, OptionNotAllowed, "options"),
        ({"options": [("dollar", 1)]}, CurrencyMismatch, "options"),
        ({"options": [("backup", 1), ("backup", 2)]}, OptionNotAllowed, "options"),
        ({"coupon_code": "NOPE"}, CouponInvalid, "coupon"),
        ({"coupon_code": "EXPIRED"}, CouponInvalid, "coupon"),
        ({"coupon_code": "USED-UP"}, CouponInvalid, "coupon"),
        ({"coupon_code": "OFF"}, CouponInvalid, "coupon"),
        ({"coupon_code": "LATER"}, CouponInvalid, "coupon"),
        ({"coupon_code": "ENDED"}, CouponInvalid, "coupon"),
        ({"coupon_code": "PRO-ONLY"}, CouponInvalid, "coupon"),
        ({"coupon_code": "DOLLARS"}, CouponInvalid, "coupon"),  # a fixed discount in another currency
        # a valid option followed by a bad coupon: the option row and the subscription are rolled back too
        ({"options": [("backup", 1)], "coupon_code": "EXPIRED"}, CouponInvalid, "coupon"),
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else None,
)
def test_create_refuses_bad_input_and_writes_nothing(world, overrides, error, field):
    customer = world["customer"]
    kwargs = {"customer_id": customer.pk, "plan_code": "basic", "at": AT, **overrides}
    if error is None:
        assert subscription_create(**kwargs).currency == "RUB"
        return
    assert_refused(lambda: subscription_create(**kwargs), error, field, customer)


def test_create_for_an_unknown_customer_is_refused(world):
    assert_refused(lambda: subscription_create(customer_id=10**9, plan_code="basic", at=AT), CustomerNotFound, None)


def test_create_for_a_closed_customer_is_refused(world):
    closed = funded_customer("0", name="Gone")
    customer_close(customer_id=closed.pk)
    assert_refused(lambda: subscription_create(customer_id=closed.pk, plan_code="basic", at=AT), CustomerClosed, None)


def test_an_exhausted_coupon_is_refused_after_its_last_redemption(world):
    # given a coupon with one redemption left, used by another customer
    make_coupon("ONE-LEFT", percent="10", max_redemptions=1)
    subscription_create(
        customer_id=funded_customer("5000.00", name="First").pk, plan_code="basic", coupon_code="ONE-LEFT", at=AT
    )

    # when / then
    customer = world["customer"]
    assert_refused(
        lambda: subscription_create(customer_id=customer.pk, plan_code="basic", coupon_code="ONE-LEFT", at=AT),
        CouponInvalid,
        "coupon",
        customer,
    )


def test_a_coupon_is_refused_at_the_instant_it_expires(world):
    make_coupon("UNTIL-NOON", percent="10", expires_at=AT)
    customer = world["customer"]
    assert_refused(
        lambda: subscription_create(customer_id=customer.pk, plan_code="basic", coupon_code="UNTIL-NOON", at=AT),
        CouponInvalid,
        "coupon",
        customer,
    )
    # a second earlier it was still valid
    sub = subscription_create(
        customer_id=customer.pk, plan_code="basic", coupon_code="UNTIL-NOON", at=AT - dt.timedelta(seconds=1)
    )
    assert sub.discounts.count() == 1


# --- changes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"plan_code": "nope"}, PlanNotFound, "plan"),
        ({"plan_code": "retired"}, PlanNotFound, "plan"),
        ({"plan_code": "euro"}, CurrencyMismatch, "plan"),
        ({"quantity": 0}, InvalidQuantity, "quantity"),
        ({"quantity": -2}, InvalidQuantity, "quantity"),
        ({"quantity": 2.0}, InvalidQuantity, "quantity"),
        ({"plan_code": "basic"}, InvalidSubscriptionState, "plan"),  # already on basic × 1
        ({"plan_code": "basic", "quantity": 1}, InvalidSubscriptionState, "plan"),
        ({"plan_code": "weekly"}, InvalidSubscriptionState, "when"),  # another billing period: at period end only
        ({"plan_code": "arrears"}, InvalidSubscriptionState, "when"),  # billed in arrears: at period end only
        ({"plan_code": "pro", "when": "tomorrow"}, InvalidSubscriptionState, "when"),
        ({"plan_code": "nope", "when": "period_end"}, PlanNotFound, "plan"),
        ({"quantity": -1, "when": "period_end"}, InvalidQuantity, "quantity"),
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else None,
)
def test_change_refuses_bad_input_and_writes_nothing(world, kwargs, error, field):
    sub, customer = world["sub"], world["customer"]
    assert_refused(lambda: subscription_change_plan(subscription_id=sub.pk, at=AT, **kwargs), error, field, customer)
    if kwargs.get("when") is None:
        assert_refused(lambda: subscription_change_preview(subscription_id=sub.pk, at=AT, **kwargs), error, field)
    sub.refresh_from_db()
    assert (sub.plan.code, sub.quantity) == ("basic", 1)


@pytest.mark.parametrize(
    "action",
    [
        "change",
        "change_at_period_end",
        "preview",
        "pause",
        "resume",
        "add_option",
        "remove_option",
        "cancel_at_period_end",
    ],
)
def test_nothing_but_a_repeated_cancel_is_accepted_on_a_canceled_subscription(world, action):
    # given a subscription canceled on April 10
    sub, customer = world["sub"], world["customer"]
    subscription_cancel(subscription_id=sub.pk, at=AT)
    later = AT + dt.timedelta(days=1)
    calls = {
        "change": lambda: subscription_change_plan(subscription_id=sub.pk, plan_code="pro", at=later),
        "change_at_period_end": lambda: subscription_change_plan(
            subscription_id=sub.pk, plan_code="pro", when="period_end", at=later
        ),
        "preview": lambda: subscription_change_preview(subscription_id=sub.pk, plan_code="pro", at=later),
        "pause": lambda: subscription_pause(subscription_id=sub.pk, at=later),
        "resume": lambda: subscription_resume(subscription_id=sub.pk, at=later),
        "add_option": lambda: subscription_option_add(subscription_id=sub.pk, option_code="backup", at=later),
        "remove_option": lambda: subscription_option_remove(subscription_id=sub.pk, option_code="backup", at=later),
        "cancel_at_period_end": lambda: subscription_cancel(subscription_id=sub.pk, at_period_end=True, at=later),
    }

    # when / then
    error = assert_refused(calls[action], InvalidSubscriptionState, None, customer)
    assert error.extra == {"status": "canceled"}
    assert Subscription.objects.get(pk=sub.pk).status == "canceled"


@pytest.mark.parametrize("action", ["change", "add_option", "cancel_at_period_end"])
def test_a_paused_subscription_refuses_changes(world, action):
    sub, customer = world["sub"], world["customer"]
    subscription_pause(subscription_id=sub.pk, at=AT)
    calls = {
        "change": (lambda: subscription_change_plan(subscription_id=sub.pk, plan_code="pro", at=AT), None),
        "add_option": (lambda: subscription_option_add(subscription_id=sub.pk, option_code="backup", at=AT), None),
        "cancel_at_period_end": (
            lambda: subscription_cancel(subscription_id=sub.pk, at_period_end=True, at=AT),
            "at_period_end",
        ),
    }
    call, field = calls[action]
    assert_refused(call, InvalidSubscriptionState, field, customer)


def test_unknown_subscription_and_another_customers_subscription_are_not_found(world):
    sub, customer = world["sub"], world["customer"]
    stranger = funded_customer("0", name="Stranger")
    for call in (
        lambda: subscription_change_plan(subscription_id=10**9, plan_code="pro", at=AT),
        lambda: subscription_change_preview(subscription_id=10**9, plan_code="pro", at=AT),
        lambda: subscription_cancel(subscription_id=10**9, at=AT),
        lambda: subscription_change_plan(subscription_id=sub.pk, plan_code="pro", customer_scope=stranger.pk, at=AT),
        lambda: subscription_change_preview(subscription_id=sub.pk, plan_code="pro", customer_scope=stranger.pk, at=AT),
        lambda: subscription_cancel(subscription_id=sub.pk, customer_scope=stranger.pk, at=AT),
        lambda: subscription_pause(subscription_id=sub.pk, customer_scope=stranger.pk, at=AT),
        lambda: subscription_option_add(
            subscription_id=sub.pk, option_code="backup", customer_scope=stranger.pk, at=AT
        ),
    ):
        assert_refused(call, SubscriptionNotFound, None, customer)


# --- options -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "quantity", "error", "field"),
    [
        ("nope", 1, OptionNotFound, "options"),
        ("old", 1, OptionNotFound, "options"),
        ("inbox", 1, OptionNotAllowed, "options"),
        ("pro-only", 1, OptionNotAllowed, "options"),
        ("dollar", 1, CurrencyMismatch, "options"),
        ("backup", 1, OptionNotAllowed, "options"),  # already on the subscription
        ("pro-only", 0, InvalidQuantity, "options.quantity"),
        ("pro-only", -1, InvalidQuantity, "options.quantity"),
    ],
)
def test_option_add_refuses_bad_input_and_writes_nothing(world, code, quantity, error, field):
    sub, customer = world["sub"], world["customer"]
    assert_refused(
        lambda: subscription_option_add(subscription_id=sub.pk, option_code=code, quantity=quantity, at=AT),
        error,
        field,
        customer,
    )


@pytest.mark.parametrize("code", ["nope", "inbox", "pro-only"])
def test_option_remove_of_an_option_not_on_the_subscription_is_refused(world, code):
    sub, customer = world["sub"], world["customer"]
    assert_refused(
        lambda: subscription_option_remove(subscription_id=sub.pk, option_code=code, at=AT),
        OptionNotFound,
        "option",
        customer,
    )


def test_option_removed_twice_is_refused_the_second_time(world):
    sub, customer = world["sub"], world["customer"]
    subscription_option_remove(subscription_id=sub.pk, option_code="backup", at=AT)
    assert_refused(
        lambda: subscription_option_remove(subscription_id=sub.pk, option_code="backup", at=AT),
        OptionNotFound,
        "option",
        customer,
    )


# --- usage batches -------------------------------------------------------------------------------

TS = "2026-04-10T12:00:00+03:00"


def event(owner: int, index: int = 0, **overrides) -> dict:
    raw = {"event_id": f"ev-{index}", "customer_id": owner, "metric": "api_calls", "quantity": "1", "timestamp": TS}
    raw.update(overrides)
    return {k: v for k, v in raw.items() if v is not _MISSING}


_MISSING = object()


@pytest.fixture
def usage_world(world):
    make_metric("api_calls")
    return world


def fields_of(error: InvalidUsageBatch) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in error.errors]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"event_id": _MISSING}, "events.0.event_id"),
        ({"event_id": ""}, "events.0.event_id"),
        ({"event_id": 42}, "events.0.event_id"),
        ({"event_id": "x" * 256}, "events.0.event_id"),
        ({"customer_id": _MISSING}, "events.0.customer_id"),
        ({"customer_id": "7"}, "events.0.customer_id"),
        ({"customer_id": True}, "events.0.customer_id"),
        ({"customer_id": 7.0}, "events.0.customer_id"),
        ({"metric": _MISSING}, "events.0.metric"),
        ({"metric": ""}, "events.0.metric"),
        ({"metric": 5}, "events.0.metric"),
        ({"quantity": "-1"}, "events.0.quantity"),
        ({"quantity": -0.5}, "events.0.quantity"),
        ({"quantity": 1.5}, "events.0.quantity"),  # floats are refused: money and usage are decimal strings
        ({"quantity": "abc"}, "events.0.quantity"),
        ({"quantity": "NaN"}, "events.0.quantity"),
        ({"quantity": "Infinity"}, "events.0.quantity"),
        ({"quantity": "0.0000001"}, "events.0.quantity"),  # at most 6 decimals
        ({"quantity": "1000000000001"}, "events.0.quantity"),  # above 1e12
        ({"quantity": None}, "events.0.quantity"),
        ({"quantity": True}, "events.0.quantity"),
        ({"timestamp": _MISSING}, "events.0.timestamp"),
        ({"timestamp": "2026-04-10T12:00:00"}, "events.0.timestamp"),  # no time zone
        ({"timestamp": "yesterday"}, "events.0.timestamp"),
        ({"timestamp": 1775811600}, "events.0.timestamp"),
        ({"timestamp": "2026-02-30T12:00:00+03:00"}, "events.0.timestamp"),  # well formed, not a date
        ({"timestamp": "2026-04-10T25:00:00+03:00"}, "events.0.timestamp"),
        ({"properties": ["a"]}, "events.0.properties"),
        ({"properties": "x"}, "events.0.properties"),
    ],
    ids=lambda v: repr(v)[:60] if isinstance(v, dict) else v,
)
def test_parse_usage_events_names_the_bad_field(usage_world, overrides, field):
    customer = usage_world["customer"]
    before = written()
    with pytest.raises(InvalidUsageBatch) as info:
        parse_usage_events([event(customer.pk, **overrides)])
    assert fields_of(info.value) == [(field, "invalid")]
    assert info.value.extra["errors"] == info.value.errors
    assert written() == before


@pytest.mark.parametrize("raw", [None, {}, "events", 3])
def test_parse_usage_events_needs_a_list(raw):
    with pytest.raises(InvalidUsageBatch) as info:
        parse_usage_events(raw)
    assert fields_of(info.value) == [("events", "not_a_list")]


def test_parse_usage_events_lists_every_bad_event_with_its_index(usage_world):
    customer = usage_world["customer"]
    raw = [
        event(customer.pk, 0),
        "not an object",
        event(customer.pk, 2, quantity="-5", timestamp="nope"),
        event(customer.pk, 3),
    ]
    with pytest.raises(InvalidUsageBatch) as info:
        parse_usage_events(raw)
    assert fields_of(info.value) == [
        ("events.1", "invalid"),
        ("events.2.quantity", "invalid"),
        ("events.2.timestamp", "invalid"),
    ]


def test_parse_usage_events_accepts_a_well_formed_batch(usage_world):
    customer = usage_world["customer"]
    parsed = parse_usage_events(
        [event(customer.pk, 0, quantity="2.5", properties={"ip": "1"}), event(customer.pk, 1, quantity=_MISSING)]
    )
    assert [(e.event_id, e.quantity, e.timestamp, e.properties) for e in parsed] == [
        ("ev-0", D("2.5"), msk(2026, 4, 10), {"ip": "1"}),
        ("ev-1", D("1"), msk(2026, 4, 10), {}),
    ]


def _events(customer_id: int, n: int, *, metric: str = "api_calls", start: int = 0) -> list[UsageEventIn]:
    return [
        UsageEventIn(f"ev-{i}", customer_id, metric, Decimal(1), msk(2026, 4, 10), {}) for i in range(start, start + n)
    ]


def test_usage_batch_records_then_counts_duplicates(usage_world):
    # the positive control for the refusals below: a good batch writes its events, a replay writes none
    customer = usage_world["customer"]
    first = usage_record_batch(events=_events(customer.pk, 3))
    again = usage_record_batch(events=_events(customer.pk, 4))
    assert (first.received, first.accepted, first.duplicates) == (3, 3, 0)
    assert (again.received, again.accepted, again.duplicates) == (4, 1, 3)
    assert written()["usage_events"] == 4


def _batch(case: str, customer_id: int, stranger_id: int, closed_id: int) -> tuple[list[UsageEventIn], dict]:
    good = _events(customer_id, 3)
    if case == "empty":
        return [], {}
    if case == "too_many":
        return _events(customer_id, MAX_BATCH + 1), {}
    if case == "duplicate_in_batch":
        return [*good, good[1]], {}
    if case == "unknown_metric":
        return [*good, *_events(customer_id, 1, metric="nope", start=3)], {}
    if case == "unknown_customer":
        return [*good, *_events(10**9, 1, start=3)], {}
    if case == "closed_customer":
        return [*good, *_events(closed_id, 1, start=3)], {}
    if case == "foreign_customer":
        return [*good, *_events(stranger_id, 1, start=3)], {"customer_scope": customer_id}
    raise AssertionError(case)


@pytest.mark.parametrize(
    ("case", "errors"),
    [
        ("empty", [("events", "empty")]),
        ("too_many", [("events", "too_many")]),
        ("duplicate_in_batch", [("events.3.event_id", "duplicate_in_batch")]),
        ("unknown_metric", [("events.3.metric", "unknown_metric")]),
        ("unknown_customer", [("events.3.customer_id", "not_found")]),
        ("closed_customer", [("events.3.customer_id", "not_found")]),
        ("foreign_customer", [("events.3.customer_id", "not_found")]),  # outside the caller's scope
    ],
)
def test_usage_batch_refuses_the_whole_batch_and_writes_nothing(usage_world, case, errors):
    customer = usage_world["customer"]
    stranger = funded_customer("0", name="Stranger")
    closed = funded_customer("0", name="Closed")
    customer_close(customer_id=closed.pk)
    events, kwargs = _batch(case, customer.pk, stranger.pk, closed.pk)
    before = written()

    with pytest.raises(InvalidUsageBatch) as info:
        usage_record_batch(events=events, **kwargs)

    assert fields_of(info.value) == errors
    assert written() == before


def test_usage_batch_of_exactly_the_limit_is_accepted(usage_world):
    customer = usage_world["customer"]
    result = usage_record_batch(events=_events(customer.pk, MAX_BATCH))
    assert (result.received, result.accepted) == (MAX_BATCH, MAX_BATCH)
