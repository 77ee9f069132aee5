"""Autopay: charge a customer's saved method when the balance falls below its threshold, or before a renewal the
balance cannot cover. One autopay payment in flight per customer (decided under the customer's lock); after
`max_failures` failures in a row autopay stops itself and says so (`autopay.stopped`)."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _
from moneyed import Money

from billing import events
from billing.errors import PaymentInvalid, PaymentProviderUnavailable
from billing.locks import lock_customer
from billing.models import Account, Autopay, Customer, Payment, PaymentMethod
from billing.money import round_amount
from billing.services.outbox import event_emit

logger = logging.getLogger(__name__)


def autopay_configure(
    *,
    customer_id: int,
    method_id: int,
    threshold: Decimal,
    amount: Decimal,
    before_renewal: bool = True,
    is_active: bool = True,
) -> Autopay:
    """Turn autopay on (or change it) with one of the customer's own saved methods."""
    with transaction.atomic(durable=True):
        customer = lock_customer(customer_id)
        method = PaymentMethod.objects.filter(pk=method_id, customer=customer, is_active=True).first()
        if method is None:
            raise PaymentInvalid(_("No such saved payment method for this customer."), field="method_id")
        if amount <= 0:
            raise PaymentInvalid(_("The amount must be greater than zero."), field="amount")
        if threshold < 0:
            raise PaymentInvalid(_("The threshold must not be negative."), field="threshold")
        autopay, _created = Autopay.objects.update_or_create(
            customer=customer,
            defaults={
                "method": method,
                "threshold": threshold,
                "amount": amount,
                "before_renewal": before_renewal,
                "is_active": is_active,
                "failures": 0,
                "stopped_reason": "",
            },
        )
    return autopay


def _balance(customer_id: int, currency: str) -> Decimal:
    """The customer's balance as the customer reads it (money available, before the credit limit)."""
    owed = (
        Account.objects.filter(customer_id=customer_id, kind=Account.Kind.CUSTOMER, balance_currency=currency)
        .values_list("balance", flat=True)
        .first()
    )
    return -(owed or Decimal(0))


def autopay_charge(*, customer_id: int, needed: Decimal | None = None, reason: str = "threshold") -> Payment | None:
    """Charge the saved method: the autopay amount, or more when `needed` (a renewal) is larger. None when autopay
    is off or a charge is already in flight."""
    from billing.services.payments import payment_submit

    with transaction.atomic(durable=True):
        customer = lock_customer(customer_id)
        autopay = Autopay.objects.select_related("method").filter(customer=customer, is_active=True).first()
        if autopay is None or customer.status == Customer.Status.CLOSED or not autopay.method.is_active:
            return None
        if Payment.objects.filter(
            customer=customer, kind=Payment.Kind.AUTOPAY, status__in=[Payment.Status.CREATED, Payment.Status.PENDING]
        ).exists():
            return None
        amount = autopay.amount
        if needed is not None:
            shortfall = needed - _balance(customer.pk, customer.currency)
            if shortfall <= 0:
                return None
            amount = max(amount, shortfall)
        amount = round_amount(amount, customer.currency)
        payment = Payment.objects.create(
            customer=customer,
            kind=Payment.Kind.AUTOPAY,
            provider=autopay.method.provider,
            method=autopay.method,
            amount=Money(amount, customer.currency),
            description=_("Autopay (%(reason)s)") % {"reason": reason},
        )
        payment.provider_key = f"payment-{payment.pk}"
        payment.save(update_fields=["provider_key"])
    try:
        return payment_submit(payment_id=payment.pk)
    except PaymentProviderUnavailable:
        return Payment.objects.get(pk=payment.pk)  # retried by payments_resubmit


def autopay_outcome(*, payment: Payment) -> None:
    """Inside the transaction that finished an autopay payment: count failures, stop after too many."""
    autopay = Autopay.objects.select_for_update(of=("self",), no_key=True).filter(customer=payment.customer_id).first()
    if autopay is None:
        return
    if payment.status == Payment.Status.SUCCEEDED:
        if autopay.failures:
            autopay.failures = 0
            autopay.save(update_fields=["failures", "updated_at"])
        return
    if payment.status not in (Payment.Status.FAILED, Payment.Status.CANCELED):
        return
    autopay.failures += 1
    fields = ["failures", "updated_at"]
    if autopay.is_active and autopay.failures >= autopay.max_failures:
        autopay.is_active = False
        autopay.stopped_reason = (
            _("Stopped after %(count)s failed charges in a row; last: %(reason)s")
            % {"count": autopay.failures, "reason": payment.failure_reason}
        )[:255]
        fields += ["is_active", "stopped_reason"]
        event_emit(
            type=events.AUTOPAY_STOPPED,
            payload={
                "customer_id": payment.customer_id,
                "failures": autopay.failures,
                "last_payment_id": payment.pk,
                "reason": payment.failure_reason,
            },
            customer_id=payment.customer_id,
        )
    autopay.save(update_fields=fields)


_BELOW_THRESHOLD_SQL = """
SELECT ap.customer_id
  FROM billing_autopay ap
  JOIN billing_customer c ON c.id = ap.customer_id AND c.status <> 'closed'
  LEFT JOIN billing_account a ON a.customer_id = c.id AND a.kind = 'customer' AND a.balance_currency = c.currency
 WHERE ap.is_active AND -COALESCE(a.balance, 0) < ap.threshold
   AND NOT EXISTS (SELECT 1 FROM billing_payment p
                    WHERE p.customer_id = ap.customer_id AND p.kind = 'autopay' AND p.status IN ('created', 'pending'))
 ORDER BY ap.customer_id
 LIMIT %s
"""


def autopay_sweep(*, limit: int = 500) -> int:
    """Beat: every customer with autopay on whose balance is below its threshold is charged once."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(_BELOW_THRESHOLD_SQL, [limit])
        customer_ids = [row[0] for row in cursor.fetchall()]
    charged = 0
    for customer_id in customer_ids:
        if autopay_charge(customer_id=customer_id) is not None:
            charged += 1
    return charged
