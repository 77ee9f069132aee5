"""The estimate against the run: what `upcoming_charges_estimate` says for a customer, and what the next billing run
then records, in comparable shapes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from billing.models import Customer
from plans.models import Charge
from plans.services.estimates import UpcomingCharge, upcoming_charges_estimate
from plans.services.posting import line_json
from tests.plans.support import run_billing


def estimated(estimate: UpcomingCharge) -> tuple[list[dict], Decimal]:
    """The estimate's lines as the run stores them (Charge.lines), and its total."""
    return [line_json(x) for x in estimate.lines], estimate.total


def posted(charges: list[Charge]) -> tuple[list[dict], Decimal]:
    """The lines of the charges a run recorded, in order, and their total."""
    return [x for c in charges for x in c.lines], sum((c.amount.amount for c in charges), Decimal(0))


def estimate_then_run(
    customer: Customer, *, run_at: dt.datetime, estimate_at: dt.datetime | None = None
) -> tuple[list[UpcomingCharge], dict[int, list[Charge]]]:
    """The customer's estimate (at `estimate_at`, by default the run's instant), then a billing run at `run_at`: the
    estimates and, per subscription, the charges the run recorded."""
    estimates = upcoming_charges_estimate(customer_id=customer.pk, at=estimate_at or run_at)
    before = list(Charge.objects.values_list("pk", flat=True))
    run_billing(run_at)
    recorded: dict[int, list[Charge]] = {e.subscription_id: [] for e in estimates}
    for c in Charge.objects.filter(subscription__customer=customer).exclude(pk__in=before).order_by("pk"):
        recorded.setdefault(c.subscription_id, []).append(c)
    return estimates, recorded


def assert_estimate_is_what_the_run_posted(estimates: list[UpcomingCharge], recorded: dict[int, list[Charge]]):
    assert [e.subscription_id for e in estimates] == sorted(recorded)
    for e in estimates:
        assert estimated(e) == posted(recorded[e.subscription_id]), e.subscription_id
