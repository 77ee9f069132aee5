from billing.models.api import ApiKey, IdempotencyRecord
from billing.models.customers import Customer
from billing.models.ledger import Account, AccountBalanceSlot, Entry, LedgerVerification, Transaction
from billing.models.outbox import Event, EventDelivery, WebhookEndpoint
from billing.models.payments import (
    Autopay,
    BankStatement,
    BankTransfer,
    Payment,
    PaymentMethod,
    PaymentStateChange,
    Refund,
)
from billing.models.policy import BillingPolicy
from billing.models.portal import CustomerUser, SignInAttempt
from billing.models.sellers import Seller, SellerBankAccount, SellerSignatory, SellerVatRate

__all__ = [
    "Account",
    "Autopay",
    "BankStatement",
    "BankTransfer",
    "AccountBalanceSlot",
    "ApiKey",
    "BillingPolicy",
    "Customer",
    "CustomerUser",
    "Entry",
    "Event",
    "EventDelivery",
    "IdempotencyRecord",
    "LedgerVerification",
    "Payment",
    "PaymentMethod",
    "PaymentStateChange",
    "Refund",
    "Seller",
    "SellerBankAccount",
    "SellerSignatory",
    "SellerVatRate",
    "SignInAttempt",
    "Transaction",
    "WebhookEndpoint",
]
