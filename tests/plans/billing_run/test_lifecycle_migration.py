"""plans.0007: runs the old code left `running` are closed as interrupted (all but the newest, whose start becomes
its heartbeat), completed runs with failures become completed_with_failures; reversible."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)


def _migrate(target: tuple[str, str] | None) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target] if target else executor.loader.graph.leaf_nodes())


def _runs() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT status, finished_at IS NOT NULL FROM billing_billingrun ORDER BY id")
        return cursor.fetchall()


def test_stuck_runs_are_closed_and_statuses_map_both_ways():
    # given, before the migration, two runs stuck running, one completed with a failure and one without
    _migrate(("plans", "0006_billing_run_moves_here"))
    with connection.cursor() as cursor:
        for status, failed in (("running", 0), ("completed", 1), ("running", 0), ("completed", 0)):
            cursor.execute(
                "INSERT INTO billing_billingrun (as_of, status, triggered_by, chunk_size, started_at, due_at_start,"
                " processed, charged, canceled, suspended, failed, chunks, failures, workers_started,"
                " workers_finished) VALUES (now(), %s, '', 1000, now(), 0, 0, 0, 0, 0, %s, 0, '[]', 0, 0)",
                [status, failed],
            )
    try:
        # when it runs
        _migrate(None)

        # then only the newest stuck run is still running (with a heartbeat), the other is interrupted
        assert _runs() == [
            ("interrupted", True),
            ("completed_with_failures", False),
            ("running", False),
            ("completed", False),
        ]
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM billing_billingrun WHERE status = 'running' AND heartbeat_at IS NULL")
            assert cursor.fetchone()[0] == 0

        # when it is reversed, then the statuses map back to the old ones
        _migrate(("plans", "0006_billing_run_moves_here"))
        assert [status for status, _ in _runs()] == ["failed", "completed", "running", "completed"]
    finally:
        _migrate(None)
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM billing_billingrun")
