from django.urls import path

from billing.api import apis, payments

urlpatterns = [
    path("customers/", apis.CustomerListCreateApi.as_view(), name="customer-list"),
    path("customers/<int:customer_id>/", apis.CustomerDetailApi.as_view(), name="customer-detail"),
    path("customers/<int:customer_id>/close/", apis.CustomerCloseApi.as_view(), name="customer-close"),
    path("customers/<int:customer_id>/balance/", apis.CustomerBalanceApi.as_view(), name="customer-balance"),
    path(
        "customers/<int:customer_id>/transactions/",
        apis.CustomerTransactionListApi.as_view(),
        name="customer-transaction-list",
    ),
    path(
        "customers/<int:customer_id>/transactions/<int:transaction_id>/",
        apis.CustomerTransactionDetailApi.as_view(),
        name="customer-transaction-detail",
    ),
    path("customers/<int:customer_id>/adjustments/", apis.CustomerAdjustmentApi.as_view(), name="customer-adjustment"),
    path(
        "transactions/<int:transaction_id>/reverse/", apis.TransactionReverseApi.as_view(), name="transaction-reverse"
    ),
    path("payments/", payments.PaymentListApi.as_view(), name="payment-list"),
    path("payments/<int:payment_id>/", payments.PaymentDetailApi.as_view(), name="payment-detail"),
    path("payments/<int:payment_id>/refunds/", payments.PaymentRefundApi.as_view(), name="payment-refund"),
    path("customers/<int:customer_id>/top-ups/", payments.CustomerTopUpApi.as_view(), name="customer-topup"),
    path(
        "customers/<int:customer_id>/manual-payments/",
        payments.CustomerManualPaymentApi.as_view(),
        name="customer-manual-payment",
    ),
    path(
        "customers/<int:customer_id>/payment-methods/",
        payments.CustomerPaymentMethodListApi.as_view(),
        name="customer-payment-methods",
    ),
    path("customers/<int:customer_id>/autopay/", payments.CustomerAutopayApi.as_view(), name="customer-autopay"),
    path("bank-statements/", payments.BankStatementListApi.as_view(), name="bank-statement-list"),
    path(
        "bank-statements/<int:statement_id>/", payments.BankStatementDetailApi.as_view(), name="bank-statement-detail"
    ),
    path("bank-transfers/", payments.BankTransferListApi.as_view(), name="bank-transfer-list"),
    path(
        "bank-transfers/<int:transfer_id>/assign/",
        payments.BankTransferAssignApi.as_view(),
        name="bank-transfer-assign",
    ),
]
