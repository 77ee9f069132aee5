"""/healthz answers 200 when the database and the Celery broker both answer, 503 otherwise; the answer names the
dependency that is down, never where it lives (the details go to the server's log)."""

from __future__ import annotations

import logging

import pytest
from django.db import OperationalError

from config import health
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


def test_healthz_503_names_the_broker_but_not_where_it_lives(client, broker_down, caplog):
    # given a broker URL on a closed port
    # when
    with caplog.at_level(logging.WARNING, logger="config.health"):
        response = client.get("/healthz")

    # then the client learns which dependency is down, and nothing about it
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "broker": "unavailable"}
    assert b"127.0.0.1" not in response.content and b"redis" not in response.content.lower()
    # and the server's log has the details
    (record,) = [r for r in caplog.records if r.name == "config.health"]
    assert record.levelno == logging.WARNING and "broker" in record.getMessage()
    assert record.exc_info is not None


class _DownConnection:
    """The database connection as a server that refuses it looks: each cursor raises with its host and port."""

    def cursor(self):
        raise OperationalError('connection to server at "10.1.2.3", port 6543 failed: Connection refused')


def test_healthz_503_names_the_database_but_not_where_it_lives(client, monkeypatch, caplog):
    # given a database that refuses connections
    monkeypatch.setattr(health, "connection", _DownConnection())

    # when
    with caplog.at_level(logging.WARNING, logger="config.health"):
        response = client.get("/healthz")

    # then
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unavailable", "broker": "ok"}
    for secret in (b"10.1.2.3", b"6543", b"OperationalError", b"refused"):
        assert secret not in response.content
    (record,) = [r for r in caplog.records if r.name == "config.health"]
    assert record.levelno == logging.WARNING and "database" in record.getMessage()
    assert "10.1.2.3" in str(record.exc_info[1])
