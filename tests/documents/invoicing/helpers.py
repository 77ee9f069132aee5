"""Helpers shared by the invoicing tests: the period boundaries, a customer's charge and subscription."""

from __future__ import annotations

import datetime as dt

FEB15, MAR15 = dt.date(2026, 2, 15), dt.date(2026, 3, 15)
