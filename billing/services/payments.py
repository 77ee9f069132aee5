"""Payments: top-ups through a provider, autopay, manual payments, and applying what the provider reports.

The shape of every provider interaction: record the intent (a Payment row, committed), call the provider outside
any database transaction with the payment's stable idempotency key, then apply the answer in a new transaction
that locks the customer, then the payment. Applying is idempotent: a final payment stays final, and the credit is
one ledger transaction keyed by the payment (`payment:<id>`), so five deliveries of the same webhook, or a webhook
racing the redirect's poll, credit once. The customer's lock is the one the billing run and the funds recheck
take, so a top-up landing during a run or a suspension is decided against the balance as it is.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from moneyed import Money

from billing import events
from billing.errors import CustomerClosed, PaymentInvalid, PaymentNotFound, PaymentProviderUnavailable
from billing.locks import lock_customer
from billing.models import Account, Customer, Payment, PaymentMethod, Transaction
from billing.money import check_currency, is_rounded
from billing.providers import ProviderNotConfigured, provider_codes, provider_get
from billing.providers.base import (
    CheckoutRequest,
    NotificationRejected,
    PaymentState,
    ProviderPayment,
    ProviderRejected,
    ProviderUnavailable,
    Receipt,
    ReceiptItem,
)
from billing.selectors import customer_seller
from billing.services.accounts import AccountResolver, account_system, provider_clearing_account_code
from billing.services.ledger import Leg, ledger_post
from billing.services.outbox import event_emit_rows, outbox_kick
from billing.services.past_due import customers_past_due_clear
from billing.vat import VatRate
from config.db import in_transaction, rows_json

logger = logging.getLogger(__name__)

# Providers without an API: money that reached the bank account or the cash desk, recorded by an accountant
OFFLINE_PROVIDERS = ("bank", "cash", "other")

_STATE_TO_STATUS = {
    PaymentState.PENDING: Payment.Status.PENDING,
    PaymentState.SUCCEEDED: Payment.Status.SUCCEEDED,
    PaymentState.CANCELED: Payment.Status.CANCELED,
    PaymentState.FAILED: Payment.Status.FAILED,
}


def clearing_account(*, provider: str, currency: str) -> Account:
    """Where the provider's (or the bank's, the cash desk's) money sits until it is settled."""
    return account_system(
        kind=Account.Kind.PROVIDER_CLEARING, currency=currency, code=provider_clearing_account_code(provider)
    )


def _amount_check(amount: Decimal, currency: str, *, field: str = "amount") -> None:
    if amount is None or amount <= 0:
        raise PaymentInvalid(_("The amount must be greater than zero."), field=field)
    if not is_rounded(amount, currency):
        raise PaymentInvalid(
            _("%(amount)s has more decimals than %(currency)s allows.") % {"amount": amount, "currency": currency},
            field=field,
        )


_STATE_CHANGE_SQL = """
INSERT INTO billing_paymentstatechange (payment_id, from_status, to_status, source, detail, at)
VALUES (%s, %s, %s, %s, %s, now())
"""


def _state_change(payment: Payment, from_status: str, *, source: str, detail: str = "") -> None:
    """Append one step to the payment's history (a plain insert: it runs on every webhook)."""
    with connection.cursor() as cursor:
        cursor.execute(_STATE_CHANGE_SQL, [payment.pk, from_status, payment.status, source[:20], detail[:255]])


def _customer_for_payment(customer_id: int, currency: str | None) -> tuple[Customer, str]:
    customer = lock_customer(customer_id)
    if customer.status == Customer.Status.CLOSED:
        raise CustomerClosed(_("Customer %(id)s is closed.") % {"id": customer.pk})
    currency = check_currency(currency or customer.currency)
    if currency != customer.currency:
        raise PaymentInvalid(
            _("Customer %(id)s pays in %(currency)s.") % {"id": customer.pk, "currency": customer.currency},
            field="currency",
        )
    return customer, currency


def payment_topup_create(
    *,
    customer_id: int,
    amount: Decimal,
    currency: str | None = None,
    provider: str | None = None,
    return_url: str = "",
    save_method: bool = False,
    description: str = "",
    created_by: str = "",
) -> Payment:
    """A top-up the customer confirms on the provider's page: the payment is recorded, the provider asked, and the
    payment returned pending with its `confirmation_url`. A provider that does not answer leaves it `created`
    (PaymentProviderUnavailable; `payments_resubmit` asks again with the same key)."""
    provider = provider or settings.PAYMENTS_DEFAULT_PROVIDER
    if provider not in provider_codes():
        raise PaymentInvalid(_("Unknown payment provider %(provider)r.") % {"provider": provider}, field="provider")
    with transaction.atomic(durable=True):
        customer, currency = _customer_for_payment(customer_id, currency)
        _amount_check(amount, currency)
        seller = customer_seller(customer=customer)
        if (
            customer.kind == Customer.Kind.INDIVIDUAL
            and seller is not None
            and seller.fiscal_receipts
            and provider not in OFFLINE_PROVIDERS
            and not customer.billing_emails
        ):
            raise PaymentInvalid(
                _("The seller sends fiscal receipts: the customer needs a billing email to receive one."),
                field="customer",
            )
        payment = Payment.objects.create(
            customer=customer,
            kind=Payment.Kind.TOPUP,
            provider=provider,
            amount=Money(amount, currency),
            description=description or _("Top-up of the balance of %(customer)s") % {"customer": customer.name},
            return_url=return_url or f"{settings.PAYMENTS_PUBLIC_URL}/",
            save_method=save_method,
            created_by=created_by,
        )
        payment.provider_key = f"payment-{payment.pk}"
        payment.save(update_fields=["provider_key"])
        _state_change(payment, "", source="api" if created_by else "system", detail=created_by)
    return payment_submit(payment_id=payment.pk)


# YooKassa's vat_code of a receipt line by the seller's rate: a top-up is an advance, taxed at the calculated rate
_RECEIPT_VAT_CODES = {VatRate.NONE: 1, VatRate.R0: 2, VatRate.R10: 5, VatRate.R20: 6, VatRate.R22: 12}


def _receipt(payment: Payment) -> Receipt | None:
    """The 54-FZ receipt of an individual's card payment, when its seller sends receipts; None otherwise."""
    customer = payment.customer
    if customer.kind != Customer.Kind.INDIVIDUAL or payment.provider in OFFLINE_PROVIDERS:
        return None
    seller = customer_seller(customer=customer)
    if seller is None or not seller.fiscal_receipts:
        return None
    rate = seller.vat_rate_on(timezone.localdate())
    return Receipt(
        email=(customer.billing_emails or [""])[0],
        items=(
            ReceiptItem(
                description=_("Advance payment for services")[:128],
                quantity=Decimal(1),
                amount=payment.amount.amount,
                vat_code=_RECEIPT_VAT_CODES.get(rate, 1),
            ),
        ),
        tax_system_code=seller.tax_system_code,
    )


def _checkout_request(payment: Payment) -> CheckoutRequest:
    customer = payment.customer
    method = payment.method
    return CheckoutRequest(
        payment_id=payment.pk,
        amount=payment.amount.amount,
        currency=payment.amount.currency.code,
        description=payment.description[:128],
        return_url=payment.return_url or f"{settings.PAYMENTS_PUBLIC_URL}/",
        idempotency_key=payment.provider_key,
        customer_email=(customer.billing_emails or [""])[0],
        customer_ref=method.provider_customer_ref if method else "",
        save_method=payment.save_method,
        method_id=method.provider_method_id if method and payment.kind == Payment.Kind.AUTOPAY else "",
        receipt=_receipt(payment),
    )


def payment_submit(*, payment_id: int) -> Payment:
    """Ask the provider to create a recorded payment (again, with the same key, after a timeout) and apply the
    answer. Outside any transaction: no lock is held across the HTTP call."""
    if in_transaction():
        raise RuntimeError("payment_submit calls the provider: never inside a database transaction")
    payment = Payment.objects.select_related("customer", "method").get(pk=payment_id)
    if payment.status != Payment.Status.CREATED:
        return payment
    try:
        answer = provider_get(payment.provider).payment_create(_checkout_request(payment))
    except ProviderUnavailable as exc:
        logger.warning("payment %s: provider %s unavailable: %s", payment.pk, payment.provider, exc)
        Payment.objects.filter(pk=payment.pk).update(failure_reason=str(exc)[:255], updated_at=timezone.now())
        raise PaymentProviderUnavailable(
            _("The payment provider did not answer; the payment is recorded and will be retried."),
            extra={"payment_id": payment.pk},
        ) from exc
    except (ProviderRejected, ProviderNotConfigured) as exc:
        return payment_fail(payment_id=payment.pk, reason=str(exc) or exc.__class__.__name__, source="provider")
    return payment_apply(payment_id=payment.pk, answer=answer, source="provider")


def payment_fail(*, payment_id: int, reason: str, source: str) -> Payment:
    """A payment the provider refused outright (no provider payment exists)."""
    with transaction.atomic(durable=True):
        customer_id = Payment.objects.values_list("customer_id", flat=True).get(pk=payment_id)
        lock_customer(customer_id)
        payment = Payment.objects.select_for_update(of=("self",), no_key=True).get(pk=payment_id)
        if payment.status in Payment.FINAL:
            return payment
        before, payment.status, payment.failure_reason = payment.status, Payment.Status.FAILED, reason[:255]
        payment.save(update_fields=["status", "failure_reason", "updated_at"])
        _state_change(payment, before, source=source, detail=reason)
        _outcome_event(payment)
        _autopay_outcome(payment)
    return payment


def payment_apply(*, payment_id: int, answer: ProviderPayment, source: str, customer_id: int | None = None) -> Payment:
    """Apply what the provider reports about a payment: idempotent, and final states never change. `customer_id`:
    the payment's customer when the caller read it already (it never changes)."""
    with transaction.atomic(durable=True):
        if customer_id is None:
            customer_id = Payment.objects.values_list("customer_id", flat=True).filter(pk=payment_id).first()
        if customer_id is None:
            raise PaymentNotFound(_("Payment %(id)s not found.") % {"id": payment_id})
        customer = lock_customer(customer_id)
        payment = Payment.objects.select_for_update(of=("self",), no_key=True).get(pk=payment_id)
        if payment.provider_payment_id and payment.provider_payment_id != answer.provider_payment_id:
            raise PaymentInvalid(
                f"payment {payment.pk} is {payment.provider_payment_id}, the answer is about "
                f"{answer.provider_payment_id}"
            )
        changed = []
        if not payment.provider_payment_id:
            payment.provider_payment_id = answer.provider_payment_id
            changed.append("provider_payment_id")
        if answer.confirmation_url and answer.confirmation_url != payment.confirmation_url:
            payment.confirmation_url = answer.confirmation_url
            changed.append("confirmation_url")
        if answer.data and {**payment.provider_data, **answer.data} != payment.provider_data:
            payment.provider_data = {**payment.provider_data, **answer.data}
            changed.append("provider_data")
        status = _STATE_TO_STATUS[answer.state]
        if payment.status in Payment.FINAL or status == payment.status:
            if changed:
                payment.save(update_fields=[*changed, "updated_at"])
            if payment.status in Payment.FINAL and status != payment.status:
                logger.warning(
                    "payment %s is %s; the provider now says %s: ignored", payment.pk, payment.status, status
                )
            return payment
        if status == Payment.Status.SUCCEEDED and (
            answer.amount != payment.amount.amount or answer.currency.upper() != payment.amount.currency.code
        ):
            # never credit an amount other than the one asked for: an accountant looks at it
            logger.error(
                "payment %s: the provider reports %s %s paid, %s was asked",
                payment.pk,
                answer.amount,
                answer.currency,
                payment.amount,
            )
            raise PaymentInvalid(_("The provider reports another amount than the payment's."), field="amount")
        before = payment.status
        payment.status = status
        changed.append("status")
        if status in (Payment.Status.CANCELED, Payment.Status.FAILED):
            payment.failure_reason = (answer.failure_reason or status)[:255]
            changed.append("failure_reason")
        if status == Payment.Status.SUCCEEDED:
            if answer.method_id and payment.save_method and payment.method_id is None:
                payment.method = _method_save(customer, payment.provider, answer)
                changed.append("method")
            payment.transaction = _credit(customer, payment)
            payment.succeeded_at = timezone.now()
            changed += ["transaction", "succeeded_at"]
        _transition_write(payment, before, source=source, detail=answer.failure_reason)
        _autopay_outcome(payment)
    return payment


_TRANSITION_SQL = """
WITH moved AS (
    UPDATE billing_payment
       SET status = %(status)s, failure_reason = %(failure)s, provider_payment_id = %(ppid)s,
           confirmation_url = %(url)s, provider_data = %(data)s::jsonb, method_id = %(method)s,
           transaction_id = %(tx)s, succeeded_at = %(succeeded)s, updated_at = now()
     WHERE id = %(id)s
 RETURNING id
), step AS (
    INSERT INTO billing_paymentstatechange (payment_id, from_status, to_status, source, detail, at)
    SELECT id, %(before)s, %(status)s, %(source)s, %(detail)s, now() FROM moved
)
INSERT INTO billing_event (type, payload, customer_id, created_at, attempts, last_error)
SELECT x.type, x.payload::jsonb, x.customer_id, now(), 0, ''
  FROM json_to_recordset(%(events)s::json) AS x(type varchar, payload json, customer_id bigint)
"""


def _transition_write(payment: Payment, before: str, *, source: str, detail: str) -> None:
    """A locked payment's new state, its history step and its events in one statement (every webhook runs it)."""
    rows = _outcome_rows(payment)
    with connection.cursor() as cursor:
        cursor.execute(
            _TRANSITION_SQL,
            {
                "id": payment.pk,
                "status": payment.status,
                "failure": payment.failure_reason,
                "ppid": payment.provider_payment_id,
                "url": payment.confirmation_url,
                "data": json.dumps(payment.provider_data),
                "method": payment.method_id,
                "tx": payment.transaction_id,
                "succeeded": payment.succeeded_at,
                "before": before,
                "source": source[:20],
                "detail": (detail or "")[:255],
                "events": rows_json([{"type": t, "customer_id": c, "payload": p} for t, c, p in rows]),
            },
        )
    if rows:
        outbox_kick()


def _method_save(customer: Customer, provider: str, answer: ProviderPayment) -> PaymentMethod:
    method, _created = PaymentMethod.objects.update_or_create(
        provider=provider,
        provider_method_id=answer.method_id,
        defaults={
            "customer": customer,
            "title": answer.method_title[:100],
            "expires_on": answer.method_expires,
            "provider_customer_ref": answer.customer_ref,
            "is_active": True,
        },
    )
    return method


def _credit(customer: Customer, payment: Payment) -> Transaction:
    """The one ledger credit of a payment: provider clearing → customer balance, keyed by the payment. Its events
    (balance.credited, then payment.succeeded) are written by `_outcome_event`, in one statement."""
    money = payment.amount
    currency = money.currency.code
    memo = payment.description[:255]
    accounts = AccountResolver()
    accounts.prefetch(customers=[(customer.pk, currency)], clearing=[(payment.provider, currency)])
    posted = ledger_post(
        kind=Transaction.Kind.PAYMENT,
        key=f"payment:{payment.pk}",
        legs=[
            Leg(accounts.clearing(payment.provider, currency), money.amount, currency, memo),
            Leg(accounts.customer(customer.pk, currency), -money.amount, currency, memo),
        ],
        customer=customer,
        source_type="payment",
        source_id=str(payment.pk),
        description=memo,
        created_by=payment.created_by,
        metadata={"provider": payment.provider, "provider_payment_id": payment.provider_payment_id or ""},
    )
    if customer.past_due_since is not None:  # read under the customer's lock: nothing to clear otherwise
        customers_past_due_clear(customer_ids=[customer.pk])
    return posted


_OUTCOME_EVENTS = {
    Payment.Status.SUCCEEDED: events.PAYMENT_SUCCEEDED,
    Payment.Status.CANCELED: events.PAYMENT_CANCELED,
    Payment.Status.FAILED: events.PAYMENT_FAILED,
}


def _outcome_event(payment: Payment) -> None:
    """payment.succeeded (after balance.credited) / .canceled / .failed, in one statement."""
    event_emit_rows(_outcome_rows(payment))


def _outcome_rows(payment: Payment) -> list[tuple[str, int, dict]]:
    if payment.status not in _OUTCOME_EVENTS:
        return []
    rows = []
    if payment.status == Payment.Status.SUCCEEDED:
        rows.append(
            (
                events.BALANCE_CREDITED,
                payment.customer_id,
                events.payload_of(
                    events.BalanceCredited(
                        customer_id=payment.customer_id,
                        amount=str(payment.amount.amount),
                        currency=payment.amount.currency.code,
                        transaction_id=payment.transaction_id,
                        payment_id=payment.pk,
                    )
                ),
            )
        )
    rows.append(
        (
            _OUTCOME_EVENTS[payment.status],
            payment.customer_id,
            events.payload_of(
                events.PaymentEvent(
                    payment_id=payment.pk,
                    customer_id=payment.customer_id,
                    kind=payment.kind,
                    provider=payment.provider,
                    status=payment.status,
                    amount=str(payment.amount.amount),
                    currency=payment.amount.currency.code,
                    transaction_id=payment.transaction_id,
                    invoice_number=payment.invoice_number,
                    failure_reason=payment.failure_reason,
                )
            ),
        )
    )
    return rows


def _autopay_outcome(payment: Payment) -> None:
    if payment.kind == Payment.Kind.AUTOPAY:
        from billing.services.autopay import autopay_outcome

        autopay_outcome(payment=payment)


def payment_refresh(*, payment_id: int, source: str = "poll") -> Payment:
    """Read a pending payment back from its provider and apply the answer (the return page, a stale payment)."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.status == Payment.Status.CREATED:
        return payment_submit(payment_id=payment.pk)
    if payment.status in Payment.FINAL or payment.provider in OFFLINE_PROVIDERS or not payment.provider_payment_id:
        return payment
    try:
        answer = provider_get(payment.provider).payment_fetch(provider_payment_id=payment.provider_payment_id)
    except ProviderUnavailable as exc:
        raise PaymentProviderUnavailable(_("The payment provider did not answer; try again later.")) from exc
    return payment_apply(payment_id=payment.pk, answer=answer, source=source)


def payment_notification_handle(*, provider: str, body: bytes, headers: dict[str, str], remote_ip: str) -> str:
    """A provider's webhook: verified by the adapter (signature, or IP and a re-fetch), then applied. Returns what
    was done; raises NotificationRejected (answered 400) for a bad signature or an unknown payment."""
    if provider not in provider_codes() or provider in OFFLINE_PROVIDERS:
        raise NotificationRejected(f"unknown provider {provider!r}")
    notification = provider_get(provider).notification_verify(body=body, headers=headers, remote_ip=remote_ip)
    if notification.ignored:
        return "ignored"
    if notification.refund is not None:
        from billing.services.refunds import refund_notification_apply

        return refund_notification_apply(
            provider=provider, provider_payment_id=notification.provider_payment_id, answer=notification.refund
        )
    answer = notification.payment
    # no ORDER BY (as .first() would add): the unique (provider, provider payment id) index answers alone
    found = next(
        iter(
            Payment.objects.filter(provider=provider, provider_payment_id=answer.provider_payment_id).values_list(
                "pk", "customer_id"
            )[:1]
        ),
        None,
    )
    if found is None:
        raise NotificationRejected(f"unknown {provider} payment {answer.provider_payment_id!r}")
    payment = payment_apply(payment_id=found[0], answer=answer, source="webhook", customer_id=found[1])
    return payment.status


def payment_manual_record(
    *,
    customer_id: int,
    amount: Decimal,
    method: str,
    reason: str,
    currency: str | None = None,
    invoice_number: str = "",
    created_by: str = "",
) -> Payment:
    """Money an accountant received outside the providers (cash, a transfer seen outside a statement): a succeeded
    payment and its credit at once, with the reason recorded."""
    if method not in OFFLINE_PROVIDERS:
        raise PaymentInvalid(_("Unknown payment method %(method)r.") % {"method": method}, field="method")
    if not reason or not reason.strip():
        raise PaymentInvalid(_("A reason is required for a manual payment."), field="reason")
    with transaction.atomic(durable=True):
        customer, currency = _customer_for_payment(customer_id, currency)
        _amount_check(amount, currency)
        return _offline_payment_post(
            customer=customer,
            kind=Payment.Kind.MANUAL,
            provider=method,
            amount=Money(amount, currency),
            description=reason.strip(),
            invoice_number=invoice_number,
            created_by=created_by,
            source="admin" if created_by else "system",
        )


def _offline_payment_post(
    *,
    customer: Customer,
    kind: str,
    provider: str,
    amount: Money,
    description: str,
    invoice_number: str,
    created_by: str,
    source: str,
    provider_payment_id: str | None = None,
) -> Payment:
    """Inside the caller's transaction, with the customer locked: a succeeded payment and its credit."""
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                customer=customer,
                kind=kind,
                provider=provider,
                amount=amount,
                description=description[:255],
                invoice_number=invoice_number[:64],
                created_by=created_by,
                provider_payment_id=provider_payment_id,
                status=Payment.Status.CREATED,
            )
    except IntegrityError:  # the same bank document again: the first one stands
        return Payment.objects.get(provider=provider, provider_payment_id=provider_payment_id)
    payment.provider_key = f"payment-{payment.pk}"
    payment.transaction = _credit(customer, payment)
    payment.status = Payment.Status.SUCCEEDED
    payment.succeeded_at = timezone.now()
    payment.save(update_fields=["provider_key", "transaction", "status", "succeeded_at", "updated_at"])
    _state_change(payment, Payment.Status.CREATED, source=source, detail=created_by)
    _outcome_event(payment)
    return payment


def payments_resubmit(*, older_than_seconds: int = 60, limit: int = 100) -> int:
    """Beat: payments whose provider call was lost (still `created`) are submitted again with the same key; pending
    ones older than an hour are read back (a webhook that never came). Returns how many were looked at."""
    now = timezone.now()
    created = list(
        Payment.objects.filter(
            status=Payment.Status.CREATED,
            created_at__lt=now - timezone.timedelta(seconds=older_than_seconds),
        )
        .exclude(provider__in=OFFLINE_PROVIDERS)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    pending = list(
        Payment.objects.filter(status=Payment.Status.PENDING, updated_at__lt=now - timezone.timedelta(hours=1))
        .exclude(provider__in=OFFLINE_PROVIDERS)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    for payment_id in created + pending:
        try:
            payment_refresh(payment_id=payment_id, source="retry")
        except (PaymentProviderUnavailable, PaymentInvalid) as exc:
            logger.warning("payment %s not refreshed: %s", payment_id, exc)
    return len(created) + len(pending)


def payment_testmode_checkout(*, provider_payment_id: str, card: str | None) -> Payment:
    """The test-mode checkout page's decision: `card` paid (a test card number) or None (the customer canceled).
    Recorded as the simulated provider's own state, then delivered as a signed webhook to the same handler a real
    provider calls, so everything after it is the real path."""
    import json

    from billing.providers import testmode

    if not settings.PAYMENTS_TEST_MODE:
        raise PaymentNotFound(_("Payment not found."))
    digits = "".join(ch for ch in (card or "") if ch.isdigit())
    if card is not None and digits not in testmode.CARDS:
        raise PaymentInvalid(_("Use one of the test cards listed on this page."), field="card")
    with transaction.atomic(durable=True):
        payment = (
            Payment.objects.select_for_update(of=("self",), no_key=True)
            .filter(provider="test", provider_payment_id=provider_payment_id)
            .first()
        )
        if payment is None:
            raise PaymentNotFound(_("Payment not found."))
        if payment.status != Payment.Status.PENDING or "test_checkout" in payment.provider_data:
            return payment
        state = testmode.CARDS[digits][1] if card is not None else PaymentState.CANCELED
        obj = testmode.payment_object(
            provider_payment_id=provider_payment_id,
            state=state,
            amount=payment.amount.amount,
            currency=payment.amount.currency.code,
            card=digits,
            save=payment.save_method,
        )
        if card is None:
            obj["failure_reason"] = "canceled_by_customer"
        payment.provider_data = {**payment.provider_data, "test_checkout": obj}
        payment.save(update_fields=["provider_data", "updated_at"])
    body = json.dumps({"type": "notification", "event": f"payment.{state.value}", "object": obj}).encode()
    payment_notification_handle(
        provider="test",
        body=body,
        headers={testmode.SIGNATURE_HEADER: testmode.webhook_sign(body)},
        remote_ip="127.0.0.1",
    )
    return Payment.objects.get(pk=payment.pk)
