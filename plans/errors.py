from config.errors import ApplicationError, NotFound


class PlanNotFound(NotFound):
    code = "plan_not_found"


class OptionNotFound(NotFound):
    code = "option_not_found"


class SubscriptionNotFound(NotFound):
    code = "subscription_not_found"


class MetricNotFound(NotFound):
    code = "metric_not_found"


class CurrencyMismatch(ApplicationError):
    code = "currency_mismatch"


class InvalidQuantity(ApplicationError):
    code = "invalid_quantity"


class InvalidSubscriptionState(ApplicationError):
    code = "invalid_subscription_state"


class CouponInvalid(ApplicationError):
    code = "coupon_invalid"


class OptionNotAllowed(ApplicationError):
    code = "option_not_allowed"
