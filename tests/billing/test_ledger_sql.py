"""billing/sql/ledger.sql is the one canonical copy of the ledger's trigger functions and triggers: it must say
exactly what the migrated database has (pg_get_functiondef, pg_get_triggerdef), and a change of it must come
with a migration that loads it (the newest LEDGER_SQL_SHA256 pin). See docs/ledger.md."""

from __future__ import annotations

import difflib
import hashlib
import importlib
import pkgutil
import re
from pathlib import Path

import pytest
from django.db import connection

import billing.migrations

LEDGER_SQL = Path(billing.migrations.__file__).resolve().parent.parent / "sql" / "ledger.sql"

_FUNCTION = re.compile(r"^CREATE OR REPLACE FUNCTION (\w+)\(.*?^\$\$;", re.MULTILINE | re.DOTALL)
_TRIGGER = re.compile(r"^CREATE (?:CONSTRAINT )?TRIGGER (\w+) .*?;$", re.MULTILINE | re.DOTALL)


def _normalize(definition: str) -> str:
    """One line, single spaces, no schema qualification, $$ quoting: how the file and PostgreSQL both read."""
    definition = definition.strip().removesuffix(";").replace("$function$", "$$")
    definition = re.sub(r"\bpublic\.", "", definition)
    return " ".join(definition.split())


def _file_definitions(pattern: re.Pattern) -> dict[str, str]:
    return {m.group(1): m.group(0) for m in pattern.finditer(LEDGER_SQL.read_text(encoding="utf-8"))}


def _file_digest() -> str:
    text = LEDGER_SQL.read_text(encoding="utf-8")
    found = sorted([m for p in (_FUNCTION, _TRIGGER) for m in p.finditer(text)], key=lambda m: m.start())
    return hashlib.sha256("\n".join(_normalize(m.group(0)) for m in found).encode()).hexdigest()


def _database_functions() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT p.proname, pg_get_functiondef(p.oid)
              FROM pg_proc p
             WHERE p.pronamespace = current_schema()::regnamespace AND p.proname LIKE 'billing\\_%'
            """
        )
        return dict(cursor.fetchall())


def _database_triggers() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.tgname, pg_get_triggerdef(t.oid)
              FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
             WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace
               AND c.relname LIKE 'billing\\_%'
            """
        )
        return dict(cursor.fetchall())


def _assert_same(kind: str, in_file: dict[str, str], in_database: dict[str, str]) -> None:
    assert in_file, f"no {kind} found in {LEDGER_SQL}"
    for name, definition in in_file.items():
        assert name in in_database, f"{kind} {name} is in {LEDGER_SQL.name} but not in the database"
        if _normalize(definition) != _normalize(in_database[name]):
            diff = "\n".join(
                difflib.unified_diff(
                    _normalize(in_database[name]).replace("; ", ";\n").splitlines(),
                    _normalize(definition).replace("; ", ";\n").splitlines(),
                    "database (migrations)",
                    LEDGER_SQL.name,
                    lineterm="",
                )
            )
            pytest.fail(f"{kind} {name} differs between the migrations and {LEDGER_SQL.name}:\n{diff}")
    missing = sorted(set(in_database) - set(in_file))
    assert not missing, f"{kind}s in the database (created by a migration) missing from {LEDGER_SQL.name}: {missing}"


@pytest.mark.django_db
def test_every_ledger_function_is_the_databases():
    # given the database built by the migrations
    # when its billing_* functions are printed back
    # then the file holds each of them, exactly, and no other
    _assert_same("function", _file_definitions(_FUNCTION), _database_functions())


@pytest.mark.django_db
def test_every_ledger_trigger_is_the_databases():
    _assert_same("trigger", _file_definitions(_TRIGGER), _database_triggers())


@pytest.mark.django_db
def test_loading_the_file_again_changes_nothing():
    # given the migrated database
    functions, triggers = _database_functions(), _database_triggers()
    # when the file is loaded once more (inside the test's transaction, rolled back after it)
    with connection.cursor() as cursor:
        cursor.execute(LEDGER_SQL.read_text(encoding="utf-8"))
    # then every definition is as it was
    assert _database_functions() == functions
    assert _database_triggers() == triggers


def test_the_newest_migration_loading_the_file_pins_its_definitions():
    # given the billing migrations that load billing/sql/ledger.sql (they declare LEDGER_SQL_SHA256)
    pins = {}
    for module in pkgutil.iter_modules(billing.migrations.__path__):
        migration = importlib.import_module(f"billing.migrations.{module.name}")
        if hasattr(migration, "LEDGER_SQL_SHA256"):
            pins[module.name] = migration.LEDGER_SQL_SHA256
    assert pins, "no billing migration loads billing/sql/ledger.sql"
    newest = max(pins)
    # then the newest one was written for the file as it is: a change of the file needs a migration that loads
    # it again (and whose reverse restores the previous definitions)
    assert pins[newest] == _file_digest(), (
        f"{LEDGER_SQL.name} changed since billing.migrations.{newest} was written: add a migration that loads it "
        f"again (copy {newest}, with a reverse restoring the previous definitions) and "
        f"LEDGER_SQL_SHA256 = {_file_digest()!r}"
    )


@pytest.mark.django_db
def test_a_definition_changed_by_a_migration_alone_is_caught():
    # given a migration that changes a function and a trigger but not the file (here: inside the test's
    # transaction, rolled back after it)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE OR REPLACE FUNCTION billing_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RETURN NULL;
            END;
            $$;
            DROP TRIGGER billing_entry_append_only ON billing_entry;
            CREATE TRIGGER billing_entry_append_only BEFORE DELETE ON billing_entry
                FOR EACH ROW EXECUTE FUNCTION billing_ledger_append_only();
            """
        )
    # when the file is compared with the database, then each difference fails the comparison
    with pytest.raises(pytest.fail.Exception, match="function billing_ledger_append_only differs"):
        _assert_same("function", _file_definitions(_FUNCTION), _database_functions())
    with pytest.raises(pytest.fail.Exception, match="trigger billing_entry_append_only differs"):
        _assert_same("trigger", _file_definitions(_TRIGGER), _database_triggers())
