from __future__ import annotations

import uuid
from decimal import Decimal

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
