from django.utils.translation import gettext_lazy as _

from billing.errors import InsufficientFunds
from config.errors import ApplicationError, Conflict, NotFound


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


class RenewalPending(Conflict):
    """The subscription's period has ended and the billing run has not renewed it yet: an action that prorates
    within a period has no current period to work in until then."""

    code = "renewal_pending"
    title = _("The subscription awaits its renewal")


class CustomerSuspended(InsufficientFunds):
    """A customer whose subscriptions are suspended for insufficient funds buys nothing more (no upgrade, no
    option) until a top-up resumes them."""

    code = "customer_suspended"
    title = _("The customer is suspended for insufficient funds")


class CouponInvalid(ApplicationError):
    code = "coupon_invalid"


class OptionNotAllowed(ApplicationError):
    code = "option_not_allowed"


class BundleNotFound(NotFound):
    code = "bundle_not_found"


class BundleNotPublished(ApplicationError):
    code = "bundle_not_published"


class BundleNotPublishable(ApplicationError):
    code = "bundle_not_publishable"


class PlanOrBundleRequired(ApplicationError):
    code = "plan_or_bundle_required"


class BillingRunInProgress(Conflict):
    """A billing run is running (its lease has not run out): a second one is not started beside it."""

    code = "billing_run_in_progress"
    title = _("A billing run is in progress")
