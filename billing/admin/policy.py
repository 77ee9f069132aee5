"""The billing policy: one row of business rules edited here (grace days, postpaid terms, chunk size)."""

from __future__ import annotations

from django.contrib import admin

from billing.models import BillingPolicy


@admin.register(BillingPolicy)
class BillingPolicyAdmin(admin.ModelAdmin):
    """One row of business policy, edited here (grace days, postpaid terms, chunk size)."""

    list_display = (
        "__str__",
        "grace_days",
        "prepaid_new_subscription",
        "postpaid_due_days",
        "chunk_size",
        "updated_at",
    )

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not BillingPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
