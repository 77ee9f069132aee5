"""The customer's money: the dashboard, topping up, the history of the balance (with a CSV export), documents."""

from __future__ import annotations

import csv
import datetime as dt
import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from billing.models import Payment, PaymentMethod
from billing.money import format_money, round_amount
from billing.selectors import customer_balance, customer_history
from billing.services.payments import payment_topup_create
from config.errors import ApplicationError
from documents.exports.http import zip_response
from documents.exports.selection import documents_for_export
from documents.models import Document
from documents.selectors import document_get, document_list
from documents.services.issuing import document_pdf
from documents.services.payment_invoices import payment_invoice_issue
from plans.models import Subscription
from plans.selectors import subscription_list
from plans.services.estimates import upcoming_charges_estimate
from portal.access import portal_view
from portal.forms import HISTORY_KINDS, DocumentFilterForm, HistoryFilterForm, TopUpForm, add_service_error

CARD_EXPIRY_WARNING_DAYS = 30
# what a customer sees of its documents: numbered ones (drafts are the accountant's, not yet the customer's)
VISIBLE_DOCUMENTS = (Document.Status.ISSUED, Document.Status.SENT, Document.Status.VOID)


def _live_subscriptions(customer):
    return list(subscription_list(customer_scope=customer.pk).filter(status__in=Subscription.LIVE))


def _next_charge(customer):
    """The earliest renewal the run will post, and its total with the others due at the same moment."""
    upcoming = [u for u in upcoming_charges_estimate(customer_id=customer.pk) if u.failure is None]
    if not upcoming:
        return None
    first = min(u.charge_at for u in upcoming)
    due = [u for u in upcoming if u.charge_at == first]
    return {"at": first, "total": sum((u.total for u in due), Decimal(0)), "currency": due[0].currency}


def _warnings(customer, balance, next_charge, subscriptions) -> list[str]:
    warnings = []
    if any(s.status == Subscription.Status.SUSPENDED for s in subscriptions):
        warnings.append(_("A subscription is suspended for insufficient funds: top up the balance to resume it."))
    available = balance.amount + customer.credit_limit.amount
    if next_charge is not None and next_charge["total"] > available:
        warnings.append(
            _("The balance does not cover the next charge of %(amount)s on %(date)s.")
            % {
                "amount": format_money(next_charge["total"], next_charge["currency"]),
                "date": timezone.localtime(next_charge["at"]).date().strftime("%d.%m.%Y"),
            }
        )
    elif balance.amount < 0:
        warnings.append(_("The balance is negative."))
    soon = timezone.localdate() + dt.timedelta(days=CARD_EXPIRY_WARNING_DAYS)
    for method in PaymentMethod.objects.filter(customer=customer, is_active=True, expires_on__lte=soon):
        warnings.append(
            _("The card %(card)s expires on %(date)s.")
            % {"card": method.title or _("saved card"), "date": method.expires_on.strftime("%m/%Y")}
        )
    return warnings


def _history_row(tx) -> dict:
    return {
        "id": tx.pk,
        "date": tx.effective_date,
        "kind": tx.get_kind_display(),
        "description": tx.description or tx.get_kind_display(),
        # the customer's side (a top-up adds, a charge takes away), at the currency's minor unit
        "amount": round_amount(tx.balance_amount, tx.balance_currency),
        "currency": tx.balance_currency,
    }


@portal_view("view")
def dashboard_view(request):
    customer = request.portal.customer
    balance = customer_balance(customer=customer)
    subscriptions = _live_subscriptions(customer)
    next_charge = _next_charge(customer)
    recent = [_history_row(e) for e in customer_history(customer=customer, limit=5)]
    return render(
        request,
        "portal/dashboard.html",
        {
            "balance": balance,
            "next_charge": next_charge,
            "subscriptions": subscriptions,
            "warnings": _warnings(customer, balance, next_charge, subscriptions),
            "recent": recent,
        },
    )


@portal_view("pay")
@require_http_methods(["GET", "POST"])
def topup_view(request):
    customer = request.portal.customer
    form = TopUpForm(request.POST or None, initial={"key": uuid.uuid4().hex, "amount": request.GET.get("amount")})
    if request.method == "POST" and form.is_valid():
        amount, method = form.cleaned_data["amount"], form.cleaned_data["method"]
        try:
            if method == "invoice":
                document = payment_invoice_issue(
                    customer_id=customer.pk,
                    amount=amount,
                    key=f"portal:{customer.pk}:{form.cleaned_data['key'] or uuid.uuid4().hex}",
                    by=request.portal.actor,
                    customer_scope=customer.pk,
                )
                return redirect("portal:document-pdf", document_id=document.pk)
            payment = payment_topup_create(
                customer_id=customer.pk,
                amount=amount,
                return_url=request.build_absolute_uri(reverse("portal:topup-return")),
                created_by=request.portal.actor,
            )
        except (ApplicationError, ValidationError) as exc:
            add_service_error(form, exc)
        else:
            if payment.confirmation_url:
                return redirect(payment.confirmation_url)
            form.add_error(None, _("The payment service did not answer. Try again in a minute."))
    return render(request, "portal/topup.html", {"form": form, "balance": customer_balance(customer=customer)})


@portal_view("view")
def topup_return_view(request):
    customer = request.portal.customer
    payments = list(Payment.objects.filter(customer=customer, kind=Payment.Kind.TOPUP).order_by("-id")[:5])
    return render(
        request,
        "portal/topup_return.html",
        {"payments": payments, "balance": customer_balance(customer=customer)},
    )


def _history_filters(request):
    form = HistoryFilterForm(request.GET or None)
    filters = {}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        filters = {
            "kinds": HISTORY_KINDS.get(data["kind"], ()),
            "date_from": data["date_from"],
            "date_to": data["date_to"],
        }
    return form, filters


@portal_view("view")
def history_view(request):
    customer = request.portal.customer
    form, filters = _history_filters(request)
    try:
        before = int(request.GET["before"]) if request.GET.get("before") else None
    except ValueError:
        before = None
    size = settings.PORTAL_HISTORY_PAGE_SIZE
    entries = list(customer_history(customer=customer, before_id=before, limit=size + 1, **filters))
    rows = [_history_row(e) for e in entries[:size]]
    query = request.GET.copy()
    query.pop("before", None)
    next_url = None
    if len(entries) > size:
        query["before"] = rows[-1]["id"]
        next_url = f"?{query.urlencode()}"
    csv_query = request.GET.copy()
    csv_query.pop("before", None)
    return render(
        request,
        "portal/history.html",
        {
            "form": form,
            "rows": rows,
            "next_url": next_url,
            "first_url": "?" + csv_query.urlencode() if before else None,
            "csv_url": reverse("portal:history-csv") + ("?" + csv_query.urlencode() if csv_query else ""),
        },
    )


class _Echo:
    def write(self, value):
        return value


@portal_view("view")
def history_csv_view(request):
    """The whole history (as filtered) streamed as CSV, read in chunks: years of entries never sit in memory."""
    customer = request.portal.customer
    form, filters = _history_filters(request)
    writer = csv.writer(_Echo())

    def rows():
        yield "\ufeff"  # a BOM, so that spreadsheet programs read UTF-8
        yield writer.writerow([_("Date"), _("Kind"), _("Description"), _("Amount"), _("Currency")])
        for entry in customer_history(customer=customer, **filters).iterator(chunk_size=2000):
            row = _history_row(entry)
            yield writer.writerow(
                [row["date"].isoformat(), row["kind"], row["description"], f"{row['amount']}", row["currency"]]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="history-{customer.pk}.csv"'
    return response


def _customer_documents(customer):
    return document_list(customer_scope=customer.pk).filter(status__in=VISIBLE_DOCUMENTS)


@portal_view("view")
def documents_view(request):
    customer = request.portal.customer
    form = DocumentFilterForm(request.GET or None)
    documents = _customer_documents(customer).order_by("-issue_date", "-id")
    month = None
    if form.is_bound and form.is_valid() and form.cleaned_data["period"]:
        month = form.cleaned_data["period"]
        following = (month + dt.timedelta(days=32)).replace(day=1)
        documents = documents.filter(issue_date__gte=month, issue_date__lt=following)
    return render(
        request,
        "portal/documents.html",
        {"form": form, "documents": list(documents[:200]), "month": month},
    )


@portal_view("view")
def document_pdf_view(request, document_id: int):
    customer = request.portal.customer
    try:
        document = document_get(document_id=document_id, customer_scope=customer.pk)
    except ApplicationError as exc:
        raise Http404 from exc
    if document.status not in VISIBLE_DOCUMENTS:
        raise Http404
    content, name = document_pdf(document)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(not request.GET.get("inline"), name)
    return response


@portal_view("view")
def documents_zip_view(request):
    customer = request.portal.customer
    form = DocumentFilterForm(request.GET or None)
    if not (form.is_bound and form.is_valid() and form.cleaned_data["period"]):
        raise Http404
    month = form.cleaned_data["period"]
    documents = documents_for_export(month=month, customer_id=customer.pk)
    if not documents.exists():
        raise Http404
    return zip_response(documents, month=month)
