"""Outbox event types of the plans app (payloads are plain dicts of ids, dates and decimal strings)."""

SUBSCRIPTION_CREATED = "subscription.created"
SUBSCRIPTION_UPDATED = "subscription.updated"
SUBSCRIPTION_CANCELED = "subscription.canceled"
SUBSCRIPTION_PAUSED = "subscription.paused"
SUBSCRIPTION_RESUMED = "subscription.resumed"
SUBSCRIPTION_RENEWED = "subscription.renewed"
SUBSCRIPTION_SUSPENDED = "subscription.suspended"
SUBSCRIPTION_EXPIRED = "subscription.expired"
CHARGE_POSTED = "charge.posted"


def subscription_ended_row(*, subscription_id: int, customer_id: int, status: str) -> tuple[str, int, dict]:
    """The event of a subscription the billing run canceled (cancel at period end) or suspended (insufficient
    funds), as an outbox row (type, customer id, payload)."""
    canceled = status == "canceled"
    return (
        SUBSCRIPTION_CANCELED if canceled else SUBSCRIPTION_SUSPENDED,
        customer_id,
        {
            "subscription_id": subscription_id,
            "customer_id": customer_id,
            "status": status,
            "reason": "cancel_at_period_end" if canceled else "insufficient_funds",
        },
    )
