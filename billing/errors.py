from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError, Conflict, NotFound


class CustomerNotFound(NotFound):
    code = "customer_not_found"


class CustomerClosed(ApplicationError):
    code = "customer_closed"


class BalanceNotZero(ApplicationError):
    code = "balance_not_zero"


class InsufficientFunds(ApplicationError):
    """A prepaid customer's balance plus credit limit does not cover an immediate charge or a debit: 402 with
    `needed`, `available` and `currency`."""

    code = "insufficient_funds"
    status = 402
    title = _("Insufficient funds")


class CurrencyMismatch(ApplicationError):
    """A customer has one currency: nothing is posted to it in another."""

    code = "currency_mismatch"
    title = _("Currency mismatch")


class UnbalancedTransaction(ApplicationError):
    code = "unbalanced_transaction"


class InvalidPosting(ApplicationError):
    code = "invalid_posting"


class InvalidAmount(ApplicationError):
    """An amount with more decimals than its currency has (1.234 RUB): refused, never rounded silently."""

    code = "invalid_amount"


class IdempotencyConflict(ApplicationError):
    """The same idempotency key was used before with different content."""

    code = "idempotency_key_reused"
    title = _("Idempotency key reused with different content")


class AlreadyReversed(Conflict):
    code = "already_reversed"


class PaymentNotFound(NotFound):
    code = "payment_not_found"


class PaymentInvalid(ApplicationError):
    """A payment or refund request that breaks a rule (amount, currency, provider, state)."""

    code = "payment_invalid"


class PaymentProviderUnavailable(ApplicationError):
    """The provider did not answer (timeout, 5xx): the payment is recorded and will be retried."""

    code = "payment_provider_unavailable"
    status = 503
    title = _("The payment provider is unavailable")


class RefundNotAllowed(Conflict):
    code = "refund_not_allowed"


class BankStatementInvalid(ApplicationError):
    """A statement file that cannot be imported: `extra["errors"]` lists {line, message}."""

    code = "bank_statement_invalid"
    title = _("The bank statement cannot be imported")


class PortalUserInvalid(ApplicationError):
    code = "portal_user_invalid"


class SignInThrottled(ApplicationError):
    code = "sign_in_throttled"
    status = 429
