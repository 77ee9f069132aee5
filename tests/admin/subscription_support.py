"""Shared by the tests of the subscription pages of the admin: a small catalog, a funded customer, clients per group,
row counts (a refused form writes nothing) and the ledger legs of a transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.test import Client
from django.urls import reverse

from billing.models import Entry, Event, Transaction
from billing.money_fields import amount_str
from plans.models import Charge, Coupon, ScheduledChange, Subscription, SubscriptionDiscount, SubscriptionOption
from tests.factories.catalog import funded_customer, make_coupon, make_option, make_plan, make_product

MSK = dt.timezone(dt.timedelta(hours=3))


def msk(year: int, month: int, day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=MSK)


def make_catalog() -> dict:
    """start (1000.00 RUB a month) and pro (3000.00) of one product, yearly (another period), a recurring option
    backup (300.00) of the product, an option of another product, a 10% coupon SAVE10."""
    product = make_product("office", "Office")
    return {
        "start": make_plan("start", "1000.00", product=product, name="Start"),
        "pro": make_plan("pro", "3000.00", product=product, name="Pro"),
        "yearly": make_plan("yearly", "10000.00", product=product, name="Yearly", interval="year"),
        "backup": make_option("backup", "300.00", product=product),
        "foreign": make_option("foreign", "50.00"),
        "coupon": make_coupon("SAVE10", percent="10"),
    }


def prepaid_customer(balance: str = "10000.00"):
    """A prepaid customer whose balance covers every charge of the tests (the prepaid rule refuses the others)."""
    return funded_customer(balance, name="Romashka")


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rows() -> dict[str, int]:
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
    } | {"coupon_redemptions": sum(Coupon.objects.values_list("times_redeemed", flat=True))}


def legs(transaction_id: int) -> list[tuple[str, str]]:
    return sorted(
        (e.account.code, amount_str(e.amount.amount, e.amount.currency.code))
        for e in Entry.objects.filter(transaction_id=transaction_id).select_related("account")
    )


def page_url(sub: Subscription, page: str) -> str:
    return reverse(f"admin:plans_subscription_{page}", args=[sub.pk])


def line_amounts(lines) -> list[tuple[str, str]]:
    """(kind, amount) of lines as the API and the pages show them (dicts of plans.api.common.line_out)."""
    return [(x["kind"], x["amount"]) for x in lines]


def rub(amount: str) -> str:
    """An amount in roubles as the admin shows it in English (billing.money.format_money)."""
    from billing.money import format_money

    return format_money(Decimal(amount), "RUB", language="en")
