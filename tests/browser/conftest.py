"""Every test here is marked `browser` (select with -m browser, leave out with -m "not browser"); the browser
fixtures (`chromium`, `page`, `artifacts`) are in tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture
def admin_login(live_server, django_user_model):
    """Log a superuser in through the admin's login page; returns a function that opens an admin path."""

    def login(page):
        django_user_model.objects.create_superuser(username="buh", email="buh@example.com", password="pass-1234")
        page.goto(f"{live_server.url}/admin/login/?next=/admin/")
        page.fill("#id_username", "buh")
        page.fill("#id_password", "pass-1234")
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")
        return lambda path: page.goto(f"{live_server.url}{path}")

    return login
