"""The production web server: `python -m config.serve` serves config.wsgi under Granian.

Granian is an HTTP server written in Rust: it parses HTTP and keeps the client connections outside the GIL, and
hands each request to the WSGI application on one of a worker's blocking threads. Everything comes from the
environment or .env (README, "Production"; .env.example):

- WEB_HOST (default 127.0.0.1) and PORT (default 8000): where it listens; production behind a proxy or a
  container sets WEB_HOST=0.0.0.0.
- WEB_WORKERS (default: the number of CPUs): worker processes, each with its own Python interpreter and GIL.
- WEB_THREADS (default 2): threads per worker that run the application, so one request's database round trips
  overlap another's Python. Each thread keeps its own database connection (DB_CONN_MAX_AGE), so a server holds
  up to WEB_WORKERS × WEB_THREADS connections.
- WEB_ACCESS_LOG (default off): a line per request on standard output (`make run` turns it on).

`make run` starts the same command (config/devserver.py), and so do the `api` benchmark and its test.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APPLICATION = "config.wsgi:application"


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise SystemExit(f"{name} must be a positive whole number, not {raw!r}.")
    return value


def server_argv(*, host: str | None = None, port: int | None = None, access_log: bool | None = None) -> list[str]:
    """The command line that serves the application: Granian's, with its settings from the environment."""
    if access_log is None:
        access_log = os.environ.get("WEB_ACCESS_LOG", "").strip().lower() in {"true", "on", "y", "yes", "1"}
    host = host or os.environ.get("WEB_HOST", "").strip() or "127.0.0.1"
    port = port if port is not None else _positive_int("PORT", 8000)
    workers = _positive_int("WEB_WORKERS", os.cpu_count() or 1)
    threads = _positive_int("WEB_THREADS", 2)
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "wsgi",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        str(threads),
        "--no-ws",
        "--http",
        "1",
        "--access-log" if access_log else "--no-access-log",
        APPLICATION,
    ]


def main() -> None:
    import environ

    # .env as the settings read it (the environment wins), so WEB_WORKERS and the others may live there too
    environ.Env.read_env(Path(__file__).resolve().parent.parent / ".env", overwrite=False)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    argv = server_argv()
    sys.stdout.flush()
    os.execv(argv[0], argv)  # noqa: S606 - our own interpreter running granian, not a shell


if __name__ == "__main__":
    main()
