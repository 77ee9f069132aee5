"""Serving as in production (issue 10, item 13): `python -m config.serve` runs Granian with its workers and threads
from the environment, and answers /healthz and the API over real HTTP; database connections persist between
requests, with a health check, and the ledger's prepared posting statement survives (and recovers from) that."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import connection

from config.serve import server_argv

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# --- the command ----------------------------------------------------------------------------------------------------


def _option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_server_command_takes_workers_threads_host_and_port_from_the_environment(monkeypatch):
    # given
    monkeypatch.setenv("WEB_WORKERS", "3")
    monkeypatch.setenv("WEB_THREADS", "4")
    monkeypatch.setenv("WEB_HOST", "0.0.0.0")
    monkeypatch.setenv("PORT", "8123")

    # when
    argv = server_argv()

    # then
    assert argv[:3] == [sys.executable, "-m", "granian"]
    assert _option(argv, "--interface") == "wsgi"
    assert (_option(argv, "--workers"), _option(argv, "--blocking-threads")) == ("3", "4")
    assert (_option(argv, "--host"), _option(argv, "--port")) == ("0.0.0.0", "8123")
    assert argv[-1] == "config.wsgi:application"


def test_server_command_defaults_to_one_worker_per_cpu_and_two_threads(monkeypatch):
    # given
    for name in ("WEB_WORKERS", "WEB_THREADS", "WEB_HOST", "PORT", "WEB_ACCESS_LOG"):
        monkeypatch.delenv(name, raising=False)

    # when
    argv = server_argv()

    # then
    assert _option(argv, "--workers") == str(os.cpu_count() or 1)
    assert _option(argv, "--blocking-threads") == "2"
    assert (_option(argv, "--host"), _option(argv, "--port")) == ("127.0.0.1", "8000")
    assert "--no-access-log" in argv


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_server_command_refuses_a_bad_worker_count(monkeypatch, value):
    # given
    monkeypatch.setenv("WEB_WORKERS", value)

    # when / then
    with pytest.raises(SystemExit, match="WEB_WORKERS must be a positive whole number"):
        server_argv()


# --- the server, over HTTP --------------------------------------------------------------------------------------------


def _get(url: str, **headers: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


@pytest.mark.server
def test_production_server_answers_healthz_and_the_api(transactional_db, make_customer):
    from billing.models import Account, Transaction
    from billing.services.accounts import account_for_customer, account_system
    from billing.services.api_keys import api_key_create
    from billing.services.ledger import Leg, ledger_post
    from tests.support.celery import database_url_from
    from tests.support.webserver import WebServer

    # given a customer with 125.50 RUB on the balance and a read key, committed for the server's own connections
    customer = make_customer()
    account = account_for_customer(customer=customer).pk
    clearing = account_system(kind=Account.Kind.PROVIDER_CLEARING, currency="RUB").pk
    amount = Decimal("125.50")
    ledger_post(
        kind=Transaction.Kind.PAYMENT,
        key="serve-test-topup",
        legs=[Leg(account, -amount, "RUB"), Leg(clearing, amount, "RUB")],
        customer=customer.pk,
    )
    _, raw_key = api_key_create(name="serve test", scope="read")
    env = {
        "DATABASE_URL": database_url_from(connection.settings_dict),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "WEB_WORKERS": "1",
        "WEB_THREADS": "2",
    }

    # when
    with WebServer(env=env) as server:
        try:
            health = _get(f"{server.url}/healthz")
            balance = [
                _get(f"{server.url}/api/v1/customers/{customer.pk}/balance/", Authorization=f"Bearer {raw_key}")
                for _ in range(3)  # the same threads and connections serve again
            ]
            log = server.output()
        finally:
            server.stop()

    # then
    assert "granian" in " ".join(server.argv)
    assert health == (200, {"status": "ok", "database": "ok", "broker": "ok"})
    assert (
        balance
        == [
            (
                200,
                {
                    "customer_id": customer.pk,
                    "currency": "RUB",
                    "balances": [
                        {"currency": "RUB", "amount": "125.50", "credit_limit": "0.00", "available": "125.50"}
                    ],
                },
            )
        ]
        * 3
    )
    assert "Traceback" not in log


# --- connections ------------------------------------------------------------------------------------------------------

READ_SETTINGS = (
    "import environ; environ.Env.read_env = lambda *args, **kwargs: None; "
    "import config.settings.base as s; d = s.DATABASES['default']; print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])"
)


def _database_settings(**env: str) -> list[str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DB_CONN_MAX_AGE", "DB_CONN_HEALTH_CHECKS", "DJANGO_SETTINGS_MODULE")
    }
    environment.update(DATABASE_URL="postgres://nobody@127.0.0.1:1/unused", DEBUG="True", **env)
    result = subprocess.run(
        [sys.executable, "-c", READ_SETTINGS], cwd=BASE_DIR, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_database_connections_persist_with_health_checks_by_default():
    assert _database_settings() == ["600", "True"]


def test_database_connection_settings_come_from_the_environment():
    assert _database_settings(DB_CONN_MAX_AGE="0", DB_CONN_HEALTH_CHECKS="False") == ["0", "False"]


def _new_request() -> None:
    """What Django does between two requests: request_finished, then request_started (close_old_connections)."""
    request_finished.send(sender=__name__)
    request_started.send(sender=__name__)


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _prepared_postings() -> int:
    """How many statements this session prepared that insert a ledger transaction (the posting statement)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%INSERT INTO billing_transaction%"]
        )
        return cursor.fetchone()[0]


@pytest.fixture
def persistent_connection(transactional_db, monkeypatch):
    """This thread's connection with production's settings (whatever the environment of the test run says)."""
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 600)
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", True)
    yield connection
    connection.close()


def _top_up(*, customer, account: int, clearing: int, key: str, amount: str):
    from billing.models import Transaction
    from billing.services.ledger import Leg, ledger_post

    return ledger_post(
        kind=Transaction.Kind.PAYMENT,
        key=key,
        legs=[Leg(account, -Decimal(amount), "RUB"), Leg(clearing, Decimal(amount), "RUB")],
        customer=customer.pk,
    )


def test_ledger_posting_reuses_its_prepared_statement_over_a_persistent_connection(
    persistent_connection, make_customer
):
    from billing.models import Account
    from billing.selectors import customer_balance
    from billing.services.accounts import account_for_customer, account_system

    # given a posting in one request
    customer = make_customer()
    accounts = {
        "account": account_for_customer(customer=customer).pk,
        "clearing": account_system(kind=Account.Kind.PROVIDER_CLEARING, currency="RUB").pk,
    }
    _top_up(customer=customer, key="reuse-1", amount="10.00", **accounts)
    pid = _backend_pid()
    assert _prepared_postings() == 1

    # when the next request posts the same shape of transaction
    _new_request()
    _top_up(customer=customer, key="reuse-2", amount="5.25", **accounts)

    # then it ran on the same PostgreSQL session, whose prepared statement served it again
    assert _backend_pid() == pid
    assert _prepared_postings() == 1
    assert customer_balance(customer=customer).amount == Decimal("15.25")


def test_ledger_posting_as_a_requests_first_query_survives_a_connection_closed_by_the_server(
    persistent_connection, make_customer
):
    import psycopg

    from billing.models import Account
    from billing.selectors import customer_balance
    from billing.services.accounts import account_for_customer, account_system
    from tests.support.celery import database_url_from

    # given a persistent connection that prepared the posting statement, then was closed by the server between two
    # requests (a PostgreSQL restart, an idle timeout, a failover)
    customer = make_customer()
    accounts = {
        "account": account_for_customer(customer=customer).pk,
        "clearing": account_system(kind=Account.Kind.PROVIDER_CLEARING, currency="RUB").pk,
    }
    _top_up(customer=customer, key="dead-1", amount="10.00", **accounts)
    pid = _backend_pid()
    with psycopg.connect(database_url_from(connection.settings_dict), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    _new_request()

    # when the next request's first query is a posting
    _top_up(customer=customer, key="dead-2", amount="5.25", **accounts)

    # then the health check replaced the connection and the statement was prepared on the new one
    assert _backend_pid() != pid
    assert _prepared_postings() == 1
    assert customer_balance(customer=customer).amount == Decimal("15.25")
