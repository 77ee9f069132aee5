"""The default groups written by migration billing.0004_default_groups."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("default_groups")]

GROUPS = {"Accountant", "Support", "Administrator"}

BILLING_MODELS = {
    "customer",
    "account",
    "transaction",
    "entry",
    "event",
    "eventdelivery",
    "webhookendpoint",
    "apikey",
    "idempotencyrecord",
    "billingpolicy",
    "seller",
    "sellerbankaccount",
    "sellersignatory",
    "sellervatrate",
    "payment",
    "refund",
    "bankstatement",
    "banktransfer",
    "paymentmethod",
    "autopay",
    "paymentstatechange",
    "customeruser",
    "signinattempt",
}
SELLER_MODELS = {"seller", "sellerbankaccount", "sellersignatory", "sellervatrate"}
PAYMENT_MODELS = {
    "payment",
    "refund",
    "bankstatement",
    "banktransfer",
    "paymentmethod",
    "autopay",
    "paymentstatechange",
}
# the portal's logins (billing.0031): accountants add customers' portal users and change their roles
PORTAL_MODELS = {"customeruser", "signinattempt"}
ACCOUNTANT_PORTAL_GRANTS = {"add_customeruser", "change_customeruser"}
# payments (billing.0028): accountants take, refund and review them
ACCOUNTANT_PAYMENT_GRANTS = {
    "add_payment",
    "change_payment",
    "add_refund",
    "add_bankstatement",
    "change_banktransfer",
    "change_autopay",
}


def _perms(group_name: str, app_label: str) -> set[str]:
    return set(
        Group.objects.get(name=group_name)
        .permissions.filter(content_type__app_label=app_label)
        .values_list("codename", flat=True)
    )


def _all_of(app_label: str) -> set[str]:
    return set(Permission.objects.filter(content_type__app_label=app_label).values_list("codename", flat=True))


def _migrate(target: tuple[str, str] | None) -> None:
    """Migrate to `target`, or with None to the latest state of every app."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target] if target else executor.loader.graph.leaf_nodes())


def test_the_migration_deletes_the_groups_backwards_and_writes_them_forwards():
    # given the groups and their permissions as the migration leaves them
    def snapshot():
        return {
            group.name: set(group.permissions.values_list("content_type__app_label", "codename"))
            for group in Group.objects.filter(name__in=GROUPS)
        }

    migrated = snapshot()
    assert set(migrated) == GROUPS

    # when the migration is reversed
    _migrate(("billing", "0003_billing_run_and_policy"))

    # then the groups are gone
    assert not Group.objects.filter(name__in=GROUPS).exists()

    # when everything runs forwards again (permissions exist; the historical apps are used; later migrations of
    # other apps, such as documents' own group permissions, that the reversal took back are applied again too)
    _migrate(None)

    # then the same groups with the same permissions
    assert snapshot() == migrated


def test_accountant_permissions():
    # then: view everything billing, add/change customers, add transactions (adjustments, reversals)
    assert (
        _perms("Accountant", "billing")
        == {f"view_{m}" for m in BILLING_MODELS}
        | {
            "add_customer",
            "change_customer",
            "add_transaction",
            "change_billing_model",
        }
        | {f"{action}_{m}" for m in SELLER_MODELS for action in ("add", "change")}
        | ACCOUNTANT_PAYMENT_GRANTS
        | ACCOUNTANT_PORTAL_GRANTS
    )
    # and runs subscriptions from the admin (plans.0009): adds them and changes them through the services
    assert _perms("Accountant", "plans") == {p for p in _all_of("plans") if p.startswith("view_")} | {
        "add_subscription",
        "change_subscription",
    }
    assert _perms("Accountant", "auth") == set()
    assert _perms("Accountant", "django_celery_beat") == set()


def test_support_permissions():
    assert _perms("Support", "billing") == {
        "view_customer",
        "change_customer",
        "view_transaction",
        "view_entry",
        "view_account",
        "view_event",
    } | {f"view_{m}" for m in SELLER_MODELS | PAYMENT_MODELS | PORTAL_MODELS}
    assert _perms("Support", "plans") == {p for p in _all_of("plans") if p.startswith("view_")}
    assert _perms("Support", "auth") == set()


def test_administrator_permissions():
    assert _perms("Administrator", "billing") == _all_of("billing")
    # + change_billing_model (billing.0014); − add, change and delete of payment state changes (a history: view only)
    assert len(_all_of("billing")) == 4 * len(BILLING_MODELS) + 1 - 3
    assert _perms("Administrator", "plans") == _all_of("plans")
    assert _perms("Administrator", "django_celery_beat") == _all_of("django_celery_beat")
    assert len(_all_of("django_celery_beat")) > 0
    assert _perms("Administrator", "auth") == {
        f"{action}_{model}" for action in ("add", "change", "delete", "view") for model in ("user", "group")
    } | {"view_permission"}


def test_a_user_gets_the_group_permissions(django_user_model):
    # given
    user = django_user_model.objects.create_user(username="acc", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="Accountant"))

    # then
    user = django_user_model.objects.get(pk=user.pk)
    assert user.has_perm("billing.add_transaction")
    assert user.has_perm("billing.change_customer")
    assert user.has_perm("billing.change_billing_model")
    assert not user.has_perm("billing.delete_customer")
    assert not user.has_perm("billing.change_transaction")
    assert not user.has_perm("billing.change_event")
