"""A quiet log where each line means something (issue 10, item 12): each warning printed once, no line for an idle
outbox dispatch at INFO, no warning from the schema generator, no noise from the embedded PostgreSQL's wrapper.

Logging is configured by Django at start-up from settings.LOGGING, so the checks of that configuration run in a
fresh interpreter with the settings `make run` uses (config.settings.base, DEBUG on, LOG_LEVEL=INFO) and read what it
prints, as a terminal would."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from drf_spectacular.drainage import GENERATOR_STATS
from rest_framework.test import APIClient

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# Records as Django, our code, Celery's beat and worker, and pgserver emit them: the same loggers, messages and
# arguments, through the real Celery functions where they are callable on their own.
EMIT = textwrap.dedent(
    """
    import logging

    import django

    django.setup()

    logging.getLogger("django.request").warning("ONCE-1 Not Found: /nowhere")
    logging.getLogger("billing.services.ledger").warning("ONCE-2 from our code")
    logging.getLogger("django.server").warning('ONCE-3 "GET /nowhere HTTP/1.1" 404')

    from celery.app import trace
    from celery.beat import ScheduleEntry, Scheduler

    from config.celery import app

    beat = Scheduler(app, lazy=True)
    beat.apply_async = lambda entry, producer=None, advance=True, **kwargs: None
    beat.apply_entry(ScheduleEntry(name="outbox-dispatch", task="billing.tasks.outbox_dispatch", app=app))
    beat.apply_entry(ScheduleEntry(name="billing-run", task="plans.tasks.billing_run_start", app=app))

    def run(task, result):
        context = {"id": f"run{result}", "name": task, "args": "()", "kwargs": "{}", "eta": None}
        logging.getLogger("celery.worker.strategy").info(trace.LOG_RECEIVED, context)
        trace.info(trace.LOG_SUCCESS, {**context, "return_value": result, "runtime": 0.01})

    run("billing.tasks.outbox_dispatch", "0")  # idle
    run("billing.tasks.outbox_dispatch", "28")  # delivered 28 events
    run("plans.tasks.billing_run_start", "0")  # another task: untouched

    logging.getLogger("pgserver").info("exiting 4242 remaining pids=[4242]")
    logging.getLogger("pgserver").info("cleaning last handle for server: /tmp/pg")
    """
)


def _log_of(**env: str) -> list[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "LOG_LEVEL", "DEBUG")}
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        DEBUG="True",  # as `make run`
        DATABASE_URL="postgres://nobody@127.0.0.1:1/unused",  # nothing here connects
        CELERY_BROKER_URL="memory://localhost/",
        **env,
    )
    result = subprocess.run(
        [sys.executable, "-c", EMIT], cwd=BASE_DIR, env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return (result.stdout + result.stderr).splitlines()


def test_each_warning_is_printed_once_and_routine_lines_are_not_printed_at_info():
    # when the records are emitted with the configured logging at INFO
    log = _log_of(LOG_LEVEL="INFO")

    # then each warning appears once
    for marker in ("ONCE-1", "ONCE-2", "ONCE-3"):
        assert sum(marker in line for line in log) == 1, (marker, log)
    # the idle dispatch leaves no line: beat's send, the worker's "received" and "succeeded … : 0"
    outbox = [line for line in log if "outbox" in line]
    assert len(outbox) == 1 and "outbox_dispatch" in outbox[0] and "succeeded" in outbox[0] and ": 28" in outbox[0]
    # other tasks keep their lines (beat's send, received, succeeded)
    assert sum("billing_run_start" in line for line in log) == 3, log
    # and the embedded PostgreSQL's wrapper says nothing at INFO
    assert not [line for line in log if "remaining pids" in line or "cleaning last handle" in line]


def test_the_routine_lines_are_kept_at_debug():
    # when
    log = _log_of(LOG_LEVEL="DEBUG")

    # then beat's send and the worker's "received" lines of every dispatch, and the idle one's "succeeded", are
    # there as DEBUG records
    debug = [line.split(" DEBUG ", 1)[1] for line in log if " DEBUG " in line and "outbox" in line]
    assert debug == [
        "celery.beat: Scheduler: Sending due task outbox-dispatch (billing.tasks.outbox_dispatch)",
        "celery.beat: billing.tasks.outbox_dispatch sent.",  # beat's own DEBUG line
        "celery.worker.strategy: Task billing.tasks.outbox_dispatch[run0] received",
        "celery.app.trace: Task billing.tasks.outbox_dispatch[run0] succeeded in 0.01s: 0",
        "celery.worker.strategy: Task billing.tasks.outbox_dispatch[run28] received",
    ], log


@pytest.mark.django_db
def test_fetching_the_schema_emits_no_warning(capsys):
    # given
    GENERATOR_STATS.reset()

    # when
    response = APIClient().get("/api/v1/schema/")

    # then
    assert response.status_code == 200
    assert not GENERATOR_STATS, (dict(GENERATOR_STATS._warn_cache), dict(GENERATOR_STATS._error_cache))
    assert "Warning" not in capsys.readouterr().err
    schemas = yaml.safe_load(response.content)["components"]["schemas"]
    assert {"CustomerStatusEnum", "SubscriptionStatusEnum", "InvoiceStatusEnum"} <= set(schemas)


@pytest.mark.slow
def test_manage_py_under_the_embedded_services_prints_only_its_own_output():
    # given the laptop's environment: no DATABASE_URL (the embedded PostgreSQL under .data/pg), no XDG_RUNTIME_DIR
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "XDG_RUNTIME_DIR", "DJANGO_SETTINGS_MODULE")
    }
    environment["DEBUG"] = "True"

    # when
    result = subprocess.run(
        [sys.executable, "-m", "config.embedded", sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )

    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."
    assert result.stderr == ""
