"""Playwright on the machine's Chromium (Debian's /usr/bin/chromium, or CHROMIUM_PATH), against pytest-django's
live server. Every test here is marked `browser` (select with -m browser, leave out with -m "not browser").

Screenshots are test artifacts: written under BROWSER_ARTIFACTS_DIR (default: test-artifacts/browser at the
project's root, ignored by git), one file per shot, named after the test, so a CI job can keep the folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

VIEWPORT = {"width": 1280, "height": 900}


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


def _chromium() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    folder = Path(os.environ.get("BROWSER_ARTIFACTS_DIR", Path(settings.BASE_DIR) / "test-artifacts" / "browser"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def chromium():
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = _chromium()
    if executable is None:
        pytest.skip("no Chromium on this machine (set CHROMIUM_PATH)")
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still synchronous
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    # the browser asks for English, so the admin's own language switch is what makes it Russian in the tests
    context = chromium.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="Europe/Moscow")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


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
