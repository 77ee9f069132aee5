from django.urls import path

from billing import payment_views

app_name = "payments"
urlpatterns = [
    path("webhooks/<str:provider>/", payment_views.provider_webhook, name="webhook"),
    path("test-checkout/<str:provider_payment_id>/", payment_views.testmode_checkout, name="test-checkout"),
]
