"""API keys (created by a service, shown once, revoked, never edited) and the Idempotency-Key records."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from billing.forms import ApiKeyCreateForm, ApiKeyWidgetForm, errors_of
from billing.models import ApiKey, IdempotencyRecord
from billing.services.api_keys import api_key_create, api_key_revoke
from billing.services.portal_access import api_key_widget_origins_set, api_key_widget_secret_rotate
from config.admin import ReadOnlyModelAdmin, ServiceModelAdmin, ServiceRejected
from config.errors import ApplicationError


class RevokedFilter(admin.SimpleListFilter):
    title = gettext_lazy("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", _("Active")), ("revoked", _("Revoked"))]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(revoked_at=None)
        if self.value() == "revoked":
            return queryset.exclude(revoked_at=None)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(ServiceModelAdmin):
    """A key is created by api_key_create: its token is shown once, in a message, and only its hash is kept.
    Keys are never edited nor deleted; they are revoked."""

    form = ApiKeyCreateForm
    list_display = (
        "name",
        "prefix",
        "scope",
        "customer",
        "is_active",
        "created_by",
        "created_at",
        "revoked_at",
        "last_used_at",
    )
    list_filter = (RevokedFilter, "scope")
    search_fields = ("name", "prefix", "customer__name")
    list_select_related = ("customer", "created_by")
    autocomplete_fields = ("customer",)
    actions = ["revoke", "widget_secret"]
    readonly_fields = ("prefix", "created_by", "created_at", "revoked_at", "last_used_at")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            kwargs["form"] = ApiKeyWidgetForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "scope", "customer")
        return (
            "name",
            "prefix",
            "scope",
            "customer",
            "created_by",
            "created_at",
            "revoked_at",
            "last_used_at",
            "widget_secret_state",
            "widget_origins",
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        return (*self.readonly_fields, "name", "scope", "customer", "widget_secret_state")

    def has_change_permission(self, request, obj=None):
        """Only the widget's origins of a key that is not revoked change; the key itself never does."""
        if obj is not None and obj.revoked_at is not None:
            return False
        return request.user.has_perm("billing.change_apikey")

    @admin.display(description=gettext_lazy("Widget secret"))
    def widget_secret_state(self, obj: ApiKey) -> str:
        return _("set (kid %(kid)s)") % {"kid": obj.prefix} if obj.widget_secret else _("not set")

    def has_delete_permission(self, request, obj=None):
        return False

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("billing.change_apikey")

    @admin.display(boolean=True, description=gettext_lazy("Active"))
    def is_active(self, obj: ApiKey) -> bool:
        return obj.is_active

    def save_model(self, request, obj, form, change):
        if change:
            if not self.has_change_permission(request, obj):
                raise PermissionDenied
            try:
                api_key_widget_origins_set(api_key_id=obj.pk, origins=form.cleaned_data["widget_origins"])
            except ApplicationError as exc:
                raise ServiceRejected(errors_of(exc)) from exc
            obj.refresh_from_db()
            return
        data = form.cleaned_data
        customer = data.get("customer")
        try:
            api_key, raw = api_key_create(
                name=data["name"],
                scope=data["scope"],
                customer_id=customer.pk if customer else None,
                created_by=request.user,
            )
        except (ApplicationError, ValidationError) as exc:
            raise ServiceRejected(errors_of(exc)) from exc
        obj.pk = api_key.pk
        obj._state.adding = False
        obj.refresh_from_db()
        self.message_user(
            request,
            format_html(
                _("The key for “{}” is <code>{}</code>. Copy it now: it is not stored and will not be shown again."),
                api_key.name,
                raw,
            ),
            messages.SUCCESS,
        )

    def save_related(self, request, form, formsets, change):
        pass  # no m2m, no inlines

    @admin.action(description=gettext_lazy("Generate a new widget secret"), permissions=["revoke"])
    def widget_secret(self, request, queryset):
        """The secret the SaaS's back end signs widget tokens with; the old one stops working at once."""
        for api_key in queryset.filter(revoked_at=None).order_by("pk"):
            secret = api_key_widget_secret_rotate(api_key_id=api_key.pk)
            self.message_user(
                request,
                format_html(
                    _("Widget secret of “{}” (kid <code>{}</code>): <code>{}</code>"),
                    api_key.name,
                    api_key.prefix,
                    secret,
                ),
                messages.SUCCESS,
            )

    @admin.action(description=gettext_lazy("Revoke selected keys"), permissions=["revoke"])
    def revoke(self, request, queryset):
        ids = list(queryset.filter(revoked_at=None).order_by("pk").values_list("pk", flat=True))
        for api_key_id in ids:
            api_key_revoke(api_key_id=api_key_id)
        self.message_user(
            request,
            ngettext("%(count)d key revoked.", "%(count)d keys revoked.", len(ids)) % {"count": len(ids)},
            messages.SUCCESS,
        )


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "api_key", "key", "state", "response_status", "created_at", "completed_at")
    list_filter = ("state", "response_status")
    search_fields = ("key",)
    list_select_related = ("api_key",)
