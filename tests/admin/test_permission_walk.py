"""Every admin page and action, walked with each default group (and a staff user with no group), against the table
of who may do what in README.md ("Who may do what in the admin") — issue 10, item 7. Subscription actions ignored
permissions: the Accountant group, with view-only access, paused and resumed a subscription.

The walk is over HTTP, as the user: a changelist (V), the add page (A), the change page offering to save (C), the
delete page (D), each action the changelist offers, and each custom page of a model admin. A new model, action or
page without a row in README fails here, so the table stays the truth.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from billing.models import ApiKey, BillingPolicy, Customer, Event, EventDelivery, IdempotencyRecord, WebhookEndpoint
from documents.services.closing import close_month
from documents.services.invoicing import invoice_issue_postpaid
from plans.models import Subscription
from plans.services.billing_run import billing_run_execute
from plans.services.subscriptions import subscription_create
from plans.services.usage import UsageEventIn, usage_record_batch
from tests.documents.support import JAN15, postpaid_customer
from tests.factories.catalog import make_metric, make_plan

GROUPS = ("Administrator", "Accountant", "Support", "No group")
README = Path(__file__).resolve().parents[2] / "README.md"
_STANDARD = ("_changelist", "_add", "_change", "_delete", "_history", "_autocomplete")


def readme_table() -> dict[str, dict[str, str]]:
    """{row: {group: cell}} of the README's permission table: rows are "`app.Model`", "`app.Model` action `name`"
    and "`app.Model` page `name`"."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### Who may do what in the admin", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows[cells[0]] = dict(zip(GROUPS, cells[1:], strict=True))
    return rows


@pytest.fixture
def walk_data(db, settings, default_groups):
    """One object of every admin model: the demo data, a billing run, and what they do not make."""
    settings.OUTBOX_KICK = False
    call_command("seed_demo", stdout=io.StringIO())
    make_plan("walk-pro", "1000.00")
    make_metric("walk-calls")
    billing_run_execute(as_of=timezone.now(), triggered_by="walk")
    BillingPolicy.objects.get_or_create(pk=BillingPolicy.current().pk or None)
    customer = postpaid_customer("Romashka")  # an invoice, the seed has no postpaid customer
    subscription_create(customer_id=customer.pk, plan_code="walk-pro", at=JAN15)
    invoice_issue_postpaid(as_of=dt.date(2026, 2, 15))
    close_month(month=dt.date(2026, 1, 1))  # an act and a VAT invoice of the demo seller, and a closing run
    usage_record_batch(events=[UsageEventIn("walk-1", customer.pk, "walk-calls", Decimal(1), JAN15, {})])
    event = Event.objects.order_by("pk").first()
    EventDelivery.objects.get_or_create(event=event, subscriber="walk")
    WebhookEndpoint.objects.create(url="https://example.com/hook", secret="s")
    IdempotencyRecord.objects.create(api_key=ApiKey.objects.order_by("pk").first(), key="walk", request_hash="0" * 64)
    every = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.HOURS)
    PeriodicTask.objects.create(name="walk", task="plans.tasks.billing_run_start", interval=every)
    CrontabSchedule.objects.create(minute="0", hour="3")
    ClockedSchedule.objects.create(clocked_time=timezone.now())
    SolarSchedule.objects.create(event="sunrise", latitude=55.75, longitude=37.62)
    _walk_payments(customer)
    _walk_portal(customer)
    data = {model: model._default_manager.order_by("pk").first() for model in admin.site._registry}
    assert [m for m, obj in data.items() if obj is None] == [], "the walk needs one object of every admin model"
    return data


def _walk_portal(customer: Customer) -> None:
    """A portal user with a sign-in attempt."""
    from billing.services.portal_access import customer_user_add, portal_sign_in

    customer_user_add(customer_id=customer.pk, email="walk@portal.test", role="owner", password="Walk-pass-1234")
    portal_sign_in(email="walk@portal.test", password="Walk-pass-1234", ip="127.0.0.1")


def _walk_payments(customer: Customer) -> None:
    """A paid top-up with a saved card and autopay, a refund, and a statement with an unmatched transfer."""
    from billing.services.autopay import autopay_configure
    from billing.services.refunds import refund_create
    from billing.services.statements import bank_statement_import
    from billing.statement_format import statement_render
    from tests.billing.payments.helpers import topup_paid

    paid = topup_paid(customer, "100.00", save_method=True)
    refund_create(payment_id=paid.pk, amount=Decimal("1.00"), reason="walk")
    autopay_configure(customer_id=customer.pk, method_id=paid.method_id, threshold=Decimal(0), amount=Decimal(10))
    statement = statement_render(
        accounts=[],
        date_from=dt.date(2026, 10, 5),
        date_to=dt.date(2026, 10, 5),
        documents=[
            {
                "Номер": "1",
                "Дата": "05.10.2026",
                "Сумма": "10.00",
                "ПлательщикИНН": "",
                "ДатаПоступило": "05.10.2026",
                "НазначениеПлатежа": "walk",
            }
        ],
    )
    bank_statement_import(data=statement, file_name="walk.txt")


@pytest.fixture
def walker(django_user_model, default_groups):
    """A staff user (not superuser) per default group, and one with no group."""

    def make(group: str):
        user = django_user_model.objects.create_user(username=f"walk-{group.lower()}", password="x", is_staff=True)
        if group in default_groups:
            user.groups.add(default_groups[group])
        return user

    return make


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _probe_model(client: Client, model, obj) -> str:
    info = model._meta.app_label, model._meta.model_name
    letters = ""
    if client.get(reverse("admin:{}_{}_changelist".format(*info))).status_code == 200:
        letters += "V"
    if client.get(reverse("admin:{}_{}_add".format(*info))).status_code == 200:
        letters += "A"
    if obj is not None:
        page = client.get(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
        if page.status_code == 200 and page.context["has_change_permission"]:
            letters += "C"
        if client.get(reverse("admin:{}_{}_delete".format(*info), args=[obj.pk])).status_code == 200:
            letters += "D"
    return letters or "—"


def _offered_actions(client: Client, model) -> set[str]:
    response = client.get(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
    if response.status_code != 200 or response.context.get("action_form") is None:
        return set()
    return {name for name, _label in response.context["action_form"].fields["action"].choices if name}


def _custom_pages(model_admin) -> list[str]:
    return [p.name for p in model_admin.get_urls() if getattr(p, "name", None) and not p.name.endswith(_STANDARD)]


def actual_table(users: dict, data: dict) -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {}
    for group, user in users.items():
        client = _client(user)
        for model, model_admin in admin.site._registry.items():
            label = f"`{model._meta.label}`"
            table.setdefault(label, {})[group] = _probe_model(client, model, data[model])
            offered = _offered_actions(client, model)
            for name in model_admin.actions or []:
                row = f"{label} action `{name}`"
                table.setdefault(row, {})[group] = "✓" if name in offered else "—"
            for url_name in _custom_pages(model_admin):
                obj = data[model]
                status = client.get(reverse(f"admin:{url_name}", args=[obj.pk])).status_code if obj else 404
                short = url_name.removeprefix(f"{model._meta.app_label}_{model._meta.model_name}_")
                table.setdefault(f"{label} page `{short}`", {})[group] = "✓" if status == 200 else "—"
    return table


def _format(table: dict[str, dict[str, str]]) -> str:
    lines = ["| Admin | " + " | ".join(GROUPS) + " |", "|---|" + "---|" * len(GROUPS)]
    for row in sorted(table):
        lines.append(f"| {row} | " + " | ".join(table[row][g] for g in GROUPS) + " |")
    return "\n".join(lines)


@pytest.mark.slow
def test_every_admin_page_and_action_allows_exactly_whom_the_readme_table_says(walk_data, walker):
    # given a staff user per default group, and one with no group
    users = {group: walker(group) for group in GROUPS}

    # when
    actual = actual_table(users, walk_data)

    # then
    expected = readme_table()
    assert actual == expected, "README's table should read:\n" + _format(actual)


def test_support_cannot_pause_or_resume_a_subscription_by_posting_the_action(walk_data, walker):
    # given an active subscription and a Support user (view-only on subscriptions; Accountants run them since
    # issue 10, item 8)
    sub = Subscription.objects.filter(status=Subscription.Status.ACTIVE).order_by("pk").first()
    client = _client(walker("Support"))
    url = reverse("admin:plans_subscription_changelist")

    # when: the action posted by hand (it is not offered)
    for action in ("pause", "cancel_at_period_end", "cancel_now"):
        client.post(url, {"action": action, "_selected_action": [sub.pk]})

    # then nothing happened
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE
    assert sub.cancel_at_period_end is False


def test_an_administrator_can_pause_a_subscription(walk_data, walker):
    # given
    sub = Subscription.objects.filter(status=Subscription.Status.ACTIVE).order_by("pk").first()
    client = _client(walker("Administrator"))

    # when
    client.post(reverse("admin:plans_subscription_changelist"), {"action": "pause", "_selected_action": [sub.pk]})

    # then
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.PAUSED


def test_the_readme_table_has_one_row_per_page_and_action_and_known_cells():
    rows = readme_table()
    assert rows, "README has no permission table"
    for row, cells in rows.items():
        assert re.fullmatch(r"`\w+\.\w+`( (action|page) `\w+`)?", row), row
        for cell in cells.values():
            assert re.fullmatch(r"V?A?C?D?|✓|—", cell), (row, cell)
    assert any(row.startswith(f"`{Customer._meta.label}`") for row in rows)
