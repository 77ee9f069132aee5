from __future__ import annotations

import importlib
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
seller_permissions_migration = importlib.import_module("billing.migrations.0024_seller_group_permissions")
documents_v2_permissions_migration = importlib.import_module("documents.migrations.0006_document_group_permissions")
payment_permissions_migration = importlib.import_module("billing.migrations.0028_payment_group_permissions")
portal_permissions_migration = importlib.import_module("billing.migrations.0031_portal_group_permissions")


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def default_groups(db):
    """The groups of migration billing.0004_default_groups and the permissions documents.0003, billing.0014,
    X
        functions when a transactional test of an earlier run (--reuse-db) flushed them. Idempotent: it adds nothing
        when they exist.
        test_groups.py migrates back and forth to prove the migrations themselves write them."""
    schema_editor = SimpleNamespace(connection=connection)
    default_groups_migration.create_default_groups(global_apps, schema_editor)
    document_permissions_migration.grant_document_permissions(global_apps, schema_editor)
    billing_model_permission_migration.grant_billing_model_permission(global_apps, schema_editor)
    subscription_permissions_migration.grant_subscription_permissions(global_apps, schema_editor)
    seller_permissions_migration.grant_seller_permissions(global_apps, schema_editor)
    documents_v2_permissions_migration.grant_document_permissions(global_apps, schema_editor)
    payment_permissions_migration.grant_payment_permissions(global_apps, schema_editor)
    portal_permissions_migration.grant_portal_permissions(global_apps, schema_editor)
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
