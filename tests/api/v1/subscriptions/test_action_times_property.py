"""Property (issue 9, item 1): whatever the subscription and whenever the action (before, at, just after or long
after a period boundary, renewed by a run or not, in three time zones), every subscription action answers 2xx or
a 4xx its operation documents in the OpenAPI schema, never a 500, and the ledger stays balanced.

Before the fix, a change, its preview, a cancel or a pause between a period's end and its renewal raised
`ValueError: <day> is outside [period]` and answered 500.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
import time_machine
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from plans.models import Subscription
from tests.api.helpers import post
from tests.factories.catalog import funded_customer
from tests.plans.support import (
    balances_differing_from_entries,
    run_billing,
    transactions_without_entries,
    unbalanced_transactions,
)

SUBSCRIPTIONS = "/api/v1/subscriptions/"
ZONES = ["Europe/Moscow", "Asia/Vladivostok", "America/New_York"]
PLANS = ["start", "yearly", "trial", "setup"]

# (operation path in the schema, url suffix, body)
ACTIONS = [
    ("/change/", "change/", {"plan": "pro", "preview": True}),
    ("/change/", "change/", {"plan": "pro"}),
    ("/change/", "change/", {"quantity": 3}),
    ("/change/", "change/", {"plan": "pro", "when": "period_end"}),
    ("/cancel/", "cancel/", {}),
    ("/cancel/", "cancel/", {"at_period_end": True}),
    ("/pause/", "pause/", {}),
    ("/resume/", "resume/", {}),
    ("/options/", "options/", {"code": "backup"}),
    ("/options/", "options/", {"code": "migration"}),
    ("/options/{code}/remove/", "options/backup/remove/", {}),
]

# where the action falls, relative to the end of the subscription's first period
OFFSETS = [
    dt.timedelta(days=-3),
    dt.timedelta(minutes=-1),
    dt.timedelta(0),
    dt.timedelta(seconds=1),
    dt.timedelta(hours=5),
    dt.timedelta(days=40),
    dt.timedelta(days=400),
]


@pytest.fixture(scope="module")
def documented(django_db_setup, django_db_blocker) -> dict[str, set[int]]:
    """Per subscription action (by the path's tail), the statuses its operation documents."""
    with django_db_blocker.unblock():
        schema = yaml.safe_load(APIClient().get("/api/v1/schema/").content)
    out = {}
    for path, operations in schema["paths"].items():
        match = re.fullmatch(r"/api/v1/subscriptions/\{subscription_id\}(/.*)", path)
        if match and "post" in operations:
            out[match.group(1)] = {int(status) for status in operations["post"]["responses"]}
    return out


@pytest.mark.slow
@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    zone=st.sampled_from(ZONES),
    plan=st.sampled_from(PLANS),
    start=st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2026, 12, 31)),
    funded=st.booleans(),
    renewed_by_run=st.booleans(),
    with_option=st.booleans(),
    action=st.sampled_from(ACTIONS),
    offset=st.sampled_from(OFFSETS),
)
def test_every_action_at_any_time_answers_2xx_or_a_documented_4xx_and_keeps_the_ledger_balanced(
    api, catalog, documented, zone, plan, start, funded, renewed_by_run, with_option, action, offset
):
    # given a subscription started at a random instant in the customer's zone (examples add up in the test's
    # transaction, each with its own customer)
    customer = funded_customer("100000.00" if funded else "0", timezone=zone)
    started = start.replace(tzinfo=zoneinfo.ZoneInfo(zone))
    with time_machine.travel(started, tick=False):
        created = post(api, SUBSCRIPTIONS, {"customer_id": customer.pk, "plan": plan})
    assert created.status_code < 500, created.content
    if created.status_code != 201:
        assert created.status_code in documented_create(), created.content
        return
    sub = Subscription.objects.get(pk=created.json()["id"])
    if with_option:
        with time_machine.travel(started, tick=False):
            post(api, f"{SUBSCRIPTIONS}{sub.pk}/options/", {"code": "backup"})
    boundary = dt.datetime.combine(sub.current_period_end, dt.time(), zoneinfo.ZoneInfo(zone))
    at = boundary + offset
    if renewed_by_run and at > boundary:
        run_billing(at)

    # when
    operation, suffix, body = action
    with time_machine.travel(at, tick=False):
        response = post(api, f"{SUBSCRIPTIONS}{sub.pk}/{suffix}", body)

    # then
    assert response.status_code < 500, response.content
    assert response.status_code in documented[operation], (operation, response.status_code, response.content)
    assert unbalanced_transactions() == []
    assert transactions_without_entries() == []
    assert balances_differing_from_entries() == []


def documented_create() -> set[int]:
    schema = yaml.safe_load(APIClient().get("/api/v1/schema/").content)
    return {int(status) for status in schema["paths"]["/api/v1/subscriptions/"]["post"]["responses"]}
