"""The event outbox (read only, with redelivery) and the webhook endpoints it delivers to."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from billing.forms import WebhookEndpointForm
from billing.models import Event, EventDelivery, WebhookEndpoint
from billing.services.outbox import event_redeliver
from config.admin import ReadOnlyModelAdmin, ReadOnlyTabularInline


class DispatchedFilter(admin.SimpleListFilter):
    title = gettext_lazy("delivery")
    parameter_name = "delivery"

    def lookups(self, request, model_admin):
        return [("pending", _("Pending")), ("dispatched", _("Dispatched")), ("failing", _("Failing (with an error)"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "pending":
            return queryset.filter(dispatched_at=None)
        if value == "dispatched":
            return queryset.exclude(dispatched_at=None)
        if value == "failing":
            return queryset.filter(dispatched_at=None).exclude(last_error="")
        return queryset


class EventDeliveryInline(ReadOnlyTabularInline):
    model = EventDelivery
    fields = ("subscriber", "delivered_at")
    readonly_fields = fields


@admin.register(Event)
class EventAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "type", "customer", "created_at", "dispatched_at", "attempts", "short_error")
    list_filter = ("type", DispatchedFilter, "created_at")
    search_fields = ("type", "customer__name", "customer__external_id", "last_error")
    list_select_related = ("customer",)
    date_hierarchy = "created_at"
    inlines = [EventDeliveryInline]
    actions = ["redeliver"]
    fields = ("type", "customer", "payload", "created_at", "dispatched_at", "attempts", "next_attempt_at", "last_error")
    readonly_fields = fields

    def has_redeliver_permission(self, request) -> bool:
        return request.user.has_perm("billing.change_event")

    @admin.display(description=gettext_lazy("Last error"))
    def short_error(self, obj: Event) -> str:
        return Truncator(obj.last_error).chars(80)

    @admin.action(description=gettext_lazy("Redeliver selected events"), permissions=["redeliver"])
    def redeliver(self, request, queryset):
        ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        for event_id in ids:
            event_redeliver(event_id=event_id)
        self.message_user(
            request,
            ngettext("%(count)d event will be delivered again.", "%(count)d events will be delivered again.", len(ids))
            % {"count": len(ids)},
            messages.SUCCESS,
        )


@admin.register(EventDelivery)
class EventDeliveryAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "event", "subscriber", "delivered_at")
    list_filter = ("subscriber",)
    search_fields = ("subscriber", "event__type")
    list_select_related = ("event",)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("url", "is_active", "event_types", "description", "created_at")
    list_filter = ("is_active",)
    search_fields = ("url", "description")
