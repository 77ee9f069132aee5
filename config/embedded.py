"""Embedded services for a laptop: PostgreSQL (pgserver) and Celery's filesystem broker.

Used only when DATABASE_URL / CELERY_BROKER_URL are unset. Production and CI always set both.
`python -m config.embedded CMD…` runs CMD with both variables exported and stops the embedded
PostgreSQL it started when CMD exits.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("BILLING_DATA_DIR", BASE_DIR / ".data"))
PG_DIR = DATA_DIR / "pg"
BROKER_DIR = DATA_DIR / "broker"
DB_NAME = "billing"
FILESYSTEM_BROKER_URL = "filesystem://localhost/"  # with a host name: kombu warns on every connection without one

_server = None


def _import_pgserver():
    """Import pgserver without its warning. At import it locates a lock file under the user's runtime directory;
    without XDG_RUNTIME_DIR (a container, a root shell, CI) platformdirs warns "XDG_RUNTIME_DIR is not set,
    falling back to /tmp/runtime-<uid>" on every command. The fallback is what we want: every process of this
    machine finds the same lock there."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pgserver
        import pgserver.postgres_server
    return pgserver


def _forget_dead_handles() -> None:
    """pgserver stops the server when its last handle exits; a handle whose process was killed (SIGKILL, OOM)
    stays listed in .handle_pids.json and would keep the server running forever. Drop the dead ones."""
    import json

    import psutil

    PostgresServer = _import_pgserver().postgres_server.PostgresServer

    handles = PG_DIR / ".handle_pids.json"
    if not handles.exists():
        return
    with PostgresServer._lock:
        try:
            pids = json.loads(handles.read_text())
        except (OSError, ValueError):
            return
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))


def start_postgres(*, cleanup_mode: str | None = None):
    """Start (or attach to) the embedded PostgreSQL under .data/pg and return its server handle."""
    global _server
    if _server is None:
        pgserver = _import_pgserver()
        PG_DIR.parent.mkdir(parents=True, exist_ok=True)
        _forget_dead_handles()
        _server = pgserver.get_server(PG_DIR, cleanup_mode=cleanup_mode)
        exists = _server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}';")
        if "(1 row)" not in exists:
            _server.psql(f"CREATE DATABASE {DB_NAME};")
    return _server


def stop_postgres() -> None:
    """Release this process's handle now; with cleanup_mode="stop" the last handle stops the server."""
    global _server
    if _server is not None:
        _server.cleanup()
        _server = None


def embedded_database_url(*, cleanup_mode: str | None = None) -> str:
    server = start_postgres(cleanup_mode=cleanup_mode)
    info = server.get_postmaster_info()
    if info.socket_dir is not None:
        host = quote(str(info.socket_dir), safe="")
        return f"postgres://postgres@{host}/{DB_NAME}"
    return f"postgres://postgres@127.0.0.1:{info.port}/{DB_NAME}"


def filesystem_broker_folder() -> Path:
    BROKER_DIR.mkdir(parents=True, exist_ok=True)
    (BROKER_DIR / "control").mkdir(exist_ok=True)
    return BROKER_DIR


def export_defaults(*, cleanup_mode: str | None = None) -> None:
    """Fill DATABASE_URL and CELERY_BROKER_URL in os.environ when they are unset (in the environment and in .env)."""
    env_file = BASE_DIR / ".env"
    if env_file.exists():
        import environ

        environ.Env.read_env(env_file, overwrite=False)  # as the settings do: the environment wins over .env
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = embedded_database_url(cleanup_mode=cleanup_mode)
    if not os.environ.get("CELERY_BROKER_URL"):
        filesystem_broker_folder()
        os.environ["CELERY_BROKER_URL"] = FILESYSTEM_BROKER_URL


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m config.embedded COMMAND [ARGS…]", file=sys.stderr)
        return 2
    export_defaults(cleanup_mode="stop")
    from config.celery import SETTINGS_MODULE_FROM_ENVIRONMENT

    env = dict(os.environ)
    if not SETTINGS_MODULE_FROM_ENVIRONMENT:
        env.pop("DJANGO_SETTINGS_MODULE", None)  # set by importing this package, not by the caller
    try:
        return subprocess.call(argv, env=env)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
