"""The portal's logins in the admin: accountants add a customer's portal users (an invitation email with a link to
set a password goes out), change their roles and remove them; everyone with access reads the sign-in attempts.
The models are billing's (billing.models.portal); the admin is here because inviting sends the portal's email."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from billing.forms import ServiceErrorsFormMixin, errors_of
from billing.models import CustomerUser, SignInAttempt
from billing.services.portal_access import customer_user_add, customer_user_remove, customer_user_role_set
from config.admin import ReadOnlyModelAdmin, ServiceModelAdmin, ServiceRejected
from config.errors import ApplicationError
from portal.views.auth import send_password_link


class CustomerUserAddForm(ServiceErrorsFormMixin, forms.ModelForm):
    email = forms.EmailField(label=gettext_lazy("Email"))

    class Meta:
        model = CustomerUser
        fields = ("customer", "role")


class CustomerUserChangeForm(ServiceErrorsFormMixin, forms.ModelForm):
    class Meta:
        model = CustomerUser
        fields = ("role",)


@admin.register(CustomerUser)
class CustomerUserAdmin(ServiceModelAdmin):
    list_display = ("email", "customer", "role", "created_at", "last_login")
    list_filter = ("role",)
    search_fields = ("user__email", "customer__name", "customer__inn")
    list_select_related = ("user", "customer")
    autocomplete_fields = ("customer",)
    actions = ["remove_users"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = CustomerUserChangeForm if obj is not None else CustomerUserAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("customer", "email", "role")
        return ("customer", "email", "role", "created_at", "created_by", "last_login")

    def get_readonly_fields(self, request, obj=None):
        return ("customer", "email", "created_at", "created_by", "last_login") if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        return False  # removed by the action, which keeps a customer's last owner

    def has_remove_users_permission(self, request) -> bool:
        return request.user.has_perm("billing.change_customeruser")

    @admin.display(description=gettext_lazy("email"), ordering="user__email")
    def email(self, obj: CustomerUser) -> str:
        return obj.user.email

    @admin.display(description=gettext_lazy("last sign-in"), ordering="user__last_login")
    def last_login(self, obj: CustomerUser):
        return obj.user.last_login

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if change:
                if not self.has_change_permission(request, obj):
                    raise PermissionDenied
                member = customer_user_role_set(customer_id=obj.customer_id, customer_user_id=obj.pk, role=data["role"])
            else:
                member = customer_user_add(
                    customer_id=data["customer"].pk,
                    email=data["email"],
                    role=data["role"],
                    by=f"admin:{request.user.get_username()}",
                )
        except ApplicationError as exc:
            raise ServiceRejected(errors_of(exc)) from exc
        if not change:
            send_password_link(request, member, invitation=True)
            self.message_user(
                request, _("An invitation is sent to %(email)s.") % {"email": member.user.email}, messages.SUCCESS
            )
        obj.pk = member.pk
        obj._state.adding = False
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        pass

    @admin.action(description=gettext_lazy("Remove the selected portal users"), permissions=["remove_users"])
    def remove_users(self, request, queryset):
        removed = 0
        for member in queryset.order_by("pk"):
            try:
                customer_user_remove(customer_id=member.customer_id, customer_user_id=member.pk)
            except ApplicationError as exc:
                self.message_user(request, f"{member}: {exc.message}", messages.ERROR)
            else:
                removed += 1
        self.message_user(
            request,
            ngettext("%(count)d portal user removed.", "%(count)d portal users removed.", removed) % {"count": removed},
            messages.SUCCESS,
        )


@admin.register(SignInAttempt)
class SignInAttemptAdmin(ReadOnlyModelAdmin):
    list_display = ("at", "email", "ip", "succeeded")
    list_filter = ("succeeded",)
    search_fields = ("email", "ip")
    date_hierarchy = "at"
