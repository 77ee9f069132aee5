from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.apps import apps as global_apps
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client

default_groups_migration = importlib.import_module("billing.migrations.0004_default_groups")
document_permissions_migration = importlib.import_module("documents.migrations.0003_default_group_permissions")
billing_model_permission_migration = importlib.import_module("billing.migrations.0014_billing_model_permission")
subscription_permissions_migration = importlib.import_module("plans.migrations.0010_accountant_runs_subscriptions")


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def default_groups(db):
    """The groups of migration billing.0004_default_groups and the permissions documents.0003, billing.0014 and
    plans.0010 grant them, written again by the migrations' own functions when a transactional test of an earlier run
    (--reuse-db) flushed them. Idempotent: it adds nothing when they exist. test_groups.py migrates back and
    forth to prove the migrations themselves write them."""
    schema_editor = SimpleNamespace(connection=connection)
    default_groups_migration.create_default_groups(global_apps, schema_editor)
    document_permissions_migration.grant_document_permissions(global_apps, schema_editor)
    billing_model_permission_migration.grant_billing_model_permission(global_apps, schema_editor)
    subscription_permissions_migration.grant_subscription_permissions(global_apps, schema_editor)
    return {group.name: group for group in Group.objects.filter(name__in=("Accountant", "Support", "Administrator"))}


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(username="root", email="root@example.com", password="x")


@pytest.fixture
def admin_client(superuser):
    return _client_for(superuser)


@pytest.fixture
def staff_in_group(django_user_model, default_groups):
    """A staff user (not superuser) whose only permissions come from one default group."""

    def make(group_name: str):
        user = django_user_model.objects.create_user(username=group_name.lower(), password="x", is_staff=True)
        user.groups.add(default_groups[group_name])
        return user

    return make


@pytest.fixture
def group_client(staff_in_group):
    return lambda group_name: _client_for(staff_in_group(group_name))


# --- browser tests ------------------------------------------------------------------------------------------------
# Playwright on Debian's Chromium (`apt-get install chromium`; Playwright's own browser download is not used).
# `browser_page` is a fresh page of a headless Chromium against pytest-django's live server; `artifacts` is the
# directory where a test keeps its screenshots: BROWSER_ARTIFACTS_DIR/<test name>, by default
# .data/artifacts/browser/<test name> in the work tree (.data is not committed). Without Playwright or Chromium the
# tests are skipped, saying which is missing.

ROOT = Path(__file__).resolve().parents[2]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture
def artifacts(request) -> Path:
    base = Path(os.environ.get("BROWSER_ARTIFACTS_DIR") or ROOT / ".data" / "artifacts" / "browser")
    path = base / request.node.name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@pytest.fixture
def browser_page(live_server, monkeypatch):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    executable = _chromium()
    if executable is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    # Playwright's sync API runs an event loop in this thread: Django's ORM, used by the test around the browser
    # steps, refuses to run next to one unless told it is safe (it is: the loop only drives the browser)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=live_server.url)
        context.set_default_timeout(15_000)
        yield context.new_page()
        context.close()
        browser.close()
