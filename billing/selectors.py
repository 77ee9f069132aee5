"""Reads. Every read that serves the API or the portal takes the caller's scope explicitly."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from moneyed import Money

from billing.errors import CustomerNotFound
from billing.models import Account, Customer, Transaction
from config.api.filters import filter_queryset
from config.db import prepared_cursor


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
        raise CustomerNotFound(_("Customer %(customer_id)s not found.") % {"customer_id": customer_id}) from exc


def customer_balances(*, customer: Customer) -> list[Money]:
    """The customer's balances (positive: funds available), one per currency, main currency first."""
    accounts = Account.objects.filter(customer=customer, kind=Account.Kind.CUSTOMER).order_by("pk")
    balances = [Money(-a.balance.amount, a.currency) for a in accounts]
    if not any(b.currency.code == customer.currency for b in balances):
        balances.insert(0, Money(Decimal(0), customer.currency))
    balances.sort(key=lambda m: m.currency.code != customer.currency)
    return balances


@dataclass(frozen=True)
class CustomerBalances:
    customer_id: int
    currency: str
    credit_limit: Decimal
    balances: list[Money]  # as customer_balances: positive means funds available, main currency first


_MIN_ID, _MAX_ID = -(2**63), 2**63 - 1
_CUSTOMER_TABLE, _ACCOUNT_TABLE = Customer._meta.db_table, Account._meta.db_table
_BALANCES_SQL = (
    f'SELECT c."currency", c."credit_limit", a."balance", a."balance_currency" FROM "{_CUSTOMER_TABLE}" c '
    f'LEFT JOIN "{_ACCOUNT_TABLE}" a ON a."customer_id" = c."id" AND a."kind" = %s '
    'WHERE c."id" = %s ORDER BY a."id"'
)


def customer_balances_get(*, customer_id, customer_scope: int | None) -> CustomerBalances:
    """A customer's balances, for the balance API: customer_get and customer_balances in one query.

    The API's most frequent read, so it reads only the columns it shows, in one round trip: the customer left
    joined to its balance accounts, as one prepared statement (config.db). A foreign or unknown customer raises
    CustomerNotFound, as customer_get does.
    """
    try:
        pk = int(customer_id)
    except (ValueError, TypeError) as exc:
        raise CustomerNotFound(_("Customer %(customer_id)s not found.") % {"customer_id": customer_id}) from exc
    # what customer_list's scope filter would find: nothing; nor is there an id outside bigint's range
    if (customer_scope is not None and pk != customer_scope) or not _MIN_ID <= pk <= _MAX_ID:
        raise CustomerNotFound(_("Customer %(customer_id)s not found.") % {"customer_id": customer_id})
    cursor = prepared_cursor()  # the connection's own cursor: not closed
    cursor.execute(_BALANCES_SQL, (Account.Kind.CUSTOMER.value, pk))
    rows = cursor.fetchall()
    if not rows:
        raise CustomerNotFound(_("Customer %(customer_id)s not found.") % {"customer_id": customer_id})
    currency, credit_limit = rows[0][0], rows[0][1]
    balances = [Money(-balance, account_currency) for _, _, balance, account_currency in rows if balance is not None]
    if not any(b.currency.code == currency for b in balances):
        balances.insert(0, Money(Decimal(0), currency))
    balances.sort(key=lambda m: m.currency.code != currency)
    return CustomerBalances(customer_id=pk, currency=currency, credit_limit=credit_limit, balances=balances)


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

        raise NotFound(_("Transaction %(transaction_id)s not found.") % {"transaction_id": transaction_id}) from exc


def customer_seller(*, customer: Customer):
    """The seller that serves a customer for what is not tied to a product (payments, receipts, invoices for an
    amount): its own, else the default seller; None when the installation has no seller at all."""
    from billing.models import Seller

    if customer.seller_id is not None:
        return customer.seller
    return Seller.objects.filter(is_default=True).first()


def customer_history(
    *,
    customer: Customer,
    kinds: tuple[str, ...] = (),
    date_from=None,
    date_to=None,
    before_id: int | None = None,
    limit: int | None = None,
):
    """The customer's balance movements newest first: its transactions that touch its balance accounts, each with
    `balance_amount` (the sum of those entries, as the customer reads it: a top-up positive, a charge negative) and
    `balance_currency`. Keyset-paginated by transaction id (`before_id`) along the (customer, -id) index, so a page
    costs the same however long the history; the amounts are read for the page's rows only."""
    from django.db.models import DecimalField, Exists, OuterRef, Subquery, Sum

    from billing.models import Entry

    accounts = list(Account.objects.filter(customer=customer, kind=Account.Kind.CUSTOMER).values_list("pk", flat=True))
    own = Entry.objects.filter(transaction_id=OuterRef("pk"), account_id__in=accounts)
    total = own.order_by().values("transaction_id").annotate(total=Sum("amount")).values("total")
    qs = (
        Transaction.objects.filter(customer=customer)
        .filter(Exists(own))
        .only("id", "kind", "effective_date", "posted_at", "description")
        .annotate(
            balance_amount=-Subquery(total, output_field=DecimalField(max_digits=19, decimal_places=4)),
            balance_currency=Subquery(own.values("amount_currency")[:1]),
        )
        .order_by("-id")
    )
    if kinds:
        qs = qs.filter(kind__in=kinds)
    if date_from is not None:
        qs = qs.filter(effective_date__gte=date_from)
    if date_to is not None:
        qs = qs.filter(effective_date__lte=date_to)
    if before_id is not None:
        qs = qs.filter(pk__lt=before_id)
    return qs[:limit] if limit is not None else qs
