"""Threads released together, for concurrency tests on real transactions (django_db(transaction=True))."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection

TIMEOUT_SECONDS = 120


def run_threads(
    work: Callable[[int], object], *, threads: int, name: str = "worker", timeout: float = TIMEOUT_SECONDS
) -> list:
    """Run work(i) in `threads` threads released together; each closes its own connection.
    Returns the results; fails on any exception or on a thread still running after the timeout."""
    barrier = threading.Barrier(threads)
    results: list = [None] * threads
    errors: list[BaseException] = []

    def target(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    pool = [threading.Thread(target=target, args=(i,), name=f"{name}-{i}") for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=timeout)
    stuck = [t.name for t in pool if t.is_alive()]
    assert stuck == [], f"threads did not finish in {timeout}s (deadlock?): {stuck}"
    assert errors == [], errors
    return results
