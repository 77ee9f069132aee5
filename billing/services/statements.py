"""Bank statements (1CClientBankExchange): import, match, credit — all or nothing per file.

An incoming payment order is matched to an invoice for payment by the number in its purpose (an exact token, looked
up by the resolvers higher apps register: documents knows its invoices, billing does not import it), confirmed by
the payer's INN; failing that, to the one open customer with the payer's INN, or the customer earlier transfers
from the payer's account were assigned to. A match is credited at once (a succeeded bank-transfer payment, one
ledger credit each); anything else waits in the review queue (BankTransfer `unmatched`) for an accountant.

Re-importing the same or an overlapping statement credits nothing twice: each transfer has a dedupe key (bank
document number, date, amount, payer account), unique in the database. The whole file is one transaction with a
fixed number of statements per chunk of documents (bulk inserts, one batch posting), under an advisory lock so
two imports of overlapping files queue instead of failing on the key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing import events
from billing.errors import BankStatementInvalid, PaymentInvalid
from billing.models import BankStatement, BankTransfer, Customer, Payment, SellerBankAccount
from billing.models import Transaction as LedgerTransaction
from billing.services.accounts import AccountResolver
from billing.services.ledger import Leg
from billing.services.ledger_batch import Posting, ledger_batch_close, ledger_batch_post
from billing.services.outbox import event_emit_rows
from billing.services.past_due import customers_past_due_clear
from billing.services.payments import _offline_payment_post
from billing.statement_format import StatementFormatError, statement_parse
from config.db import array_literal, rows_json

PROVIDER = "bank"
CHUNK = 1000
_IMPORT_LOCK = 7_301_001  # pg_advisory_xact_lock key: one statement import at a time
# Invoice numbers are tokens with a dash or a slash between letters and digits (СЧ-2026-000412, INV-2026-000012)
_NUMBER_TOKEN = re.compile(r"[0-9A-Za-zА-Яа-яЁё]+(?:[-/][0-9A-Za-zА-Яа-яЁё]+)+")


@dataclass(frozen=True)
class InvoiceRef:
    """An invoice for payment a transfer may pay: whose, how much, and how much is paid already."""

    number: str
    customer_id: int
    amount: Decimal
    currency: str
    paid: Decimal = Decimal(0)


# resolvers: numbers (upper case) → the invoices among them; registered by higher apps (documents)
InvoiceResolver = Callable[[set[str]], dict[str, InvoiceRef]]
_RESOLVERS: list[InvoiceResolver] = []


def statement_invoice_resolver_register(resolver: InvoiceResolver) -> InvoiceResolver:
    if resolver not in _RESOLVERS:
        _RESOLVERS.append(resolver)
    return resolver


def invoice_numbers_in(purpose: str) -> list[str]:
    """The candidate invoice numbers of a payment purpose, as exact tokens, upper case, in order."""
    return list(
        dict.fromkeys(
            token.upper() for token in _NUMBER_TOKEN.findall(purpose or "") if any(c.isdigit() for c in token)
        )
    )


def _invoices(numbers: set[str]) -> dict[str, InvoiceRef]:
    found: dict[str, InvoiceRef] = {}
    for resolver in _RESOLVERS:
        found.update(resolver(numbers) if numbers else {})
    return found


def dedupe_key(*, number: str, date: dt.date | None, amount: Decimal, payer_account: str) -> str:
    return f"{number}|{date.isoformat() if date else ''}|{amount.quantize(Decimal('0.01'))}|{payer_account}"


@dataclass
class _Decision:
    customer_id: int | None
    invoice_number: str
    note: str


def _decide(
    doc,
    *,
    invoices: dict[str, InvoiceRef],
    by_inn: dict[str, list[int]],
    by_account: dict[str, int],
    currency_of: dict[int, str],
) -> _Decision:
    numbers = invoice_numbers_in(doc.purpose)
    for number in numbers:
        ref = invoices.get(number)
        if ref is None:
            continue
        payer_customers = by_inn.get(doc.payer_inn, [])
        if doc.payer_inn and payer_customers and ref.customer_id not in payer_customers:
            return _Decision(
                None,
                number,
                _("Invoice %(number)s belongs to another customer than the payer's INN.") % {"number": number},
            )
        if ref.currency != "RUB":
            return _Decision(
                None, number, _("Invoice %(number)s is in %(currency)s.") % {"number": number, "currency": ref.currency}
            )
        due = ref.amount - ref.paid
        if doc.amount == due:
            note = _("Pays invoice %(number)s in full.")
        elif doc.amount < due:
            note = _("Pays invoice %(number)s in part: %(amount)s of %(due)s.")
        else:
            note = _("Pays invoice %(number)s with %(over)s more than due; the rest stays on the balance.")
        return _Decision(
            ref.customer_id,
            number,
            note % {"number": number, "amount": doc.amount, "due": due, "over": doc.amount - due},
        )
    candidates = [c for c in by_inn.get(doc.payer_inn, []) if currency_of.get(c) == "RUB"] if doc.payer_inn else []
    if len(candidates) == 1:
        return _Decision(candidates[0], "", _("Matched by the payer's INN."))
    if len(candidates) > 1:
        known = by_account.get(doc.payer_account)
        if known in candidates:
            return _Decision(known, "", _("Matched by the payer's account."))
        return _Decision(None, "", _("Several customers have the payer's INN."))
    known = by_account.get(doc.payer_account) if doc.payer_account else None
    if known is not None and currency_of.get(known) == "RUB":
        return _Decision(known, "", _("Matched by the payer's account."))
    return _Decision(None, numbers[0] if numbers else "", _("No customer or invoice found for this payment."))


def bank_statement_import(*, data: bytes, file_name: str, uploaded_by: str = "") -> BankStatement:
    """Import a statement file: every incoming payment order becomes a BankTransfer, matched ones are credited.
    A malformed file raises BankStatementInvalid listing each error with its line; nothing is written."""
    try:
        parsed = statement_parse(data)
    except StatementFormatError as exc:
        errors = [{"line": line, "message": message} for line, message in exc.errors]
        raise BankStatementInvalid(
            _("The statement cannot be imported: %(errors)s")
            % {"errors": "; ".join(_("line %(line)s: %(message)s") % e for e in errors[:20])},
            field="file",
            extra={"errors": errors},
        ) from exc
    ours = set(SellerBankAccount.objects.values_list("account", flat=True))
    statement_accounts = set(parsed.accounts) | {b.account for b in parsed.balances}
    if ours and statement_accounts and not statement_accounts & ours:
        raise BankStatementInvalid(
            _("The statement is of account %(accounts)s, which is none of the sellers' settlement accounts.")
            % {"accounts": ", ".join(sorted(statement_accounts))},
            field="file",
            extra={"errors": [{"line": 1, "message": "unknown account"}]},
        )
    accounts = statement_accounts or ours
    incoming = [
        d
        for d in parsed.documents
        if d.direction == "incoming" or (d.direction == "unknown" and d.recipient_account in accounts)
    ]
    with transaction.atomic(durable=True):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_IMPORT_LOCK])
        statement = BankStatement.objects.create(
            file_name=file_name[:255],
            sha256=hashlib.sha256(data).hexdigest(),
            accounts=", ".join(sorted(statement_accounts))[:255],
            date_from=parsed.date_from,
            date_to=parsed.date_to,
            documents=len(parsed.documents),
            incoming=len(incoming),
            uploaded_by=uploaded_by[:255],
        )
        matched = unmatched = duplicates = 0
        for start in range(0, len(incoming), CHUNK):
            m, u, d = _import_chunk(statement, incoming[start : start + CHUNK], uploaded_by=uploaded_by)
            matched, unmatched, duplicates = matched + m, unmatched + u, duplicates + d
        statement.matched, statement.unmatched, statement.duplicates = matched, unmatched, duplicates
        statement.save(update_fields=["matched", "unmatched", "duplicates"])
    return statement


_INSERT_PAYMENTS = """
INSERT INTO billing_payment (customer_id, kind, provider, status, amount, amount_currency, refunded, description,
    provider_payment_id, provider_key, provider_data, confirmation_url, return_url, failure_reason, save_method,
    invoice_number, transaction_id, created_by, created_at, updated_at, succeeded_at)
SELECT x.customer_id, 'bank_transfer', %s, 'succeeded', x.amount, 'RUB', 0, x.description, x.key, '', '{}', '', '',
       '', false, x.invoice_number, x.tx, %s, now(), now(), now()
  FROM json_to_recordset(%s::json) AS x(customer_id bigint, amount numeric, description varchar, key varchar,
                                        invoice_number varchar, tx bigint)
RETURNING id, provider_payment_id
"""

_INSERT_TRANSFERS = """
INSERT INTO billing_banktransfer (statement_id, dedupe_key, line, number, date, received_on, amount, amount_currency,
    payer_name, payer_inn, payer_account, payer_bik, purpose, recipient_account, invoice_numbers, status, match_note,
    customer_id, payment_id, reviewed_by)
SELECT %s, x.key, x.line, x.number, x.date, x.received_on, x.amount, 'RUB', x.payer_name, x.payer_inn,
       x.payer_account, x.payer_bik, x.purpose, x.recipient_account, x.invoice_numbers, x.status, x.note,
       x.customer_id, x.payment_id, ''
  FROM json_to_recordset(%s::json) AS x(key varchar, line int, number varchar, date date, received_on date,
       amount numeric, payer_name varchar, payer_inn varchar, payer_account varchar, payer_bik varchar, purpose text,
       recipient_account varchar, invoice_numbers varchar, status varchar, note varchar, customer_id bigint,
       payment_id bigint)
RETURNING id, dedupe_key
"""

_INSERT_STATE_CHANGES = """
INSERT INTO billing_paymentstatechange (payment_id, from_status, to_status, source, detail, at)
SELECT id, '', 'succeeded', 'statement', '', now() FROM unnest(%s::bigint[]) AS p(id)
"""


def _import_chunk(statement: BankStatement, docs: list, *, uploaded_by: str) -> tuple[int, int, int]:
    """One chunk of a statement's incoming documents, in a fixed number of statements whatever its size."""
    keyed: dict[str, object] = {}
    duplicates = 0
    for doc in docs:
        key = dedupe_key(number=doc.number, date=doc.date, amount=doc.amount, payer_account=doc.payer_account)
        if key in keyed:
            duplicates += 1
        else:
            keyed[key] = doc
    seen = set(BankTransfer.objects.filter(dedupe_key__in=list(keyed)).values_list("dedupe_key", flat=True))
    duplicates += len(seen)
    fresh = [(key, doc) for key, doc in keyed.items() if key not in seen]
    if not fresh:
        return 0, 0, duplicates

    numbers = {n for _, doc in fresh for n in invoice_numbers_in(doc.purpose)}
    invoices = _invoices(numbers)
    inns = {doc.payer_inn for _, doc in fresh if doc.payer_inn}
    by_inn: dict[str, list[int]] = {}
    currency_of: dict[int, str] = {}
    for customer_id, inn, currency in (
        Customer.objects.filter(inn__in=inns)
        .exclude(status=Customer.Status.CLOSED)
        .values_list("pk", "inn", "currency")
    ):
        by_inn.setdefault(inn, []).append(customer_id)
        currency_of[customer_id] = currency
    payer_accounts = {doc.payer_account for _, doc in fresh if doc.payer_account}
    by_account = dict(
        BankTransfer.objects.filter(payer_account__in=payer_accounts, customer__isnull=False)
        .order_by("payer_account", "-id")
        .distinct("payer_account")
        .values_list("payer_account", "customer_id")
    )
    missing = ({ref.customer_id for ref in invoices.values()} | set(by_account.values())) - set(currency_of)
    for customer_id, currency in Customer.objects.filter(pk__in=missing).values_list("pk", "currency"):
        currency_of[customer_id] = currency

    decided = [
        (key, doc, _decide(doc, invoices=invoices, by_inn=by_inn, by_account=by_account, currency_of=currency_of))
        for key, doc in fresh
    ]
    matched = [(key, doc, d) for key, doc, d in decided if d.customer_id]
    payment_of = _credit_many(matched, created_by=uploaded_by or "bank_statement") if matched else {}
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_TRANSFERS,
            [
                statement.pk,
                rows_json(
                    [
                        {
                            "key": key,
                            "line": doc.line,
                            "number": doc.number[:32],
                            "date": doc.date.isoformat() if doc.date else None,
                            "received_on": doc.received_on.isoformat() if doc.received_on else None,
                            "amount": str(doc.amount),
                            "payer_name": doc.payer_name[:255],
                            "payer_inn": doc.payer_inn[:12],
                            "payer_account": doc.payer_account[:20],
                            "payer_bik": doc.payer_bik[:9],
                            "purpose": doc.purpose,
                            "recipient_account": doc.recipient_account[:20],
                            "invoice_numbers": ", ".join(invoice_numbers_in(doc.purpose))[:255],
                            "status": BankTransfer.Status.MATCHED if d.customer_id else BankTransfer.Status.UNMATCHED,
                            "note": d.note[:255],
                            "customer_id": d.customer_id,
                            "payment_id": payment_of.get(key),
                        }
                        for key, doc, d in decided
                    ]
                ),
            ],
        )
        transfer_ids = dict((key, pk) for pk, key in cursor.fetchall())
    event_emit_rows(
        [
            (
                events.BANK_TRANSFER_UNMATCHED,
                None,
                {
                    "bank_transfer_id": transfer_ids[key],
                    "amount": str(doc.amount),
                    "payer_inn": doc.payer_inn,
                    "purpose": doc.purpose[:255],
                },
            )
            for key, doc, d in decided
            if not d.customer_id
        ]
    )
    return len(matched), len(decided) - len(matched), duplicates


def _credit_many(matched: list[tuple], *, created_by: str) -> dict[str, int]:
    """Credit matched documents: one batch posting (keyed by bank document), their payments and events, in a fixed
    number of statements. Returns the payment id of each dedupe key."""
    customer_ids = sorted({d.customer_id for _, _, d in matched})
    with connection.cursor() as cursor:  # the customers' locks, in pk order, as every money writer takes them
        cursor.execute(
            "SELECT id FROM billing_customer WHERE id = ANY(%s::bigint[]) ORDER BY id FOR NO KEY UPDATE",
            [array_literal(customer_ids)],
        )
    resolver = AccountResolver()
    resolver.prefetch(customers=[(c, "RUB") for c in customer_ids], clearing=[(PROVIDER, "RUB")])
    clearing = resolver.clearing(PROVIDER, "RUB")
    today = timezone.localdate()
    postings = []
    descriptions = {}
    for key, doc, d in matched:
        memo = (_("Bank transfer № %(number)s of %(date)s") % {"number": doc.number, "date": doc.date})[:255]
        descriptions[key] = memo
        postings.append(
            Posting(
                kind=LedgerTransaction.Kind.PAYMENT,
                key=f"bank:{key}",
                legs=[
                    Leg(clearing, doc.amount, "RUB", memo),
                    Leg(resolver.customer(d.customer_id, "RUB"), -doc.amount, "RUB", memo),
                ],
                effective_date=doc.received_on or doc.date or today,
                customer_id=d.customer_id,
                source_type="payment",
                source_id=key[:100],
                description=memo,
                created_by=created_by,
            )
        )
    batch = ledger_batch_post(postings, with_entries_in_events=False)  # as the billing run's: the ids say it all
    posted = batch.posted
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_PAYMENTS,
            [
                PROVIDER,
                created_by[:255],
                rows_json(
                    [
                        {
                            "customer_id": d.customer_id,
                            "amount": str(doc.amount),
                            "description": descriptions[key],
                            "key": key,
                            "invoice_number": d.invoice_number[:64],
                            "tx": posted[f"bank:{key}"],
                        }
                        for key, doc, d in matched
                    ]
                ),
            ],
        )
        payment_of = {key: pk for pk, key in cursor.fetchall()}
        cursor.execute(_INSERT_STATE_CHANGES, [array_literal(payment_of.values())])
    rows = []
    for key, doc, d in matched:
        payment_id, tx_id, amount = payment_of[key], posted[f"bank:{key}"], str(doc.amount)
        rows.append(
            (
                events.BALANCE_CREDITED,
                d.customer_id,
                {
                    "customer_id": d.customer_id,
                    "amount": amount,
                    "currency": "RUB",
                    "transaction_id": tx_id,
                    "payment_id": payment_id,
                },
            )
        )
        rows.append(
            (
                events.PAYMENT_SUCCEEDED,
                d.customer_id,
                {
                    "payment_id": payment_id,
                    "customer_id": d.customer_id,
                    "kind": "bank_transfer",
                    "provider": PROVIDER,
                    "status": "succeeded",
                    "amount": amount,
                    "currency": "RUB",
                    "transaction_id": tx_id,
                    "invoice_number": d.invoice_number,
                    "failure_reason": "",
                },
            )
        )
    event_emit_rows(rows)
    customers_past_due_clear(customer_ids=customer_ids)
    ledger_batch_close(batch)
    return payment_of


def bank_transfer_assign(*, transfer_id: int, customer_id: int, invoice_number: str = "", by: str = "") -> BankTransfer:
    """An accountant assigns a transfer from the review queue to a customer: credited at once, once."""
    from billing.locks import lock_customer

    with transaction.atomic(durable=True):
        customer = lock_customer(customer_id)
        transfer = BankTransfer.objects.select_for_update(of=("self",), no_key=True).filter(pk=transfer_id).first()
        if transfer is None:
            raise PaymentInvalid(_("Bank transfer %(id)s not found.") % {"id": transfer_id})
        if transfer.status not in (BankTransfer.Status.UNMATCHED, BankTransfer.Status.IGNORED):
            raise PaymentInvalid(_("This transfer is already credited."))
        if customer.status == Customer.Status.CLOSED:
            raise PaymentInvalid(_("Customer %(id)s is closed.") % {"id": customer.pk}, field="customer")
        if customer.currency != transfer.amount.currency.code:
            raise PaymentInvalid(
                _("Customer %(id)s pays in %(currency)s.") % {"id": customer.pk, "currency": customer.currency},
                field="customer",
            )
        payment = _offline_payment_post(
            customer=customer,
            kind=Payment.Kind.BANK_TRANSFER,
            provider=PROVIDER,
            amount=transfer.amount,
            description=_("Bank transfer № %(number)s of %(date)s")
            % {"number": transfer.number, "date": transfer.date},
            invoice_number=invoice_number or "",
            created_by=by,
            source="admin",
            provider_payment_id=transfer.dedupe_key,
        )
        transfer.status = BankTransfer.Status.ASSIGNED
        transfer.customer = customer
        transfer.payment = payment
        transfer.reviewed_by = by[:255]
        transfer.match_note = (_("Assigned by %(by)s.") % {"by": by or "—"})[:255]
        transfer.save(update_fields=["status", "customer", "payment", "reviewed_by", "match_note"])
    return transfer


def bank_transfer_ignore(*, transfer_id: int, reason: str, by: str = "") -> BankTransfer:
    """Not a customer's payment (a refund from a supplier, an internal transfer): out of the queue, with a reason."""
    if not reason or not reason.strip():
        raise PaymentInvalid(_("A reason is required."), field="reason")
    with transaction.atomic(durable=True):
        transfer = BankTransfer.objects.select_for_update(of=("self",), no_key=True).filter(pk=transfer_id).first()
        if transfer is None or transfer.status != BankTransfer.Status.UNMATCHED:
            raise PaymentInvalid(_("Only a transfer waiting for review can be ignored."))
        transfer.status = BankTransfer.Status.IGNORED
        transfer.reviewed_by = by[:255]
        transfer.match_note = reason.strip()[:255]
        transfer.save(update_fields=["status", "reviewed_by", "match_note"])
    return transfer
