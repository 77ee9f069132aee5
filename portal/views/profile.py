"""The customer's own data: company requisites (checked by the customer model's rules: ИНН and КПП check digits),
billing emails, and the people who may sign in with their roles."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from billing.models import CustomerUser
from billing.services.customers import customer_update
from billing.services.portal_access import customer_user_add, customer_user_remove, customer_user_role_set
from config.errors import ApplicationError, NotFound
from portal.access import portal_view
from portal.forms import ProfileForm, UserAddForm, UserRoleForm, add_service_error
from portal.views.auth import send_password_link

PROFILE_FIELDS = ("name", "legal_name", "inn", "kpp", "legal_address", "phone", "billing_emails")


def _members(customer):
    return list(CustomerUser.objects.filter(customer=customer).select_related("user").order_by("id"))


def _page(request, *, form=None, user_form=None, status=200):
    customer = request.portal.customer
    if form is None:
        initial = {name: getattr(customer, name) for name in PROFILE_FIELDS}
        initial["billing_emails"] = "\n".join(customer.billing_emails)
        form = ProfileForm(initial=initial)
    can_edit = request.portal.allows("profile")
    if not can_edit:
        for field in form.fields.values():
            field.disabled = True
    can_manage = request.portal.allows("users")
    return render(
        request,
        "portal/profile.html",
        {
            "form": form,
            "can_edit": can_edit,
            "can_manage_users": can_manage,
            "members": _members(customer) if can_manage else [],
            "user_form": user_form or UserAddForm(),
            "roles": CustomerUser.Role.choices,
        },
        status=status,
    )


@portal_view("view")
@require_http_methods(["GET", "POST"])
def profile_view(request):
    if request.method == "GET":
        return _page(request)
    if not request.portal.allows("profile"):
        return _page(request, status=403)
    form = ProfileForm(request.POST)
    if form.is_valid():
        try:
            customer_update(customer_id=request.portal.customer.pk, **{f: form.cleaned_data[f] for f in PROFILE_FIELDS})
        except (ApplicationError, ValidationError) as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, _("The requisites are saved."))
            return redirect("portal:profile")
    return _page(request, form=form, status=400)


@portal_view("users")
@require_POST
def user_add_view(request):
    customer = request.portal.customer
    form = UserAddForm(request.POST)
    if form.is_valid():
        try:
            member = customer_user_add(
                customer_id=customer.pk,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                by=request.portal.actor,
            )
        except ApplicationError as exc:
            add_service_error(form, exc)
        else:
            send_password_link(request, member, invitation=True)
            messages.success(request, _("An invitation is sent to %(email)s.") % {"email": member.user.email})
            return redirect("portal:profile")
    return _page(request, user_form=form, status=400)


def _member_id(request, member_id: int) -> int:
    if not CustomerUser.objects.filter(customer=request.portal.customer, pk=member_id).exists():
        raise Http404
    return member_id


@portal_view("users")
@require_POST
def user_role_view(request, member_id: int):
    member_id = _member_id(request, member_id)
    form = UserRoleForm(request.POST)
    try:
        if not form.is_valid():
            raise ApplicationError(_("Choose a role."), field="role")
        customer_user_role_set(
            customer_id=request.portal.customer.pk, customer_user_id=member_id, role=form.cleaned_data["role"]
        )
    except NotFound as exc:
        raise Http404 from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The role is changed."))
    return redirect("portal:profile")


@portal_view("users")
@require_POST
def user_remove_view(request, member_id: int):
    member_id = _member_id(request, member_id)
    try:
        customer_user_remove(customer_id=request.portal.customer.pk, customer_user_id=member_id)
    except NotFound as exc:
        raise Http404 from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The user is removed."))
    return redirect("portal:profile")
