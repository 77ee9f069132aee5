"""Actions on a subscription whose period has ended but which the billing run has not renewed yet (issue: they
answered 500, `ValueError: <day> is outside [period]`, from the period's end until the run came). They answer
409 `renewal_pending` and write nothing; cancelling at period end still works."""

from __future__ import annotations

import pytest
import yaml
from rest_framework.test import APIClient

from plans.models import Subscription
from tests.api.helpers import assert_problem
from tests.api.v1.catalog_fixtures import msk
from tests.api.v1.subscriptions.helpers import _action, _create, _rows

# the period [Apr 1, May 1) has ended on May 1 (Moscow); no run has renewed it
ACTIONS = [
    ("change", {"plan": "pro", "preview": True}),
    ("change", {"plan": "pro"}),
    ("cancel", {}),
    ("pause", {}),
    ("options", {"code": "backup"}),
]


@pytest.mark.parametrize(("action", "body"), ACTIONS, ids=[f"{a}-{i}" for i, (a, _) in enumerate(ACTIONS)])
@pytest.mark.parametrize("day", [msk(2026, 5, 1, 0), msk(2026, 5, 1, 9), msk(2026, 6, 20)])
def test_an_action_after_the_period_ended_answers_409_and_writes_nothing(api, customer, catalog, action, body, day):
    # given a subscription whose period ended and is not renewed yet
    sub_id = _create(api, customer, msk(2026, 4, 1)).json()["id"]
    before = _rows()

    # when
    response = _action(api, sub_id, action, day, body)

    # then
    problem = assert_problem(response, 409, "renewal_pending")
    assert problem["period_end"] == "2026-05-01"
    assert _rows() == before


def test_cancel_at_period_end_still_works_after_the_period_ended(api, customer, catalog):
    # given
    sub_id = _create(api, customer, msk(2026, 4, 1)).json()["id"]

    # when
    response = _action(api, sub_id, "cancel", msk(2026, 5, 1, 9), {"at_period_end": True})

    # then
    assert response.status_code == 200, response.content
    assert Subscription.objects.get(pk=sub_id).cancel_at_period_end is True


@pytest.mark.django_db
def test_the_schema_documents_renewal_pending_on_every_action():
    # when
    schema = yaml.safe_load(APIClient().get("/api/v1/schema/").content)

    # then
    for path, operations in schema["paths"].items():
        if path.startswith("/api/v1/subscriptions/{subscription_id}/") and "post" in operations:
            assert "renewal_pending" in operations["post"]["responses"]["409"]["description"], path
