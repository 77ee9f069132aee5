"""BillingRun moved from billing to plans (billing.0015, plans.0006): a state-only move that keeps the table and its
rows, and moves the content type with its permissions. Both directions, on a database with a run and the groups."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from plans.models import BillingRun

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("default_groups")]


def _migrate(target: tuple[str, str] | None) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target] if target else executor.loader.graph.leaf_nodes())


def _runs_in_table() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, processed, status FROM billing_billingrun ORDER BY id")
        return cursor.fetchall()


def _run_permissions(group: str) -> set[tuple[str, str]]:
    return set(
        Group.objects.get(name=group)
        .permissions.filter(codename__endswith="_billingrun")
        .values_list("content_type__app_label", "codename")
    )


def test_the_move_keeps_the_rows_and_the_permissions_both_ways():
    # given a finished run and the groups as the migrations leave them
    run = BillingRun.objects.create(as_of=timezone.now(), status="completed", finished_at=timezone.now(), processed=7)
    rows = _runs_in_table()
    assert rows == [(run.pk, 7, "completed")]
    assert _run_permissions("Accountant") == {("plans", "view_billingrun")}
    assert _run_permissions("Support") == {("plans", "view_billingrun")}
    administrator = _run_permissions("Administrator")
    assert {codename for _, codename in administrator} == {
        f"{action}_billingrun" for action in ("add", "change", "delete", "view")
    }

    # when both migrations are reversed
    _migrate(("billing", "0014_billing_model_permission"))

    # then the table and its row are untouched, the content type and its permissions are billing's again, and
    # Support no longer views runs (as before the move)
    assert _runs_in_table() == rows
    ContentType.objects.clear_cache()
    assert ContentType.objects.filter(app_label="billing", model="billingrun").exists()
    assert not ContentType.objects.filter(app_label="plans", model="billingrun").exists()
    assert _run_permissions("Accountant") == {("billing", "view_billingrun")}
    assert _run_permissions("Support") == set()
    assert {app for app, _ in _run_permissions("Administrator")} == {"billing"}

    # when they run forwards again
    _migrate(None)

    # then the same rows, and the permissions plans' again
    ContentType.objects.clear_cache()
    assert _runs_in_table() == rows
    assert BillingRun.objects.get().processed == 7
    assert _run_permissions("Accountant") == {("plans", "view_billingrun")}
    assert _run_permissions("Support") == {("plans", "view_billingrun")}
    assert _run_permissions("Administrator") == administrator
    assert Permission.objects.filter(content_type__app_label="billing", codename__endswith="_billingrun").count() == 0
