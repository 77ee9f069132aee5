"""API keys in the admin: created through api_key_create, the raw token shown once, only its hash kept."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.urls import reverse

from billing.models import ApiKey
from billing.services.api_keys import api_key_create, api_key_revoke
from tests.admin.helpers import form_fields, shown_messages

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:billing_apikey_add")
CHANGELIST_URL = reverse("admin:billing_apikey_changelist")
RAW_KEY = re.compile(r"bk_[A-Za-z0-9_-]{43}")


def _every_text_value_in_the_database() -> str:
    """All values of every billing, admin-log and session row, as text."""
    tables = ["billing_apikey", "django_admin_log", "django_session"]
    texts = []
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT t::text FROM {table} t")
            texts.extend(row[0] for row in cursor.fetchall())
    return "\n".join(texts)


def test_creating_a_key_shows_the_raw_key_once_and_stores_only_its_hash(admin_client, superuser, customer):
    # given
    data = form_fields(admin_client.get(ADD_URL), "apikey_form")
    data.update(name="CRM integration", scope="read_write", customer=str(customer.pk))

    # when
    response = admin_client.post(ADD_URL, data, follow=True)

    # then the key is shown in the message
    assert response.status_code == 200
    shown = " ".join(shown_messages(response))
    found = RAW_KEY.findall(shown)
    assert len(found) == 1
    raw = found[0]
    assert "Copy it now: it is not stored and will not be shown again." in shown
    # and only its sha256 is stored
    api_key = ApiKey.objects.get()
    assert api_key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert (api_key.name, api_key.scope, api_key.customer_id, api_key.created_by_id) == (
        "CRM integration",
        "read_write",
        customer.pk,
        superuser.pk,
    )
    assert api_key.prefix == raw[:10]
    assert raw not in _every_text_value_in_the_database()
    # and never shown again
    for url in (CHANGELIST_URL, reverse("admin:billing_apikey_change", args=[api_key.pk])):
        page = admin_client.get(url)
        assert page.status_code == 200
        assert raw not in page.content.decode()


def test_a_keys_name_scope_and_customer_never_change_and_it_is_never_deleted(admin_client):
    # given
    api_key, _ = api_key_create(name="Reporting", scope="read")
    change_url = reverse("admin:billing_apikey_change", args=[api_key.pk])

    # when
    change_post = admin_client.post(change_url, {"name": "Other", "scope": "read_write", "widget_origins": ""})
    delete_page = admin_client.get(reverse("admin:billing_apikey_delete", args=[api_key.pk]))

    # then only the widget's origins are a form field; the rest is read-only
    form = admin_client.get(change_url).context["adminform"].form
    assert list(form.fields) == ["widget_origins"]
    assert (change_post.status_code, delete_page.status_code) == (302, 403)
    api_key.refresh_from_db()
    assert (api_key.name, api_key.scope) == ("Reporting", "read")


def test_the_widget_origins_are_set_and_checked_and_a_secret_generated(admin_client):
    api_key, _ = api_key_create(name="SaaS", scope="read")
    change_url = reverse("admin:billing_apikey_change", args=[api_key.pk])

    bad = admin_client.post(change_url, {"widget_origins": "https://app.example.com\nnot an origin"})
    assert bad.status_code == 200, bad.status_code
    assert "Item 2 in the array did not validate" in str(bad.context["adminform"].form.errors)
    api_key.refresh_from_db()
    assert api_key.widget_origins == []

    assert admin_client.post(change_url, {"widget_origins": "https://App.Example.com/\n"}).status_code == 302
    api_key.refresh_from_db()
    assert api_key.widget_origins == ["https://app.example.com"]

    response = admin_client.post(
        CHANGELIST_URL, {"action": "widget_secret", "_selected_action": [api_key.pk], "index": 0}, follow=True
    )
    api_key.refresh_from_db()
    assert api_key.widget_secret.startswith("ws_") and api_key.widget_secret in response.content.decode()


def test_a_revoked_key_is_not_changed(admin_client):
    api_key, _ = api_key_create(name="Old", scope="read")
    api_key_revoke(api_key_id=api_key.pk)
    change_url = reverse("admin:billing_apikey_change", args=[api_key.pk])
    assert admin_client.post(change_url, {"widget_origins": "https://x.test"}).status_code == 403


def test_revoke_action(admin_client):
    # given
    revoked, _ = api_key_create(name="Old", scope="read")
    kept, _ = api_key_create(name="Kept", scope="read")

    # when
    response = admin_client.post(
        CHANGELIST_URL, {"action": "revoke", "_selected_action": [revoked.pk], "index": 0}, follow=True
    )

    # then
    revoked.refresh_from_db()
    kept.refresh_from_db()
    assert revoked.revoked_at is not None
    assert kept.revoked_at is None
    assert "1 key revoked." in " ".join(shown_messages(response))
    active = admin_client.get(CHANGELIST_URL, {"state": "active"})
    assert [k.name for k in active.context["cl"].result_list] == ["Kept"]


def test_accountant_sees_keys_but_cannot_create_or_revoke(group_client):
    # given
    api_key, _ = api_key_create(name="Reporting", scope="read")
    client = group_client("Accountant")

    # when
    changelist = client.get(CHANGELIST_URL)
    add_page = client.get(ADD_URL)
    client.post(CHANGELIST_URL, {"action": "revoke", "_selected_action": [api_key.pk], "index": 0})

    # then
    assert changelist.status_code == 200
    assert add_page.status_code == 403
    api_key.refresh_from_db()
    assert api_key.revoked_at is None
    assert ApiKey.objects.count() == 1


def test_missing_name_is_a_form_error(admin_client):
    # given / when
    response = admin_client.post(ADD_URL, {"name": "", "scope": "read"})

    # then
    assert response.status_code == 200
    assert "name" in response.context["adminform"].form.errors
    assert ApiKey.objects.count() == 0
    assert LogEntry.objects.count() == 0
