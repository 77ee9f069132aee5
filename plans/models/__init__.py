from plans.models.catalog import (
    Bundle,
    BundleItem,
    BundlePrice,
    Coupon,
    Option,
    OptionPrice,
    Plan,
    PlanPrice,
    Product,
    Promotion,
    UsageCharge,
    UsageMetric,
)
from plans.models.subscriptions import (
    Charge,
    ScheduledChange,
    Subscription,
    SubscriptionDiscount,
    SubscriptionOption,
    UsageEvent,
)

__all__ = [
    "Bundle", "BundleItem", "BundlePrice", "Charge", "Coupon", "Option", "OptionPrice", "Plan", "PlanPrice",
    "Product", "Promotion", "ScheduledChange", "Subscription", "SubscriptionDiscount", "SubscriptionOption",
    "UsageCharge", "UsageEvent", "UsageMetric",
]
