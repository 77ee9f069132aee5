from __future__ import annotations

from decimal import Decimal

from billing.models import Event, Payment
from billing.selectors import customer_balance
from billing.services.payments import payment_testmode_checkout, payment_topup_create

D = Decimal


def funds(customer) -> Decimal:
    return customer_balance(customer=customer).amount


def topup_paid(customer, amount: str, *, card: str = "4242 4242 4242 4242", save_method: bool = False) -> Payment:
    """A test-mode top-up, paid on the checkout page."""
    payment = payment_topup_create(
        customer_id=customer.pk, amount=D(amount), provider="test", save_method=save_method, created_by="tester"
    )
    return payment_testmode_checkout(provider_payment_id=payment.provider_payment_id, card=card)


def event_types(customer) -> list[str]:
    return list(Event.objects.filter(customer_id=customer.pk).order_by("pk").values_list("type", flat=True))
