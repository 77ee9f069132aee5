"""Instants from outside: PostgreSQL's timestamptz holds UTC offsets up to ±15:59 (real zones span −12:00 to
+14:00), so an instant with a larger offset is bad input, refused at the edge rather than by the database."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext_lazy

MAX_UTC_OFFSET = dt.timedelta(hours=15, minutes=59)
OFFSET_ERROR = gettext_lazy("The UTC offset must be between -15:59 and +15:59.")


def utc_offset_in_range(value: dt.datetime) -> bool:
    offset = value.utcoffset()
    return offset is None or abs(offset) <= MAX_UTC_OFFSET
