"""Outbox subscribers of the billing app; imported from BillingConfig.ready().

`billing.webhooks` POSTs every event to the integrator's active webhook endpoints as signed JSON:
    Billing-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the endpoint secret>
Receivers deduplicate on the event id (delivery is at least once).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from billing.events import subscriber
from billing.models import Event, WebhookEndpoint


class WebhookDeliveryFailed(Exception):
    pass


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def webhook_body(event: Event) -> bytes:
    document = {
        "id": event.pk,
        "type": event.type,
        "created_at": event.created_at,
        "customer_id": event.customer_id,
        "data": event.payload,
    }
    return json.dumps(document, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


@subscriber("billing.webhooks")
def deliver_webhooks(event: Event) -> None:
    endpoints = [e for e in WebhookEndpoint.objects.filter(is_active=True) if e.wants(event.type)]
    if not endpoints:
        return
    body = webhook_body(event)
    errors = []
    for endpoint in endpoints:
        timestamp = int(time.time())
        request = urllib.request.Request(  # noqa: S310 - integrator-configured http(s) URL
            endpoint.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "billing-webhooks/1",
                "Billing-Event-Id": str(event.pk),
                "Billing-Signature": webhook_signature(secret=endpoint.secret, timestamp=timestamp, body=body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:  # noqa: S310
                if not 200 <= response.status < 300:
                    errors.append(f"{endpoint.url}: HTTP {response.status}")
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            errors.append(f"{endpoint.url}: {exc}")
    if errors:
        raise WebhookDeliveryFailed("; ".join(errors))
