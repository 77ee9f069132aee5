"""The YooKassa adapter (API v3 through the official `yookassa` SDK): hosted checkout, autopay with a saved
method, 54-FZ receipts, refunds and HTTP notifications.

YooKassa signs nothing, so a notification is trusted only from its networks (YOOKASSA_TRUSTED_NETWORKS) and
only for the state that the API reports when the object is read back (yookassa.ru/developers/using-api/webhooks).
"""

from __future__ import annotations

import calendar
import ipaddress
import json
from datetime import date
from decimal import Decimal

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from yookassa import Configuration, Payment, Refund
from yookassa.client import ApiClient
from yookassa.domain.exceptions import ApiError, NotFoundError
from yookassa.domain.models.amount import Amount
from yookassa.domain.notification import WebhookNotificationFactory

from billing.providers import ProviderNotConfigured
from billing.providers.base import (
    CheckoutRequest,
    Notification,
    NotificationRejected,
    PaymentState,
    ProviderError,
    ProviderPayment,
    ProviderRefund,
    ProviderRejected,
    ProviderUnavailable,
    RefundState,
)

_PAYMENT_STATES = {
    "pending": PaymentState.PENDING,
    "waiting_for_capture": PaymentState.PENDING,
    "succeeded": PaymentState.SUCCEEDED,
    "canceled": PaymentState.CANCELED,
}
_REFUND_STATES = {
    "pending": RefundState.PENDING,
    "succeeded": RefundState.SUCCEEDED,
    "canceled": RefundState.FAILED,
}
# YooKassa's card_type values, as a customer knows the brands.
_CARD_BRANDS = {
    "MasterCard": "Mastercard",
    "Visa": "Visa",
    "MIR": "Mir",
    "UnionPay": "UnionPay",
    "CUP": "UnionPay",
    "JCB": "JCB",
    "AmericanExpress": "American Express",
    "DinersClub": "Diners Club",
}
_DESCRIPTION_MAX_LENGTH = 128  # the API's limit; the SDK raises on a longer one


class _TimeoutAdapter(HTTPAdapter):
    """The SDK sends its requests without a timeout; this adapter supplies ours (and keeps the SDK's retries)."""

    def __init__(self, *, timeout: float, **kwargs):
        self._timeout = timeout
        super().__init__(**kwargs)

    def send(self, request, timeout=None, **kwargs):
        return super().send(request, timeout=self._timeout if timeout is None else timeout, **kwargs)


class _ApiClient(ApiClient):
    def __init__(self):
        # The SDK reads its credentials from class attributes; set them from the settings for every request.
        if not settings.YOOKASSA_SHOP_ID or not settings.YOOKASSA_SECRET_KEY:
            raise ProviderNotConfigured("YOOKASSA_SHOP_ID and YOOKASSA_SECRET_KEY are not set")
        Configuration.configure(settings.YOOKASSA_SHOP_ID, settings.YOOKASSA_SECRET_KEY)
        super().__init__()

    def get_session(self):
        session = super().get_session()
        retries = session.get_adapter("https://").max_retries
        session.mount("https://", _TimeoutAdapter(timeout=settings.PAYMENTS_TIMEOUT_SECONDS, max_retries=retries))
        return session

    def request(self, *args, **kwargs):
        try:
            return super().request(*args, **kwargs)
        except AttributeError as exc:
            # On a timeout or a refused connection the SDK reads `.status_code` of a missing response; give the
            # caller the network error itself.
            if isinstance(exc.__context__, requests.RequestException):
                raise exc.__context__ from None
            raise


class _Payment(Payment):
    def __init__(self):
        self.client = _ApiClient()


class _Refund(Refund):
    def __init__(self):
        self.client = _ApiClient()


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status behind an SDK error: the SDK raises while handling requests' HTTPError, which has it."""
    seen: BaseException | None = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        if response is not None and getattr(response, "status_code", None) is not None:
            return response.status_code
        seen = seen.__context__
    return None


def _provider_error(exc: Exception) -> ProviderError:
    """Timeouts, connection errors, 5xx, 429 and 202 (still processing) are worth a retry with the same
    idempotency key; any other 4xx is a refusal, described as YooKassa described it."""
    status = _http_status(exc)
    if status is None or status >= 500 or status in (202, 429):
        return ProviderUnavailable(f"YooKassa did not answer (HTTP {status or '-'}): {exc!r}")
    content = getattr(exc, "content", None) or {}
    parts = [content.get("code"), content.get("description"), content.get("parameter")]
    detail = ": ".join(str(part) for part in parts if part) or repr(exc)
    return ProviderRejected(f"YooKassa refused the request (HTTP {status}): {detail}")


def _require_key(idempotency_key: str) -> str:
    # Without one the SDK makes a random key, and a retry after a timeout would create a second payment.
    if not idempotency_key:
        raise ValueError("a YooKassa payment or refund needs our idempotency key")
    return idempotency_key


def _call(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except (ApiError, requests.RequestException) as exc:
        raise _provider_error(exc) from exc


def _money(amount: Decimal) -> str:
    """Amounts are strings with two decimals. The SDK passes a value through float, which is exact for any amount
    below 10**13 with two decimals; refuse a request it would change rather than send a different sum."""
    value = amount.quantize(Decimal("0.01"))
    if value != amount or Amount({"value": value, "currency": "RUB"}).value != value:
        raise ProviderRejected(f"YooKassa cannot take the amount {amount}")
    return str(value)


def _receipt(request: CheckoutRequest) -> dict:
    receipt = request.receipt
    items = []
    for item in receipt.items:
        # The API's item `amount` is the price of one unit; our line carries the line's total.
        unit_price = item.amount / item.quantity
        if unit_price.quantize(Decimal("0.01")) * item.quantity != item.amount:
            raise ProviderRejected(f"receipt line {item.description!r}: {item.amount} is not a whole price per unit")
        items.append(
            {
                "description": item.description[:_DESCRIPTION_MAX_LENGTH],
                "quantity": item.quantity,
                "amount": {"value": _money(unit_price.quantize(Decimal("0.01"))), "currency": request.currency},
                "vat_code": item.vat_code,
                "payment_mode": item.payment_mode,
                "payment_subject": item.payment_subject,
            }
        )
    data = {"customer": {"email": receipt.email}, "items": items}
    if receipt.tax_system_code is not None:
        data["tax_system_code"] = receipt.tax_system_code
    return data


def _last_day(*, year: str | None, month: str | None) -> date | None:
    if not year or not month:
        return None
    return date(int(year), int(month), calendar.monthrange(int(year), int(month))[1])


def _payment(response) -> ProviderPayment:
    """Our view of a PaymentResponse."""
    method = response.payment_method
    method_id = method_title = ""
    method_expires = None
    if method is not None and getattr(method, "saved", False):
        method_id = method.id or ""
        card = getattr(method, "card", None)
        if card is not None:
            brand = _CARD_BRANDS.get(card.card_type or "", "Bank card")
            method_title = f"{brand} •••• {card.last4}"
            method_expires = _last_day(year=card.expiry_year, month=card.expiry_month)
        else:
            method_title = getattr(method, "title", None) or method.type
    failure_reason = ""
    if response.status == "canceled" and response.cancellation_details is not None:
        failure_reason = response.cancellation_details.reason or ""
    confirmation_url = ""
    if response.status == "pending" and response.confirmation is not None:
        confirmation_url = getattr(response.confirmation, "confirmation_url", None) or ""
    return ProviderPayment(
        provider_payment_id=response.id,
        state=_PAYMENT_STATES.get(response.status, PaymentState.PENDING),  # a status new to us is not final
        amount=response.amount.value,
        currency=response.amount.currency,
        confirmation_url=confirmation_url,
        failure_reason=failure_reason,
        method_id=method_id,
        method_title=method_title,
        method_expires=method_expires,
    )


def _refund(response) -> ProviderRefund:
    failure_reason = ""
    if response.status == "canceled" and response.cancellation_details is not None:
        failure_reason = response.cancellation_details.reason or ""
    return ProviderRefund(
        provider_refund_id=response.id,
        state=_REFUND_STATES.get(response.status, RefundState.PENDING),
        amount=response.amount.value,
        currency=response.amount.currency,
        failure_reason=failure_reason,
    )


def _is_trusted(remote_ip: str) -> bool:
    try:
        address = ipaddress.ip_address(remote_ip.strip())
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # "::ffff:185.71.76.1" from a dual-stack socket
    networks = (ipaddress.ip_network(network.strip(), strict=False) for network in settings.YOOKASSA_TRUSTED_NETWORKS)
    return any(address in network for network in networks)


class YooKassaProvider:
    code = "yookassa"
    supports_saved_methods = True
    supports_receipts = True

    def payment_create(self, request: CheckoutRequest) -> ProviderPayment:
        params = {
            "amount": {"value": _money(request.amount), "currency": request.currency},
            "capture": True,
            "description": request.description[:_DESCRIPTION_MAX_LENGTH],
            "metadata": {"payment_id": str(request.payment_id)},
        }
        if request.method_id:
            params["payment_method_id"] = request.method_id  # autopay: no customer, so no confirmation
        else:
            params["confirmation"] = {"type": "redirect", "return_url": request.return_url}
        if request.save_method:
            params["save_payment_method"] = True
        if request.receipt is not None:
            params["receipt"] = _receipt(request)
        return _payment(_call(_Payment.create, params, _require_key(request.idempotency_key)))

    def payment_fetch(self, *, provider_payment_id: str) -> ProviderPayment:
        return _payment(_call(_Payment.find_one, provider_payment_id))

    def refund_create(
        self, *, payment: ProviderPayment, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderRefund:
        params = {
            "payment_id": payment.provider_payment_id,
            "amount": {"value": _money(amount), "currency": currency},
        }
        return _refund(_call(_Refund.create, params, _require_key(idempotency_key)))

    def notification_verify(self, *, body: bytes, headers: dict[str, str], remote_ip: str) -> Notification:
        if not _is_trusted(remote_ip):
            raise NotificationRejected(f"YooKassa notification from an untrusted address {remote_ip!r}")
        try:
            data = json.loads(body)
            notification = WebhookNotificationFactory().create(data)
            event, object_id = notification.event, notification.object.id
        except (ValueError, TypeError, AttributeError) as exc:
            raise NotificationRejected(f"not a YooKassa notification: {exc}") from exc
        if not isinstance(event, str) or not isinstance(object_id, str) or not object_id:
            raise NotificationRejected("not a YooKassa notification: no event or object id")
        # Act on the state the API reports now, never on the body's (which anyone could have sent).
        if event.startswith("payment."):
            return Notification(event=event, payment=_payment(self._fetch(_Payment.find_one, object_id)))
        if event.startswith("refund."):
            refund = self._fetch(_Refund.find_one, object_id)
            return Notification(event=event, refund=_refund(refund), provider_payment_id=refund.payment_id)
        return Notification(event=event, ignored=True)

    @staticmethod
    def _fetch(find_one, object_id: str):
        try:
            return find_one(object_id)
        except NotFoundError as exc:
            raise NotificationRejected(f"YooKassa does not know {object_id!r}") from exc
        except (ApiError, requests.RequestException) as exc:
            raise _provider_error(exc) from exc
