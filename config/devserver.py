"""`make run`: the whole platform on a laptop, in one terminal.

DEBUG is on unless the environment (or .env) sets it: the settings default to off, for deployments. Without
DATABASE_URL an embedded PostgreSQL (pgserver, data under .data/pg) starts and stays up for the whole run;
without CELERY_BROKER_URL Celery uses its filesystem broker under .data/broker. Then: migrate, load the demo
data (`manage.py seed_demo`, idempotent), collect the static files (WhiteNoise serves them), and start three
children, each in its own process group: a Celery worker, Celery beat (django_celery_beat's DatabaseScheduler)
and the production web server (config/serve.py, Granian) on http://127.0.0.1:8000 (PORT overrides the port),
with its access log on. Ctrl-C or SIGTERM stops the children (SIGTERM, then SIGKILL after a timeout) and
then the embedded PostgreSQL. If a child dies, everything stops and the exit status is non-zero.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path

from config import embedded
from config.serve import server_argv

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HOST = "127.0.0.1"
STOP_TIMEOUT = 20.0
READY_TIMEOUT = 120.0
LOGIN_LINES = ("Admin login", "Accountant login", "Portal login", "Demo API key")  # repeated from seed_demo's output


class Stop(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Child:
    """A long-running process in its own process group; its output is prefixed with its name."""

    def __init__(self, name: str, argv: list[str]) -> None:
        self.name = name
        self.argv = argv
        self.process: subprocess.Popen | None = None
        self.tail: deque[str] = deque(maxlen=40)
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv,
            cwd=BASE_DIR,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            text=True,
            errors="replace",
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._pump, name=f"log-{self.name}", daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            line = line.rstrip("\n")
            self.tail.append(line)
            print(f"{self.name:>6} | {line}", flush=True)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def poll(self) -> int | None:
        return self.process.poll() if self.process is not None else None

    def signal_leader(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signum)

    def signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    def wait(self, timeout: float) -> bool:
        if self.process is None:
            return True
        try:
            self.process.wait(timeout=max(timeout, 0.0))
        except subprocess.TimeoutExpired:
            return False
        return True

    def finish(self) -> None:
        """After the leader exited: kill whatever it left in its group (pool processes) and drain the log."""
        self.signal_group(signal.SIGKILL)
        if self._reader is not None:
            self._reader.join(timeout=5)


def _on_signal(signum, frame) -> None:
    raise Stop(signum)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _manage(*args: str, capture: bool = False) -> str:
    command = [PYTHON, "manage.py", *args]
    print(f"$ manage.py {' '.join(args)}", flush=True)
    if not capture:
        subprocess.run(command, cwd=BASE_DIR, check=True, stdin=subprocess.DEVNULL)
        return ""
    result = subprocess.run(
        command, cwd=BASE_DIR, check=False, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if result.returncode:
        raise subprocess.CalledProcessError(result.returncode, command, result.stdout, result.stderr)
    return result.stdout


def _http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own http://127.0.0.1 URL
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def _debug() -> bool:
    return os.environ.get("DEBUG", "").strip().lower() in {"true", "on", "ok", "y", "yes", "1"}  # as django-environ


def _describe_database() -> str:
    if embedded._server is not None:
        return f"embedded PostgreSQL (pgserver) under {embedded.PG_DIR}"
    url = os.environ["DATABASE_URL"]
    scheme, _, rest = url.partition("://")
    return f"{scheme}://…@{rest.rpartition('@')[2]}" if "@" in rest else url


def _describe_broker() -> str:
    url = os.environ["CELERY_BROKER_URL"]
    if url.startswith("filesystem://"):
        return f"Celery filesystem broker under {embedded.BROKER_DIR}"
    scheme, _, rest = url.partition("://")
    return f"{scheme}://…@{rest.rpartition('@')[2]}" if "@" in rest else url


def _children(*, port: int, queue: str) -> list[Child]:
    data = embedded.DATA_DIR
    celery = [PYTHON, "-m", "celery", "-A", "config"]
    return [
        Child(
            "worker",
            [*celery, "worker", "-l", "info", "--concurrency", "2", "-Q", queue, "-n", f"devserver-{os.getpid()}@%h"],
        ),
        Child(
            "beat",
            [
                *celery,
                "beat",
                "-l",
                "info",
                "--scheduler",
                "django_celery_beat.schedulers:DatabaseScheduler",
                "--pidfile",
                str(data / "celerybeat.pid"),
                "--schedule",
                str(data / "celerybeat-schedule"),
            ],
        ),
        # the production server (config/serve.py: Granian, WEB_WORKERS and WEB_THREADS from the environment)
        Child("web", server_argv(host=HOST, port=port, access_log=True)),
    ]


def _dead(children: list[Child]) -> Child | None:
    return next((child for child in children if child.poll() is not None), None)


def _wait_ready(children: list[Child], *, port: int) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        dead = _dead(children)
        if dead is not None:
            raise RuntimeError(f"{dead.name} exited with code {dead.poll()} while starting")
        if _http_status(f"http://{HOST}:{port}/healthz") == 200:
            return
        time.sleep(0.5)
    raise RuntimeError(f"http://{HOST}:{port}/healthz did not answer 200 within {READY_TIMEOUT:.0f}s")


def _banner(*, port: int, logins: list[str]) -> str:
    base = f"http://{HOST}:{port}"
    lines = ["", "=" * 72, "Billing platform is running", ""]
    if _http_status(f"{base}/portal/login/") == 200:
        lines.append(f"  Portal     {base}/portal/   (the customers' own pages)")
    lines += [
        f"  Admin      {base}/admin/",
        f"  API docs   {base}/api/v1/docs/",
        f"  Health     {base}/healthz",
        "",
        *(f"  {line}" for line in logins),
        "",
        f"  Debug      {'on (this laptop only; production sets DEBUG=False)' if _debug() else 'off'}",
        *(
            [
                "  Payments   test mode: a customer's card in the admin → Top up → pay with 4242 4242 4242 4242",
                "             (or POST /api/v1/customers/<id>/top-ups/ and open its confirmation_url)",
            ]
            if _debug() or os.environ.get("PAYMENTS_TEST_MODE", "").lower() in {"true", "1", "yes", "on"}
            else []
        ),
        f"  Database   {_describe_database()}",
        f"  Broker     {_describe_broker()}",
        "",
        "Press Ctrl-C to stop everything.",
        "=" * 72,
        "",
    ]
    return "\n".join(lines)


def _stop(children: list[Child]) -> None:
    started = [child for child in children if child.process is not None]
    running = [child for child in started if child.poll() is None]
    if running:
        print(f"Stopping {', '.join(child.name for child in running)}…", flush=True)
    for child in reversed(running):
        child.signal_leader(signal.SIGTERM)  # the leader shuts its own pool down (Celery's warm shutdown)
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in running:
        if not child.wait(deadline - time.monotonic()):
            print(f"{child.name} did not stop within {STOP_TIMEOUT:.0f}s: killing it", flush=True)
            child.signal_group(signal.SIGKILL)
            child.wait(10)
    for child in started:
        child.finish()


def main() -> int:
    os.chdir(BASE_DIR)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ["PYTHONUNBUFFERED"] = "1"
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    port = int(os.environ.get("PORT") or 8000)
    # the test-mode checkout's pages and return links point here (the worker and the web server read it)
    os.environ.setdefault("PAYMENTS_PUBLIC_URL", f"http://{HOST}:{port}")
    queue = os.environ.get("CELERY_QUEUE") or "billing"
    children: list[Child] = []
    status = 0
    try:
        if not _port_free(port):
            print(f"Port {port} on {HOST} is already in use: stop what holds it or set PORT.", file=sys.stderr)
            return 1
        embedded.DATA_DIR.mkdir(parents=True, exist_ok=True)
        print("Starting the embedded services where DATABASE_URL / CELERY_BROKER_URL are unset…", flush=True)
        embedded.export_defaults(cleanup_mode="stop")
        # A laptop: Django's debug pages on 127.0.0.1 unless the environment or .env (read just above) says
        # otherwise. The settings default to DEBUG off, for deployments.
        os.environ.setdefault("DEBUG", "True")
        print(f"Database: {_describe_database()}\nBroker:   {_describe_broker()}", flush=True)

        _manage("migrate", "--noinput")
        seeded = _manage("seed_demo", capture=True)
        _manage("invoice_postpaid")  # the demo's postpaid period that has ended gets its invoice (beat does it daily)
        logins = [line.strip() for line in seeded.splitlines() if line.startswith(LOGIN_LINES)]
        _manage("collectstatic", "--noinput", "-v", "0")  # what WhiteNoise serves (Swagger UI, ReDoc, the admin)

        children = _children(port=port, queue=queue)
        for child in children:
            child.start()
        _wait_ready(children, port=port)
        print(_banner(port=port, logins=logins), flush=True)

        while True:
            dead = _dead(children)
            if dead is not None:
                print(f"{dead.name} exited with code {dead.poll()}; stopping everything.", file=sys.stderr, flush=True)
                for line in dead.tail:
                    print(f"{dead.name:>6} | {line}", file=sys.stderr)
                status = 1
                break
            time.sleep(0.5)
    except Stop as stop:
        print(f"\nReceived {stop}: shutting down.", flush=True)
    except subprocess.CalledProcessError as exc:
        print(f"Setup step failed ({' '.join(map(str, exc.cmd[1:]))}, exit {exc.returncode}).", file=sys.stderr)
        status = 1
    except RuntimeError as exc:
        print(f"Start-up failed: {exc}", file=sys.stderr)
        status = 1
    finally:
        # a second Ctrl-C during shutdown must not leave children or PostgreSQL behind
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _stop(children)
        if embedded._server is not None:
            print("Stopping the embedded PostgreSQL…", flush=True)
            embedded.stop_postgres()
        print("Stopped.", flush=True)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
