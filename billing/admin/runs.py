"""Billing runs, read only. Alone in this module: it follows the BillingRun model when that moves to plans."""

from __future__ import annotations

from django.contrib import admin

from billing.models import BillingRun
from config.admin import ReadOnlyModelAdmin


@admin.register(BillingRun)
class BillingRunAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "as_of",
        "status",
        "started_at",
        "finished_at",
        "due_at_start",
        "processed",
        "charged",
        "suspended",
        "failed",
        "chunks",
    )
    list_filter = ("status",)
    date_hierarchy = "started_at"
