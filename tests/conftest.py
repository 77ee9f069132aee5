from __future__ import annotations

import os
import shutil
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings as django_settings


@pytest.fixture(autouse=True)
def _no_outbox_kick(settings):
    # Unit tests call the dispatcher directly; the real-worker tests turn the kick back on.
    settings.OUTBOX_KICK = False


@pytest.fixture
def make_customer(db):
    from billing.services.customers import customer_create

    def make(**overrides):
        fields = {"name": "Acme", "currency": "RUB", "credit_limit": Decimal("0")}
        fields.update(overrides)
        return customer_create(**fields)

    return make


@pytest.fixture
def customer(make_customer):
    return make_customer()


@pytest.fixture
def unique_key():
    return lambda: str(uuid.uuid4())


def pytest_report_header(config):
    db = django_settings.DATABASES["default"]
    return f"database: {db.get('HOST') or 'socket'}:{db.get('PORT') or ''}/{db['NAME']} broker: " + str(
        django_settings.CELERY_BROKER_URL
    )


_phase_reports = pytest.StashKey[dict]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the item so fixtures can tell, at teardown, whether the test failed.
    report = yield
    item.stash.setdefault(_phase_reports, {})[report.when] = report
    return report


def _test_failed(request) -> bool:
    reports = request.node.stash.get(_phase_reports, {})
    return any(r.failed for r in reports.values())


@pytest.fixture
def webhook_receiver():
    """A local HTTP server on 127.0.0.1 recording webhook POSTs (tests.support.webhooks)."""
    from tests.support.webhooks import WebhookReceiver

    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def real_celery_worker(request, transactional_db, settings):
    """A REAL Celery worker subprocess on the configured broker and this test database, consuming a queue of its
    own; this process publishes to that queue too. `.kill()` stops it (a test may kill it mid-run). Its log is
    printed when the test fails."""
    from config.celery import app
    from tests.support.celery import CeleryWorker, delete_queue, unique_queue, use_queue

    queue = unique_queue(django_settings.CELERY_TASK_DEFAULT_QUEUE)
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    worker = CeleryWorker.start_for_test_database(queue=queue)
    try:
        with use_queue(app, queue):
            yield worker
    finally:
        worker.kill()
        if _test_failed(request):
            worker.print_log()
        worker.close()
        delete_queue(app, queue)


# --- browser tests ------------------------------------------------------------------------------------------------
# Playwright on the machine's Chromium (Debian's /usr/bin/chromium, or CHROMIUM_PATH; Playwright's own browser
# download is not used), against pytest-django's live server: `page` is a fresh page whose relative URLs go to the
# live server. Screenshots are test artifacts: `artifacts` is BROWSER_ARTIFACTS_DIR/<test name> (default:
# test-artifacts/browser at the project's root, ignored by git), so a CI job can keep the folder. Without
# Playwright or Chromium the tests are skipped on a laptop, saying which is missing, and fail in CI (CI=true:
# `make install` installs both).

ROOT = Path(__file__).resolve().parents[1]
VIEWPORT = {"width": 1280, "height": 900}


def _chromium() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    folder = Path(os.environ.get("BROWSER_ARTIFACTS_DIR") or ROOT / "test-artifacts" / "browser")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def artifacts(artifacts_dir, request) -> Path:
    path = artifacts_dir / request.node.name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@pytest.fixture(scope="session")
def chromium():
    missing = pytest.fail if os.environ.get("CI") else pytest.skip
    try:
        from playwright import sync_api
    except ImportError:
        missing("playwright is not installed (pip install playwright)")
    executable = _chromium()
    if executable is None:
        missing("Chromium is not installed (apt-get install chromium; `make install` does it), or set CHROMIUM_PATH")
    # Playwright's sync API runs an event loop in this thread: Django's ORM, used by the test around the browser
    # steps, refuses to run next to one unless told it is safe (it is: the loop only drives the browser)
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, live_server):
    # the browser asks for English, so the admin's own language switch (or its cookie) is what makes it Russian
    context = chromium.new_context(
        viewport=VIEWPORT, locale="en-US", timezone_id="Europe/Moscow", base_url=live_server.url
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server (aiosmtpd) on a free port of 127.0.0.1, with Django's SMTP backend pointed at it; yields the
    list of received messages (email.message.EmailMessage), decoded."""
    import email
    import email.policy

    from aiosmtpd.controller import Controller

    from tests.support.webserver import free_port

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield received
    finally:
        controller.stop()
