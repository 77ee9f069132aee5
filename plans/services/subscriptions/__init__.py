"""Subscription services, one module per use case: create, change (plan and quantity), lifecycle (cancel, pause,
resume, resumption after suspension), options and coupons; `common` holds what they share.

Each top-level service owns its transaction, locks the subscription, checks the source state, posts its charges
through plans.services.posting (a Charge guard row and billing's ledger) and writes its events. Money moves
through `Charge` rows: one per (subscription, period, kind) for period charges, one per idempotency key for
changes, so a retried request never charges twice. The services are imported from here.
"""

from plans.services.subscriptions.change import ChangePreview, subscription_change_plan, subscription_change_preview
from plans.services.subscriptions.common import MAX_QUANTITY
from plans.services.subscriptions.coupons import subscription_coupon_apply
from plans.services.subscriptions.create import subscription_create
from plans.services.subscriptions.lifecycle import (
    subscription_cancel,
    subscription_pause,
    subscription_resume,
    subscriptions_reactivate_for_customer,
)
from plans.services.subscriptions.options import subscription_option_add, subscription_option_remove

__all__ = [
    "MAX_QUANTITY",
    "ChangePreview",
    "subscription_cancel",
    "subscription_change_plan",
    "subscription_change_preview",
    "subscription_coupon_apply",
    "subscription_create",
    "subscription_option_add",
    "subscription_option_remove",
    "subscription_pause",
    "subscription_resume",
    "subscriptions_reactivate_for_customer",
]
