from django.urls import path

from plans.api import catalog, estimates, subscription_changes, subscriptions, usage

urlpatterns = [
    path("products/", catalog.ProductListApi.as_view(), name="product-list"),
    path("products/<slug:code>/", catalog.ProductDetailApi.as_view(), name="product-detail"),
    path("plans/", catalog.PlanListApi.as_view(), name="plan-list"),
    path("plans/<slug:code>/", catalog.PlanDetailApi.as_view(), name="plan-detail"),
    path("bundles/", catalog.BundleListApi.as_view(), name="bundle-list"),
    path("bundles/<slug:code>/", catalog.BundleDetailApi.as_view(), name="bundle-detail"),
    path("subscriptions/", subscriptions.SubscriptionListCreateApi.as_view(), name="subscription-list"),
    path(
        "subscriptions/<int:subscription_id>/",
        subscriptions.SubscriptionDetailApi.as_view(),
        name="subscription-detail",
    ),
    path(
        "subscriptions/<int:subscription_id>/change/",
        subscription_changes.SubscriptionChangeApi.as_view(),
        name="subscription-change",
    ),
    path(
        "subscriptions/<int:subscription_id>/cancel/",
        subscription_changes.SubscriptionCancelApi.as_view(),
        name="subscription-cancel",
    ),
    path(
        "subscriptions/<int:subscription_id>/pause/",
        subscription_changes.SubscriptionPauseApi.as_view(),
        name="subscription-pause",
    ),
    path(
        "subscriptions/<int:subscription_id>/resume/",
        subscription_changes.SubscriptionResumeApi.as_view(),
        name="subscription-resume",
    ),
    path(
        "subscriptions/<int:subscription_id>/options/",
        subscription_changes.SubscriptionOptionAddApi.as_view(),
        name="subscription-option-add",
    ),
    path(
        "subscriptions/<int:subscription_id>/options/<slug:code>/remove/",
        subscription_changes.SubscriptionOptionRemoveApi.as_view(),
        name="subscription-option-remove",
    ),
    path("usage-events/", usage.UsageEventBatchApi.as_view(), name="usage-event-batch"),
    path(
        "customers/<int:customer_id>/upcoming-charges/",
        estimates.CustomerUpcomingChargesApi.as_view(),
        name="customer-upcoming-charges",
    ),
]
