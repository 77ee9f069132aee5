"""Refunds, full and partial: recorded first, sent to the provider outside any transaction with the refund's own
idempotency key, and posted to the ledger once, when the provider confirms (`refund:<id>`: customer balance →
provider clearing). A provider that times out leaves the refund `created`; `refunds_retry` sends it again with the
same key, so the provider refunds once and the ledger posts once. Money paid by bank transfer or in cash is sent
back by the accountant outside the system: its refund is recorded and posted at once.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from moneyed import Money

from billing import events
from billing.errors import PaymentInvalid, PaymentNotFound, RefundNotAllowed
from billing.locks import lock_customer
from billing.models import Payment, Refund, Transaction
from billing.money import is_rounded
from billing.providers import provider_get
from billing.providers.base import (
    NotificationRejected,
    PaymentState,
    ProviderPayment,
    ProviderRefund,
    ProviderRejected,
    ProviderUnavailable,
    RefundState,
)
from billing.services.accounts import account_for_customer
from billing.services.ledger import Leg, ledger_post
from billing.services.outbox import event_emit
from billing.services.payments import OFFLINE_PROVIDERS, clearing_account
from config.db import in_transaction

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 20


def refund_create(
    *, payment_id: int, reason: str, amount: Decimal | None = None, created_by: str = "", customer_id: int | None = None
) -> Refund:
    """Refund `amount` (all that is left when None) of a succeeded payment. `customer_id` scopes the lookup."""
    if not reason or not reason.strip():
        raise PaymentInvalid(_("A reason is required for a refund."), field="reason")
    with transaction.atomic(durable=True):
        lookup = Payment.objects.filter(pk=payment_id)
        if customer_id is not None:
            lookup = lookup.filter(customer_id=customer_id)
        owner = lookup.values_list("customer_id", flat=True).first()
        if owner is None:
            raise PaymentNotFound(_("Payment %(id)s not found.") % {"id": payment_id})
        lock_customer(owner)
        payment = Payment.objects.select_for_update(of=("self",), no_key=True).get(pk=payment_id)
        if payment.status != Payment.Status.SUCCEEDED:
            raise RefundNotAllowed(_("Only a succeeded payment can be refunded."))
        currency = payment.amount.currency.code
        in_flight = payment.refunds.exclude(status=Refund.Status.FAILED).aggregate(total=Sum("amount"))[
            "total"
        ] or Decimal(0)
        left = payment.amount.amount - in_flight
        amount = left if amount is None else amount
        if amount <= 0:
            raise RefundNotAllowed(_("Nothing is left to refund on this payment."), field="amount")
        if not is_rounded(amount, currency):
            raise PaymentInvalid(
                _("%(amount)s has more decimals than %(currency)s allows.") % {"amount": amount, "currency": currency},
                field="amount",
            )
        if amount > left:
            raise RefundNotAllowed(
                _("At most %(left)s %(currency)s of this payment can still be refunded.")
                % {"left": left.quantize(Decimal(1).scaleb(-2)), "currency": currency},
                field="amount",
            )
        refund = Refund.objects.create(
            payment=payment, amount=Money(amount, currency), reason=reason.strip()[:255], created_by=created_by
        )
        refund.provider_key = f"refund-{refund.pk}"
        refund.save(update_fields=["provider_key"])
    if payment.provider in OFFLINE_PROVIDERS:
        return refund_apply(
            refund_id=refund.pk,
            answer=ProviderRefund(f"{payment.provider}-refund-{refund.pk}", RefundState.SUCCEEDED, amount, currency),
        )
    return refund_submit(refund_id=refund.pk)


def _provider_payment(payment: Payment) -> ProviderPayment:
    return ProviderPayment(
        provider_payment_id=payment.provider_payment_id or "",
        state=PaymentState.SUCCEEDED,
        amount=payment.amount.amount,
        currency=payment.amount.currency.code,
        data=payment.provider_data,
    )


def refund_submit(*, refund_id: int) -> Refund:
    """Send a recorded refund to the provider (again, with the same key) and apply the answer."""
    if in_transaction():
        raise RuntimeError("refund_submit calls the provider: never inside a database transaction")
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status != Refund.Status.CREATED:
        return refund
    payment = refund.payment
    try:
        answer = provider_get(payment.provider).refund_create(
            payment=_provider_payment(payment),
            amount=refund.amount.amount,
            currency=refund.amount.currency.code,
            idempotency_key=refund.provider_key,
        )
    except ProviderUnavailable as exc:
        logger.warning("refund %s: provider %s unavailable: %s", refund.pk, payment.provider, exc)
        Refund.objects.filter(pk=refund.pk).update(
            attempts=refund.attempts + 1, last_error=str(exc)[:255] or "unavailable", updated_at=timezone.now()
        )
        refund.refresh_from_db()
        return refund
    except ProviderRejected as exc:
        answer = ProviderRefund("", RefundState.FAILED, refund.amount.amount, refund.amount.currency.code, str(exc))
    return refund_apply(refund_id=refund.pk, answer=answer)


def refund_apply(*, refund_id: int, answer: ProviderRefund) -> Refund:
    """Apply the provider's word on a refund: idempotent; the ledger is posted once, on success."""
    with transaction.atomic(durable=True):
        customer_id = Refund.objects.filter(pk=refund_id).values_list("payment__customer_id", flat=True).get()
        customer = lock_customer(customer_id)
        refund = Refund.objects.select_for_update(of=("self",), no_key=True).get(pk=refund_id)
        if refund.status in (Refund.Status.SUCCEEDED, Refund.Status.FAILED):
            return refund
        changed = ["status", "updated_at"]
        if answer.provider_refund_id and not refund.provider_refund_id:
            refund.provider_refund_id = answer.provider_refund_id
            changed.append("provider_refund_id")
        if answer.state == RefundState.PENDING:
            refund.status = Refund.Status.PENDING
        elif answer.state == RefundState.FAILED:
            refund.status = Refund.Status.FAILED
            refund.failure_reason = (answer.failure_reason or "failed")[:255]
            changed.append("failure_reason")
        else:
            payment = Payment.objects.select_for_update(of=("self",), no_key=True).get(pk=refund.payment_id)
            money = refund.amount
            memo = _("Refund of payment #%(payment)s: %(reason)s") % {"payment": payment.pk, "reason": refund.reason}
            refund.transaction = ledger_post(
                kind=Transaction.Kind.REFUND,
                key=f"refund:{refund.pk}",
                legs=[
                    Leg.debit(account_for_customer(customer=customer, currency=money.currency.code), money, memo),
                    Leg.credit(clearing_account(provider=payment.provider, currency=money.currency.code), money, memo),
                ],
                customer=customer,
                source_type="refund",
                source_id=str(refund.pk),
                description=memo[:255],
                created_by=refund.created_by,
            )
            refund.status = Refund.Status.SUCCEEDED
            changed.append("transaction")
            payment.refunded = payment.refunded + money.amount
            payment.save(update_fields=["refunded", "updated_at"])
        refund.save(update_fields=changed)
        if refund.status in (Refund.Status.SUCCEEDED, Refund.Status.FAILED):
            event_emit(
                type=events.REFUND_SUCCEEDED if refund.status == Refund.Status.SUCCEEDED else events.REFUND_FAILED,
                payload=events.RefundEvent(
                    refund_id=refund.pk,
                    payment_id=refund.payment_id,
                    customer_id=customer.pk,
                    status=refund.status,
                    amount=str(refund.amount.amount),
                    currency=refund.amount.currency.code,
                    transaction_id=refund.transaction_id,
                    failure_reason=refund.failure_reason,
                ),
                customer_id=customer.pk,
            )
    return refund


def refund_notification_apply(*, provider: str, provider_payment_id: str, answer: ProviderRefund) -> str:
    """A provider's webhook about a refund we asked for."""
    refund_id = (
        Refund.objects.filter(
            payment__provider=provider,
            payment__provider_payment_id=provider_payment_id,
            provider_refund_id=answer.provider_refund_id,
        )
        .values_list("pk", flat=True)
        .first()
    )
    if refund_id is None:
        raise NotificationRejected(f"unknown {provider} refund {answer.provider_refund_id!r}")
    return refund_apply(refund_id=refund_id, answer=answer).status


def refunds_retry(*, limit: int = 100) -> int:
    """Beat: refunds whose provider call timed out (or never happened: a crash after recording) are sent again
    with the same key, at most MAX_ATTEMPTS times."""
    ids = list(
        Refund.objects.filter(
            status=Refund.Status.CREATED,
            attempts__lt=MAX_ATTEMPTS,
            updated_at__lt=timezone.now() - timezone.timedelta(seconds=30),
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    for refund_id in ids:
        refund_submit(refund_id=refund_id)
    return len(ids)
