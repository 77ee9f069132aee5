from django.urls import path

from documents.api import apis

urlpatterns = [
    path("invoices/", apis.InvoiceListApi.as_view(), name="invoice-list"),
    path("invoices/<int:invoice_id>/", apis.InvoiceDetailApi.as_view(), name="invoice-detail"),
]
