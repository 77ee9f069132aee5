"""/healthz answers 200 when the database and the Celery broker both answer, 503 otherwise."""

from __future__ import annotations

import pytest

from config.celery import app as celery_app

pytestmark = pytest.mark.django_db

CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def broker_down(settings, monkeypatch):
    # Celery reads CELERY_BROKER_URL from the environment before its configuration, and caches its configuration
    # from Django settings: override all three, restore all three.
    previous = celery_app.conf.broker_url, celery_app.conf.broker_transport_options
    monkeypatch.setenv("CELERY_BROKER_URL", CLOSED_PORT_BROKER)
    settings.CELERY_BROKER_URL = CLOSED_PORT_BROKER
    celery_app.conf.broker_url = CLOSED_PORT_BROKER
    celery_app.conf.broker_transport_options = {}
    yield
    monkeypatch.undo()
    celery_app.conf.broker_url, celery_app.conf.broker_transport_options = previous


def test_healthz_ok_when_database_and_broker_answer(client):
    # given the configured database and broker (both up)
    # when
    response = client.get("/healthz")

    # then
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_503_when_the_broker_is_down(client, broker_down):
    # given a broker URL on a closed port
    # when
    response = client.get("/healthz")

    # then
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == "ok"
    assert body["broker"] != "ok" and body["broker"]
