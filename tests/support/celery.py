"""A REAL Celery worker process for integration tests, on the configured broker and the pytest test database.

    worker = CeleryWorker.start_for_test_database(queue="q_inv-1a2b3c4d")
    ...
    worker.kill()          # SIGTERM, then SIGKILL; safe to call twice (a test may kill it mid-run)

`use_queue(app, queue)` makes the test process publish to that queue too (the app caches its
queue declarations and task sender, so changing the setting alone is not enough).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent.parent
CELERY_BIN = BASE_DIR / ".venv" / "bin" / "celery"
READY_MARK = " ready."


def database_url_from(settings_dict: dict) -> str:
    """postgres:// URL of a Django connection's settings (HOST may be a socket directory: percent-encoded)."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = settings_dict.get("PASSWORD") or ""
    credentials = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
    host = quote(settings_dict.get("HOST") or "", safe="")
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(settings_dict['NAME'], safe='')}"


def unique_queue(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class CeleryWorker:
    """One `celery worker --pool solo` subprocess consuming one queue; its output goes to a log file."""

    def __init__(self, *, queue: str, env: dict[str, str]) -> None:
        self.queue = queue
        self.env = env
        self.hostname = f"{queue}@%h"
        self._log = tempfile.NamedTemporaryFile(prefix=f"celery-{queue}-", suffix=".log", delete=False)
        self.log_path = Path(self._log.name)
        self.process: subprocess.Popen | None = None

    @classmethod
    def start_for_test_database(cls, *, queue: str, ready_timeout: float = 60.0, extra_env=None) -> CeleryWorker:
        from django.conf import settings
        from django.db import connection

        env = {
            **os.environ,
            "DATABASE_URL": database_url_from(connection.settings_dict),
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CELERY_QUEUE": queue,
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        worker = cls(queue=queue, env=env)
        worker.start()
        worker.wait_ready(timeout=ready_timeout)
        return worker

    def start(self) -> None:
        command = [
            str(CELERY_BIN),
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "-l",
            "info",
            "-Q",
            self.queue,
            "-n",
            self.hostname,
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
        ]
        self.process = subprocess.Popen(
            command, cwd=BASE_DIR, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if READY_MARK in self.log():
                return
            if not self.alive:
                raise RuntimeError(f"celery worker exited with {self.process.returncode}:\n{self.log()}")
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"celery worker not ready after {timeout}s:\n{self.log()}")

    def kill(self, *, grace: float = 10.0) -> int | None:
        """SIGTERM (warm shutdown), then SIGKILL after `grace` seconds. Returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        return self.process.returncode

    def hard_kill(self) -> int | None:
        """SIGKILL at once: a crash in the middle of a task."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        return self.process.returncode if self.process else None

    def close(self) -> None:
        self.kill()
        self._log.close()
        with contextlib.suppress(FileNotFoundError):
            self.log_path.unlink()

    def print_log(self, *, file=None) -> None:
        print(
            f"----- celery worker log ({self.queue}, exit {self.process.returncode if self.process else None}) -----",
            file=file or sys.stdout,
        )
        print(self.log(), file=file or sys.stdout)


_CACHED_ON_AMQP = ("default_queue", "queues", "router", "send_task_message")


@contextlib.contextmanager
def use_queue(app, queue: str):
    """Publish this process's tasks to `queue` by default, then restore the previous default queue."""
    previous = app.conf.task_default_queue

    def reset_caches() -> None:
        for name in _CACHED_ON_AMQP:
            app.amqp.__dict__.pop(name, None)

    app.conf.task_default_queue = queue
    reset_caches()
    try:
        yield
    finally:
        app.conf.task_default_queue = previous
        reset_caches()


def delete_queue(app, queue: str) -> None:
    """Best effort: drop the test's queue from the broker (redis keys, filesystem message and exchange files)."""
    from kombu import Exchange, Queue

    with contextlib.suppress(Exception), app.connection_for_write() as conn:
        # the worker declared it as queue → direct exchange of the same name, routing key = queue; kombu deletes
        # only bindings this channel knows, so declare it here first
        bound = Queue(queue, Exchange(queue, type="direct"), routing_key=queue).bind(conn.default_channel)
        bound.declare()
        bound.purge()
        bound.delete()
    control_folder = (app.conf.broker_transport_options or {}).get("control_folder")
    if app.conf.broker_url.startswith("filesystem://") and control_folder:
        with contextlib.suppress(FileNotFoundError):
            (Path(control_folder) / f"{queue}.exchange").unlink()
