"""Customer lifecycle: create, update, close (no hard delete), and manual balance adjustments."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from moneyed import Money

from billing import events
from billing.errors import BalanceNotZero, CustomerClosed, InvalidPosting
from billing.locks import lock_customer
from billing.models import Account, Customer, Transaction
from billing.money import UnknownCurrency, check_currency, is_rounded, round_amount
from billing.services.ledger import Leg, account_for_customer, account_system, ledger_post
from billing.services.outbox import event_emit

UPDATABLE_FIELDS = (
    "kind", "name", "legal_name", "country", "inn", "kpp", "ogrn", "legal_address", "billing_emails", "phone",
    "timezone", "credit_limit", "tags", "external_id", "metadata",
)


def _customer_event(customer: Customer, changed: tuple[str, ...] = ()) -> events.CustomerEvent:
    return events.CustomerEvent(
        customer_id=customer.pk, external_id=customer.external_id, status=customer.status, changed_fields=changed
    )


def customer_create(*, name: str, currency: str, credit_limit: Decimal = Decimal(0), **fields) -> Customer:
    unknown = set(fields) - set(UPDATABLE_FIELDS)
    if unknown:
        raise TypeError(f"unknown customer fields: {sorted(unknown)}")
    currency = (currency or "").upper() if isinstance(currency, str) else ""
    try:
        check_currency(currency)
    except UnknownCurrency as exc:
        raise ValidationError({"currency": [ValidationError(str(exc), code="invalid_choice")]}) from exc
    customer = Customer(name=name, currency=currency, credit_limit=Money(credit_limit, currency), **fields)
    customer.full_clean()
    with transaction.atomic(durable=True):
        customer.save()
        account_for_customer(customer=customer)
        event_emit(type=events.CUSTOMER_CREATED, payload=_customer_event(customer), customer_id=customer.pk)
    return customer


def customer_update(*, customer_id: int, **changes) -> Customer:
    unknown = set(changes) - set(UPDATABLE_FIELDS)
    if unknown:
        raise TypeError(f"unknown customer fields: {sorted(unknown)}")
    with transaction.atomic(durable=True):
        customer = lock_customer(customer_id)
        if customer.status == Customer.Status.CLOSED:
            raise CustomerClosed(f"Customer {customer.pk} is closed and cannot be changed.")
        changed = []
        for name, value in changes.items():
            if name == "credit_limit":
                value = Money(value, customer.currency)
            if getattr(customer, name) != value:
                setattr(customer, name, value)
                changed.append(name)
        if not changed:
            return customer
        customer.full_clean()
        customer.save()
        event_emit(type=events.CUSTOMER_UPDATED, payload=_customer_event(customer, tuple(changed)),
                   customer_id=customer.pk)
    return customer


def customer_close(*, customer_id: int) -> Customer:
    """Close a customer. The balance must be zero in every currency first (refund or write off)."""
    with transaction.atomic(durable=True):
        customer = lock_customer(customer_id)
        if customer.status == Customer.Status.CLOSED:
            return customer  # closing twice is a no-op, not an error: retries are safe
        open_balances = list(
            Account.objects.select_for_update(of=("self",), no_key=True)
            .filter(customer=customer).exclude(balance=0).order_by("pk")
        )
        if open_balances:
            shown = ", ".join(f"{round_amount(-a.balance.amount, a.currency)} {a.currency}" for a in open_balances)
            raise BalanceNotZero(f"The customer's balance is {shown}; refund or write it off before closing.")
        customer.status = Customer.Status.CLOSED
        customer.closed_at = timezone.now()
        customer.save(update_fields=["status", "closed_at", "updated_at"])
        event_emit(type=events.CUSTOMER_CLOSED, payload=_customer_event(customer), customer_id=customer.pk)
    return customer


def customer_balance_adjust(
    *,
    customer_id: int,
    amount: Decimal,
    currency: str | None = None,
    direction: str,
    reason: str,
    key: str,
    created_by: str = "",
    effective_date=None,
) -> Transaction:
    """A manual credit (adds to the customer's balance) or debit (takes from it) against the adjustments account.

    A debit may not take the balance below minus the credit limit.
    """
    if direction not in ("credit", "debit"):
        raise InvalidPosting("Direction must be 'credit' or 'debit'.", field="direction")
    if not reason or not reason.strip():
        raise InvalidPosting("A reason is required for a manual adjustment.", field="reason")
    with transaction.atomic(durable=True):
        customer = lock_customer(customer_id)
        if customer.status == Customer.Status.CLOSED:
            raise CustomerClosed(f"Customer {customer.pk} is closed.")
        currency = check_currency(currency or customer.currency)
        if amount <= 0:
            raise InvalidPosting("The amount must be positive.", field="amount")
        if not is_rounded(amount, currency):
            raise InvalidPosting(f"{amount} has more decimals than {currency} allows.", field="amount")
        money = Money(amount, currency)
        balance = account_for_customer(customer=customer, currency=currency)
        adjustments = account_system(kind=Account.Kind.ADJUSTMENTS, currency=currency)
        if direction == "credit":
            legs = [Leg.credit(balance, money, reason), Leg.debit(adjustments, money, reason)]
        else:
            legs = [Leg.debit(balance, money, reason), Leg.credit(adjustments, money, reason)]
        return ledger_post(
            kind=Transaction.Kind.ADJUSTMENT, key=key, legs=legs, customer=customer, effective_date=effective_date,
            source_type="adjustment", description=reason, created_by=created_by,
            enforce_credit_limit=direction == "debit",
        )


def validation_error_fields(exc: ValidationError) -> dict[str, list[str]]:
    return exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
