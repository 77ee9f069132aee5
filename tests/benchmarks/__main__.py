"""`python -m tests.benchmarks [--only GROUP[,GROUP…]]`: run the benchmark groups, print `BENCH <name> <value> <unit>`.

Each group is a module of this package exposing `run()`, a generator of (name, value, unit) figures, and/or parts
of it, modules named `<group>_<part>` (e.g. `documents_pdf` of `documents`) run after it in name order, so two
issues can add figures to one group without sharing a file. The runner
never touches the development or test database: it creates a fresh `<dbname>_bench` next to the one DATABASE_URL
names (dropping a leftover one first), points Django at it through the environment (so worker processes that a
group spawns see it too), migrates it, runs the groups in order and drops it at the end, also on failure. A group
that fails prints its traceback; the others still run and the runner exits 1.

Settings are production-like unless the environment says otherwise: DEBUG off (no query log), a throwaway
SECRET_KEY, and an in-memory Celery broker (the outbox kick goes nowhere instead of into a real queue).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
import traceback
from urllib.parse import unquote, urlsplit

# The groups in the order they run; every issue that adds a group appends it here.
GROUPS = ["ledger", "billing_run", "usage", "api", "documents", "payments", "portal"]


def _parse_args(argv: list[str] | None) -> list[str]:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", metavar="GROUP[,GROUP…]", help=f"run only these groups (comma-separated), from: {', '.join(GROUPS)}"
    )
    args = parser.parse_args(argv)
    if not args.only:
        return list(GROUPS)
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in GROUPS]
    if unknown or not wanted:
        parser.error(
            f"unknown benchmark group(s): {', '.join(unknown) or repr(args.only)}; known groups: {', '.join(GROUPS)}"
        )  # exits 2
    return [name for name in GROUPS if name in wanted]  # registry order, no duplicates


def _database_urls() -> tuple[str, str, str]:
    """(maintenance URL, bench database name, bench URL), derived from DATABASE_URL (or the embedded server)."""
    base = os.environ.get("DATABASE_URL", "")
    if not base:
        from config import embedded

        base = embedded.embedded_database_url()
    parts = urlsplit(base)
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise SystemExit(f"DATABASE_URL names no database: {base!r}")
    bench = f"{dbname}_bench"
    return parts._replace(path="/postgres").geturl(), bench, parts._replace(path=f"/{bench}").geturl()


def _admin(maintenance_url: str, *statements) -> None:
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _drop(name: str):
    from psycopg import sql

    return sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))


def _format(value, unit: str) -> str:
    if isinstance(value, int) or unit.endswith("/s") or abs(value) >= 100:
        return str(int(round(value)))
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def _setup_django(bench_url: str) -> None:
    os.environ["DATABASE_URL"] = bench_url  # inherited by worker processes the groups spawn
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
    os.environ["CELERY_BROKER_URL"] = "memory://localhost/"  # with a host name: kombu warns without one
    import django

    django.setup()


def _group_modules(name: str) -> list[str]:
    """The group's own module (if there is one), then its parts `<name>_<part>` in name order."""
    import pkgutil
    from pathlib import Path

    here = [m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])]
    own = [name] if name in here else []
    parts = sorted(m for m in here if m.startswith(f"{name}_") and m not in GROUPS)
    return [f"tests.benchmarks.{m}" for m in own + parts]


def _run_group(name: str) -> bool:
    import importlib

    from django.db import connections

    started = time.perf_counter()
    try:
        modules = _group_modules(name)
        if not modules:
            raise ModuleNotFoundError(f"no module tests.benchmarks.{name} nor any {name}_<part>")
        for module_name in modules:
            module = importlib.import_module(module_name)
            for figure, value, unit in module.run():
                print(f"BENCH {figure} {_format(value, unit)} {unit}", flush=True)
        return True
    except Exception:
        print(f"benchmark group {name!r} failed:", file=sys.stderr)
        traceback.print_exc()
        sys.stderr.flush()
        return False
    finally:
        connections.close_all()
        print(f"# group {name} took {time.perf_counter() - started:.1f}s", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    groups = _parse_args(argv)
    maintenance_url, bench_name, bench_url = _database_urls()
    from psycopg import sql

    _admin(maintenance_url, _drop(bench_name), sql.SQL("CREATE DATABASE {}").format(sql.Identifier(bench_name)))
    failed: list[str] = []
    try:
        _setup_django(bench_url)
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        for name in groups:
            if not _run_group(name):
                failed.append(name)
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:
            pass
        _admin(maintenance_url, _drop(bench_name))
    if failed:
        print(f"benchmark group(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
