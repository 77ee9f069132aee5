"""Logging helpers used by settings.LOGGING: a quiet log where each line means something.

Celery logs three INFO lines for every run of a task (beat's "Sending due task", the worker's "received" and
"succeeded"). The outbox dispatcher runs every few seconds and usually finds nothing to do, which would make it
most of the log; RoutineTaskFilter turns those lines into DEBUG records for the tasks it names (a dispatch that
delivered events still logs its "succeeded … : <count>" at INFO).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

# what a routine task returns when it found nothing to do (Celery logs the result's repr)
_IDLE_RESULTS = frozenset({"0", "None"})


class RoutineTaskFilter(logging.Filter):
    """Demote Celery's per-run lines of routine tasks to DEBUG; kept only where DEBUG is enabled."""

    def __init__(self, tasks: Iterable[str] = ()) -> None:
        super().__init__()
        self.tasks = frozenset(tasks)

    def _routine(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.name == "celery.beat":  # info("Scheduler: Sending due task %s (%s)", entry.name, entry.task)
            return isinstance(args, tuple) and len(args) == 2 and args[1] in self.tasks
        if not isinstance(args, dict) or args.get("name") not in self.tasks:
            return False
        if record.name == "celery.worker.strategy":  # "Task %(name)s[%(id)s] received"
            return True
        if record.name == "celery.app.trace":  # "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s"
            return "succeeded" in str(record.msg) and str(args.get("return_value")) in _IDLE_RESULTS
        return False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not self._routine(record):
            return True
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
