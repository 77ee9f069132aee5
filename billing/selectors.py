"""Reads. Every read that serves the API or the portal takes the caller's scope explicitly."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import QuerySet
from moneyed import Money

from billing.errors import CustomerNotFound
from billing.models import Account, Customer, Transaction
from config.api.filters import filter_queryset


def customer_list(*, customer_scope: int | None, filters: dict | None = None) -> QuerySet[Customer]:
    """All customers, or only `customer_scope` when the caller is restricted to one customer."""
    from billing.filters import CustomerFilter

    qs = Customer.objects.all()
    if customer_scope is not None:
        qs = qs.filter(pk=customer_scope)
    if filters is not None:
        qs = filter_queryset(CustomerFilter, filters, qs)
    return qs


def customer_get(*, customer_id, customer_scope: int | None) -> Customer:
    try:
        return customer_list(customer_scope=customer_scope).get(pk=int(customer_id))
    except (Customer.DoesNotExist, ValueError, TypeError) as exc:
        raise CustomerNotFound(f"Customer {customer_id} not found.") from exc


def customer_balances(*, customer: Customer) -> list[Money]:
    """The customer's balances (positive: funds available), one per currency, main currency first."""
    accounts = Account.objects.filter(customer=customer, kind=Account.Kind.CUSTOMER).order_by("pk")
    balances = [Money(-a.balance.amount, a.currency) for a in accounts]
    if not any(b.currency.code == customer.currency for b in balances):
        balances.insert(0, Money(Decimal(0), customer.currency))
    balances.sort(key=lambda m: m.currency.code != customer.currency)
    return balances


def customer_balance(*, customer: Customer, currency: str | None = None) -> Money:
    currency = currency or customer.currency
    for money in customer_balances(customer=customer):
        if money.currency.code == currency:
            return money
    return Money(Decimal(0), currency)


def transaction_list(*, customer: Customer) -> QuerySet[Transaction]:
    return Transaction.objects.filter(customer=customer).prefetch_related("entries__account").order_by("-id")


def transaction_get(*, customer: Customer, transaction_id) -> Transaction:
    try:
        return transaction_list(customer=customer).get(pk=int(transaction_id))
    except (Transaction.DoesNotExist, ValueError, TypeError) as exc:
        from config.errors import NotFound

        raise NotFound(f"Transaction {transaction_id} not found.") from exc
