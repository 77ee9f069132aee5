from billing.models.api import ApiKey, IdempotencyRecord
from billing.models.customers import Customer
from billing.models.ledger import Account, AccountBalanceSlot, Entry, LedgerVerification, Transaction
from billing.models.outbox import Event, EventDelivery, WebhookEndpoint
from billing.models.policy import BillingPolicy

__all__ = [
    "Account",
    "AccountBalanceSlot",
    "ApiKey",
    "BillingPolicy",
    "Customer",
    "Entry",
    "Event",
    "EventDelivery",
    "IdempotencyRecord",
    "LedgerVerification",
    "Transaction",
    "WebhookEndpoint",
]
