from django.urls import path

from documents.api import apis

urlpatterns = [
    path("invoices/", apis.InvoiceListApi.as_view(), name="invoice-list"),
    path("invoices/<int:invoice_id>/", apis.InvoiceDetailApi.as_view(), name="invoice-detail"),
    path("documents/", apis.DocumentListApi.as_view(), name="document-list"),
    path("documents/payment-invoices/", apis.PaymentInvoiceCreateApi.as_view(), name="document-payment-invoice"),
    path("documents/<int:document_id>/", apis.DocumentDetailApi.as_view(), name="document-detail"),
    path("documents/<int:document_id>/pdf/", apis.DocumentPdfApi.as_view(), name="document-pdf"),
    path("documents/<int:document_id>/xml/", apis.DocumentXmlApi.as_view(), name="document-xml"),
]
