from django.urls import path

from plans.api import apis

urlpatterns = [
    path("products/", apis.ProductListApi.as_view(), name="product-list"),
    path("products/<slug:code>/", apis.ProductDetailApi.as_view(), name="product-detail"),
    path("plans/", apis.PlanListApi.as_view(), name="plan-list"),
    path("plans/<slug:code>/", apis.PlanDetailApi.as_view(), name="plan-detail"),
    path("bundles/", apis.BundleListApi.as_view(), name="bundle-list"),
    path("bundles/<slug:code>/", apis.BundleDetailApi.as_view(), name="bundle-detail"),
    path("subscriptions/", apis.SubscriptionListCreateApi.as_view(), name="subscription-list"),
    path("subscriptions/<int:subscription_id>/", apis.SubscriptionDetailApi.as_view(), name="subscription-detail"),
    path(
        "subscriptions/<int:subscription_id>/change/", apis.SubscriptionChangeApi.as_view(), name="subscription-change"
    ),
    path(
        "subscriptions/<int:subscription_id>/cancel/", apis.SubscriptionCancelApi.as_view(), name="subscription-cancel"
    ),
    path("subscriptions/<int:subscription_id>/pause/", apis.SubscriptionPauseApi.as_view(), name="subscription-pause"),
    path(
        "subscriptions/<int:subscription_id>/resume/", apis.SubscriptionResumeApi.as_view(), name="subscription-resume"
    ),
    path(
        "subscriptions/<int:subscription_id>/options/",
        apis.SubscriptionOptionAddApi.as_view(),
        name="subscription-option-add",
    ),
    path(
        "subscriptions/<int:subscription_id>/options/<slug:code>/remove/",
        apis.SubscriptionOptionRemoveApi.as_view(),
        name="subscription-option-remove",
    ),
    path("usage-events/", apis.UsageEventBatchApi.as_view(), name="usage-event-batch"),
    path(
        "customers/<int:customer_id>/upcoming-charges/",
        apis.CustomerUpcomingChargesApi.as_view(),
        name="customer-upcoming-charges",
    ),
]
