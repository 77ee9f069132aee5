"""`Idempotency-Key` on every POST: the database decides, per API key, which request runs.

Flow of one POST (the view's service owns its own durable transaction, so nothing here wraps it):

1. The header is required (400 `idempotency_key_required`).
2. hash = sha256(method, path, canonical JSON body, or the raw body bytes: see request_hash). In its
   own short committed transaction an `in_progress` IdempotencyRecord is inserted with ON CONFLICT DO
   NOTHING: the unique (api_key, key) constraint decides between concurrent requests, there is no
   check-then-act.
3. If a record already exists: another body → 422 `idempotency_key_reused`; completed → its stored
   status and body are replayed with `Idempotent-Replayed: true`; in progress and younger than
   STALE_AFTER → 409 `idempotent_request_in_progress`; older → this request takes it over (a
   conditional UPDATE, so only one request can).
4. The view runs. A 2xx response is stored and the record completed; any 4xx/5xx (or exception)
   deletes the record, so bad input leaves nothing behind and the key can be retried with corrected
   input.

A crash between the service's commit and step 4 leaves an `in_progress` record that is taken over
after STALE_AFTER. Views that post to the ledger pass `ledger_key(request)` as the ledger
transaction's key, so the retry returns the transaction already posted instead of posting twice.

The record model is billing's, named by the IDEMPOTENCY_RECORD_MODEL setting and resolved per request, so this
module imports no domain app. It has the fields of billing.IdempotencyRecord and its unique (api_key, key).
"""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from config.errors import ApplicationError, Conflict

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 200  # leaves room for the "api:<key id>:" prefix of ledger keys (255 characters)
STALE_AFTER = timedelta(seconds=60)

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    name=HEADER,
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=True,
    description=(
        "A unique key per intended operation (e.g. a UUID), at most 200 characters. Repeating a request with "
        "the same key and body replays the first response (header `Idempotent-Replayed: true`); the same key "
        "with another body is refused with 422. A request that failed (4xx/5xx) may be retried with the same key."
    ),
)


class IdempotencyKeyRequired(ApplicationError):
    code = "idempotency_key_required"
    status = 400
    title = "Idempotency-Key header required"


class IdempotencyKeyInvalid(ApplicationError):
    code = "idempotency_key_invalid"
    status = 400
    title = "Invalid Idempotency-Key header"


class IdempotencyKeyReused(ApplicationError):
    code = "idempotency_key_reused"
    title = "Idempotency key reused with different content"


class IdempotentRequestInProgress(Conflict):
    code = "idempotent_request_in_progress"
    title = "A request with this Idempotency-Key is still being processed"


class RequestBodyTooLarge(ApplicationError):
    code = "request_too_large"
    status = 413
    title = "Request body too large"


def request_hash(request, *, raw_body: bool = False) -> str:
    """sha256 over the method, the path and the body: re-serialised canonically (sorted keys, no spaces), so
    the same JSON written differently is the same request; or, with `raw_body`, its bytes as sent.

    `raw_body` is for the usage batch endpoint, whose bodies of up to 1,000 events are hashed as sent rather
    than re-serialised. A client repeating a request resends the same bytes, so a replay still matches;
    the same events written differently (other whitespace or key order) count as another body there (422
    `idempotency_key_reused`), which is acceptable. Either way the body is parsed here, so malformed JSON or a
    wrong content type fails before the key is claimed."""
    if raw_body:
        try:
            body = request.body  # read (and kept) before the parser consumes the stream
        except RequestDataTooBig as exc:
            raise RequestBodyTooLarge(
                _("The request body is larger than %(max_bytes)s bytes.")
                % {"max_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
            ) from exc
        request.data  # noqa: B018 - parse now: a malformed body is refused before anything is written
    else:
        body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()
    digest = hashlib.sha256()
    for part in (request.method.upper().encode(), request.path.encode(), body):
        digest.update(part)
        digest.update(b"\x00")
    return digest.hexdigest()


def ledger_key(request) -> str:
    """The ledger idempotency key of the transaction a POST posts: unique per API key and Idempotency-Key."""
    return f"api:{request.user.api_key.pk}:{request.idempotency_key}"


def _record_model():
    return apps.get_model(settings.IDEMPOTENCY_RECORD_MODEL)


# {table} is the record model's table
_CLAIM_SQL = """
    INSERT INTO {table} (api_key_id, key, request_hash, state, created_at)
    VALUES (%s, %s, %s, 'in_progress', now())
    ON CONFLICT (api_key_id, key) DO NOTHING
    RETURNING id
"""

_TAKE_OVER_SQL = """
    UPDATE {table}
       SET created_at = now()
     WHERE id = %s AND state = 'in_progress' AND request_hash = %s AND created_at < now() - %s
    RETURNING id
"""


def _claim(*, api_key_id: int, key: str, hash_: str):
    """(record id, None) when this request may run; (None, completed record) when it is a replay."""
    record_model = _record_model()
    table = connection.ops.quote_name(record_model._meta.db_table)
    for _attempt in range(3):
        with transaction.atomic(durable=True), connection.cursor() as cursor:
            cursor.execute(_CLAIM_SQL.format(table=table), [api_key_id, key, hash_])
            row = cursor.fetchone()
        if row is not None:
            return row[0], None
        existing = record_model.objects.filter(api_key_id=api_key_id, key=key).first()
        if existing is None:
            continue  # the request holding the key failed and released it in between: claim again
        if existing.request_hash != hash_:
            raise IdempotencyKeyReused(
                _("Idempotency-Key %(key)r was already used with a different request.") % {"key": key}, field=HEADER
            )
        if existing.state == record_model.State.COMPLETED:
            return None, existing
        with transaction.atomic(durable=True), connection.cursor() as cursor:
            cursor.execute(_TAKE_OVER_SQL.format(table=table), [existing.pk, hash_, STALE_AFTER])
            row = cursor.fetchone()
        if row is not None:
            return row[0], None
        raise IdempotentRequestInProgress(
            _("A request with Idempotency-Key %(key)r is still being processed; retry later.") % {"key": key}
        )
    raise IdempotentRequestInProgress(
        _("A request with Idempotency-Key %(key)r is being processed; retry later.") % {"key": key}
    )


def _complete(record_id: int, response: Response) -> None:
    body = json.loads(JSONRenderer().render(response.data)) if response.data is not None else None
    record_model = _record_model()
    record_model.objects.filter(pk=record_id).update(
        state=record_model.State.COMPLETED,
        response_status=response.status_code,
        response_body=body,
        completed_at=timezone.now(),
    )


def _release(record_id: int) -> None:
    record_model = _record_model()
    record_model.objects.filter(pk=record_id, state=record_model.State.IN_PROGRESS).delete()


def idempotent(handler=None, *, raw_body: bool = False):
    """Decorate a view's `post` method: authentication and scope have run, the body is parsed on demand.
    `@idempotent(raw_body=True)` hashes the body's bytes as sent (see request_hash)."""
    if handler is None:
        return functools.partial(idempotent, raw_body=raw_body)

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(HEADER, "").strip()
        if not key:
            raise IdempotencyKeyRequired(
                _("Send an %(header)s header with every POST (e.g. a UUID).") % {"header": HEADER}, field=HEADER
            )
        if len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise IdempotencyKeyInvalid(
                _("%(header)s must be at most %(max_length)s printable characters.")
                % {"header": HEADER, "max_length": MAX_KEY_LENGTH},
                field=HEADER,
            )
        # malformed JSON or a wrong content type fail here, before any write
        hash_ = request_hash(request, raw_body=raw_body)
        record_id, replay = _claim(api_key_id=request.user.api_key.pk, key=key, hash_=hash_)
        if replay is not None:
            return Response(replay.response_body, status=replay.response_status, headers={REPLAYED_HEADER: "true"})
        request.idempotency_key = key
        try:
            response = handler(view, request, *args, **kwargs)
        except BaseException:
            _release(record_id)
            raise
        if 200 <= response.status_code < 300:
            _complete(record_id, response)
        else:
            _release(record_id)
        return response

    wrapper.idempotent = True
    return extend_schema(parameters=[IDEMPOTENCY_KEY_PARAMETER])(wrapper)
