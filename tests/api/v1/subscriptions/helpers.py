"""Helpers shared by the subscriptions API tests: row counts, ledger legs, a create and an action at a day."""

from __future__ import annotations

import time_machine

from billing.models import Entry, Event, Transaction
from billing.money_fields import amount_str
from plans.models import Charge, ScheduledChange, Subscription, SubscriptionDiscount, SubscriptionOption
from tests.api.helpers import post

SUBSCRIPTIONS = "/api/v1/subscriptions/"


def _rows() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (
            Subscription,
            SubscriptionOption,
            SubscriptionDiscount,
            ScheduledChange,
            Charge,
            Transaction,
            Entry,
            Event,
        )
    }


def _entries(transaction_id: int) -> list[tuple[str, str]]:
    return sorted(
        (e.account.code, amount_str(e.amount.amount, "RUB"))
        for e in Entry.objects.filter(transaction_id=transaction_id).select_related("account")
    )


def _create(client, customer, day, key=None, **body):
    with time_machine.travel(day, tick=False):
        return post(client, SUBSCRIPTIONS, {"customer_id": customer.pk, "plan": "start", **body}, key=key)


def _action(client, sub_id: int, action: str, day, body=None, **kw):
    with time_machine.travel(day, tick=False):
        return post(client, f"{SUBSCRIPTIONS}{sub_id}/{action}/", body or {}, **kw)
