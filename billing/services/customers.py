"""Customer lifecycle: create, update, close (no hard delete), switch between prepaid and postpaid, and manual
balance adjustments."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, pgettext
from moneyed import Money

from billing import events
from billing.errors import BalanceNotZero, CustomerClosed, InvalidAmount, InvalidPosting
from billing.locks import lock_customer
from billing.models import Account, Customer, Transaction
from billing.money import UnknownCurrency, check_currency, is_rounded, round_amount
from billing.services.accounts import account_for_customer, account_system
from billing.services.ledger import Leg, ledger_post
from billing.services.outbox import event_emit
from billing.services.past_due import customer_past_due_clear

UPDATABLE_FIELDS = (
    "kind",
    "name",
    "legal_name",
    "country",
    "inn",
    "kpp",
    "ogrn",
    "legal_address",
    "billing_emails",
    "phone",
    "timezone",
    "credit_limit",
    "tags",
    "external_id",
    "metadata",
    "billing_model",
    # documents: who serves the customer and what the monthly closing issues to it
    "seller",
    "closing_documents",
    "document_language",
    "pays_by_bank_transfer",
    "contract_number",
    "contract_date",
    "edo_id",
)


def _customer_event(customer: Customer, changed: tuple[str, ...] = ()) -> events.CustomerEvent:
    return events.CustomerEvent(
        customer_id=customer.pk, external_id=customer.external_id, status=customer.status, changed_fields=changed
    )


def _billing_model_check(value) -> str:
    """The billing model asked for, or a field error naming the ones there are."""
    if not isinstance(value, str) or value not in Customer.BillingModel.values:
        choices = pgettext("between choices", " or ").join(repr(v) for v in Customer.BillingModel.values)
        raise ValidationError(
            {
                "billing_model": [
                    ValidationError(
                        gettext("%(value)r is not a billing model: use %(choices)s.")
                        % {"value": value, "choices": choices},
                        code="invalid_choice",
                    )
                ]
            }
        )
    return str(value)


def _credit_limit_check(value: Decimal, currency: str) -> None:
    if isinstance(value, Decimal) and value.is_finite() and not is_rounded(value, currency):
        raise InvalidAmount(
            gettext("%(amount)s has more decimals than %(currency)s allows.") % {"amount": value, "currency": currency},
            field="credit_limit",
        )


def _today_utc() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


def customer_create(
    *,
    name: str,
    currency: str,
    credit_limit: Decimal = Decimal(0),
    billing_model: str = Customer.BillingModel.PREPAID,
    postpaid_since: dt.date | None = None,
    **fields,
) -> Customer:
    """A new customer with its balance account. A customer created postpaid is postpaid from its creation day (UTC):
    every charge it will have is invoiced; `postpaid_since` (not in the future) takes over a customer postpaid since
    an earlier day (moved from another billing system, or the demo's history)."""
    unknown = set(fields) - set(UPDATABLE_FIELDS)
    if unknown:
        raise TypeError(f"unknown customer fields: {sorted(unknown)}")
    billing_model = _billing_model_check(billing_model)
    currency = (currency or "").upper() if isinstance(currency, str) else ""
    try:
        check_currency(currency)
    except UnknownCurrency as exc:
        raise ValidationError({"currency": [ValidationError(str(exc), code="invalid_choice")]}) from exc
    _credit_limit_check(credit_limit, currency)
    if billing_model != Customer.BillingModel.POSTPAID:
        if postpaid_since is not None:
            raise ValidationError({"postpaid_since": [ValidationError(gettext("Only a postpaid customer has it."))]})
    elif postpaid_since is None:
        postpaid_since = _today_utc()
    elif postpaid_since > _today_utc():
        raise ValidationError({"postpaid_since": [ValidationError(gettext("It cannot be in the future."))]})
    customer = Customer(
        name=name,
        currency=currency,
        credit_limit=Money(credit_limit, currency),
        billing_model=billing_model,
        postpaid_since=postpaid_since,
        **fields,
    )
    customer.full_clean()
    with transaction.atomic(durable=True):
        customer.save()
        account_for_customer(customer=customer)
        event_emit(type=events.CUSTOMER_CREATED, payload=_customer_event(customer), customer_id=customer.pk)
    return customer


def customer_update(*, customer_id: int, **changes) -> Customer:
    """Change the fields given. A change of `billing_model` is a switch between prepaid and postpaid: it sets
    `postpaid_since` (today, UTC) or clears it and writes customer.billing_model_changed; the other fields that
    changed are announced by customer.updated. Both under the customer's row lock, in one transaction."""
    unknown = set(changes) - set(UPDATABLE_FIELDS)
    if unknown:
        raise TypeError(f"unknown customer fields: {sorted(unknown)}")
    billing_model = _billing_model_check(changes.pop("billing_model")) if "billing_model" in changes else None
    with transaction.atomic(durable=True):
        customer = lock_customer(customer_id)
        if customer.status == Customer.Status.CLOSED:
            raise CustomerClosed(gettext("Customer %(id)s is closed and cannot be changed.") % {"id": customer.pk})
        changed = []
        for name, value in changes.items():
            if name == "credit_limit":
                _credit_limit_check(value, customer.currency)
                value = Money(value, customer.currency)
            if getattr(customer, name) != value:
                setattr(customer, name, value)
                changed.append(name)
        switched_from = None
        if billing_model is not None and billing_model != customer.billing_model:
            switched_from = customer.billing_model
            _billing_model_switch(customer, to=billing_model)
        if not changed and switched_from is None:
            return customer
        customer.full_clean()
        customer.save()
        if changed:
            event_emit(
                type=events.CUSTOMER_UPDATED, payload=_customer_event(customer, tuple(changed)), customer_id=customer.pk
            )
        if switched_from is not None:
            event_emit(
                type=events.CUSTOMER_BILLING_MODEL_CHANGED,
                customer_id=customer.pk,
                payload=events.CustomerBillingModelChanged(
                    customer_id=customer.pk,
                    from_=switched_from,
                    to=customer.billing_model,
                    postpaid_since=customer.postpaid_since.isoformat() if customer.postpaid_since else None,
                ),
            )
    return customer


def _billing_model_switch(customer: Customer, *, to: str) -> None:
    """Switch a locked customer's billing model in memory (the caller saves and announces it).

    Postpaid from today (UTC): the charges of periods that start from today on are invoiced; those of the prepaid
    era were paid from the balance. Back to prepaid: postpaid_since is cleared, and the balance (with whatever the
    postpaid era left owing on it) is again held against the credit limit: the billing run marks it past due, and
    later suspends, as for any prepaid customer.

    Nothing else changes here. A prepaid customer suspended for insufficient funds keeps its subscriptions as they
    are when it becomes postpaid: the switch does not resume them (they stay suspended until money covering the
    debt arrives: customer_funds_recheck resumes them then); the billing run never suspends a postpaid customer,
    so no further suspension comes. past_due_since is left as it is too: it records since when the balance is
    beyond the credit limit, and the same recheck clears it.
    """
    customer.billing_model = to
    customer.postpaid_since = _today_utc() if to == Customer.BillingModel.POSTPAID else None


def customer_close(*, customer_id: int) -> Customer:
    """Close a customer. The balance must be zero in every currency first (refund or write off)."""
    with transaction.atomic(durable=True):
        customer = lock_customer(customer_id)
        if customer.status == Customer.Status.CLOSED:
            return customer  # closing twice is a no-op, not an error: retries are safe
        open_balances = list(
            Account.objects.select_for_update(of=("self",), no_key=True)
            .filter(customer=customer)
            .exclude(balance=0)
            .order_by("pk")
        )
        if open_balances:
            shown = ", ".join(f"{round_amount(-a.balance.amount, a.currency)} {a.currency}" for a in open_balances)
            raise BalanceNotZero(
                gettext("The customer's balance is %(balance)s; refund or write it off before closing.")
                % {"balance": shown}
            )
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
        raise InvalidPosting(gettext("Direction must be 'credit' or 'debit'."), field="direction")
    if not reason or not reason.strip():
        raise InvalidPosting(gettext("A reason is required for a manual adjustment."), field="reason")
    with transaction.atomic(durable=True):
        customer = lock_customer(customer_id)
        if customer.status == Customer.Status.CLOSED:
            raise CustomerClosed(gettext("Customer %(id)s is closed.") % {"id": customer.pk})
        currency = check_currency(currency or customer.currency)
        if amount <= 0:
            raise InvalidPosting(gettext("The amount must be positive."), field="amount")
        if not is_rounded(amount, currency):
            raise InvalidPosting(
                gettext("%(amount)s has more decimals than %(currency)s allows.")
                % {"amount": amount, "currency": currency},
                field="amount",
            )
        money = Money(amount, currency)
        balance = account_for_customer(customer=customer, currency=currency)
        adjustments = account_system(kind=Account.Kind.ADJUSTMENTS, currency=currency)
        if direction == "credit":
            legs = [Leg.credit(balance, money, reason), Leg.debit(adjustments, money, reason)]
        else:
            legs = [Leg.debit(balance, money, reason), Leg.credit(adjustments, money, reason)]
        posted = ledger_post(
            kind=Transaction.Kind.ADJUSTMENT,
            key=key,
            legs=legs,
            customer=customer,
            effective_date=effective_date,
            source_type="adjustment",
            description=reason,
            created_by=created_by,
            enforce_credit_limit=direction == "debit",
        )
        if direction == "credit":  # the balance went up: the debt may be over
            customer_past_due_clear(customer_id=customer.pk)
        return posted


def validation_error_fields(exc: ValidationError) -> dict[str, list[str]]:
    return exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
