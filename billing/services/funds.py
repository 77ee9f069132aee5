"""The prepaid rule: an immediate charge of a prepaid customer must fit in the balance plus the credit limit.

The billing run may take a balance past the limit (the renewal is charged, then the grace period and suspension
follow: billing.services.past_due); a charge the customer asks for now (a new subscription, a plan change or a
quantity up, an option, a resume) may not. Read under the customer's lock: every service that moves the
customer's money takes it first, so the balance read here is the one the charge is posted against.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext as _

from billing.errors import InsufficientFunds
from billing.models import Account, Customer
from billing.money import round_amount


def customer_funds_available(*, customer: Customer) -> Decimal:
    """What the customer may still spend: its balance plus its credit limit (negative when already beyond)."""
    owed = (
        Account.objects.filter(customer_id=customer.pk, kind=Account.Kind.CUSTOMER, balance_currency=customer.currency)
        .values_list("balance", flat=True)
        .first()
    )
    return customer.credit_limit.amount - (owed or Decimal(0))


def prepaid_funds_require(*, customer: Customer, amount: Decimal, currency: str) -> None:
    """Refuse (InsufficientFunds, 402) an immediate charge of `amount` that a prepaid customer cannot cover.
    Postpaid customers are invoiced for what they use, and credits (amount <= 0) always pass."""
    if customer.billing_model != Customer.BillingModel.PREPAID or amount <= 0:
        return
    available = customer_funds_available(customer=customer)
    if amount > available:
        needed, available = round_amount(amount, currency), round_amount(available, currency)
        raise InsufficientFunds(
            _(
                "Insufficient funds: %(needed)s %(currency)s needed now, %(available)s %(currency)s "
                "available including the credit limit. Top up the balance first."
            )
            % {"needed": needed, "currency": currency, "available": available},
            extra={"needed": str(needed), "available": str(available), "currency": currency},
        )


def prepaid_funds_cover(*, customer: Customer, amount: Decimal) -> bool:
    """Whether `amount` fits now (the same rule, as a question)."""
    return customer.billing_model != Customer.BillingModel.PREPAID or amount <= customer_funds_available(
        customer=customer
    )
