"""config.db's encoders for batch statements: what PostgreSQL receives must not depend on which encoder wrote it."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest
from django.db import connection

from config.db import array_literal, rows_json
from plans.models import Charge


def test_rows_json_writes_what_json_dumps_with_str_for_the_rest_writes():
    # given rows with every kind of value the batch statements and event payloads carry
    rows = [
        {
            "amount": Decimal("1990.00"),
            "small": Decimal("0.10"),
            "day": dt.date(2026, 12, 1),
            "at": dt.datetime(2026, 12, 1, 0, 30, tzinfo=dt.UTC),
            "naive": dt.datetime(2026, 12, 1, 0, 30),
            "none": None,
            "yes": True,
            "count": 3,
            "big": 2**62,
            "text": 'Подписка «Про» "кавычки" \\ \n\t',
            "kind": Charge.Kind.RECURRING,
            "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
            "nested": {"lines": [{"amount": Decimal("-5.5"), "ref": "pro"}], 7: "int key"},
        },
        {},
    ]

    # when encoded for a batch statement
    encoded = rows_json(rows)

    # then the document is, byte for byte, what json.dumps with str for unknown types writes
    assert encoded == json.dumps(rows, default=str, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.django_db
def test_array_literals_of_ids_and_of_texts_reach_postgresql_as_written():
    # given arrays of ids (a list, a generator), of amounts and of texts that need quoting
    ids = [3, 1, 2**40]
    texts = ['a "b"', "c\\d", "", None]
    amounts = [Decimal("1.10"), Decimal("-0.01")]

    # when each is sent as one literal and read back
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT %s::bigint[], %s::bigint[], %s::text[], %s::numeric[]",
            [array_literal(ids), array_literal(x for x in ids), array_literal(texts), array_literal(amounts)],
        )
        row = cursor.fetchone()

    # then PostgreSQL holds exactly the values given
    assert row == (ids, ids, texts, amounts)
