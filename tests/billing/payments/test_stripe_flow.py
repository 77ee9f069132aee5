"""A top-up through Stripe end to end, HTTP intercepted (no network): a Checkout Session with our key, then the
signed `checkout.session.completed` webhook posted to our endpoint credits the balance once; a tampered one is
refused with 400 and credits nothing."""

from __future__ import annotations

import pytest
import responses

from billing.models import Transaction
from billing.services.payments import payment_topup_create
from tests.billing.payments.helpers import D, funds
from tests.billing.providers.test_stripe import API, SESSION_ID, event_body, session_json, signed

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def stripe_keys(settings):
    from tests.billing.providers.test_stripe import SECRET_KEY, WEBHOOK_SECRET

    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET


def test_a_stripe_checkout_paid_credits_once_through_the_webhook_endpoint(client, make_customer):
    # given a USD customer starting a 610.00 top-up through Stripe
    customer = make_customer(name="Acme Inc", currency="USD", billing_emails=["ap@acme.example"])
    with responses.RequestsMock() as http:
        http.post(f"{API}/checkout/sessions", json=session_json(amount_total=61000, amount_subtotal=61000))
        payment = payment_topup_create(customer_id=customer.pk, amount=D("610.00"), provider="stripe")
        assert http.calls[0].request.headers["Idempotency-Key"] == f"payment-{payment.pk}"
    assert (payment.status, payment.provider_payment_id) == ("pending", SESSION_ID)
    assert payment.confirmation_url.startswith("https://checkout.stripe.com/")

    # when Stripe posts the signed completion event three times, and once tampered with
    paid = session_json(
        amount_total=61000, amount_subtotal=61000, status="complete", payment_status="paid", payment_intent="pi_1"
    )
    body = event_body("checkout.session.completed", paid)
    answers = [
        client.post("/payments/webhooks/stripe/", body, content_type="application/json", headers=signed(body))
        for _ in range(3)
    ]
    tampered = body.replace("61000", "91000")
    refused = client.post("/payments/webhooks/stripe/", tampered, content_type="application/json", headers=signed(body))

    # then credited once; the tampered one is 400
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert refused.status_code == 400
    assert funds(customer) == D("610.00")
    assert Transaction.objects.filter(customer=customer, kind="payment").count() == 1
    payment.refresh_from_db()
    assert (payment.status, payment.provider_data.get("payment_intent")) == ("succeeded", "pi_1")
