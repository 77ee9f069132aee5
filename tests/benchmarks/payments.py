"""Benchmark group `payments`: a 10,000-document bank statement imported and matched, and provider webhooks.

Statement: 10,000 incoming payment orders in one windows-1251 file (built before the clock starts): 7,000 from
payers whose INN is a customer's, 1,000 paying invoices for payment by their number, 2,000 from unknown payers (the
review queue). The clock covers `bank_statement_import` (parse, dedupe, match, bulk payments, one batch posting per
chunk, events). Afterwards the counts must add up and every matched order must be credited exactly once.

Webhooks: 2,000 pending test-mode payments; their signed `payment.succeeded` notifications POSTed one by one through
the whole stack in-process (django.test.Client: the URL, signature check, the customer's lock, the payment's state
change, the ledger credit, the events). Every payment must end credited once.

Then 2,000 more for each of 2, 4 and 8 client processes delivering at once (a web server's workers receive webhooks
in parallel).

Figures: payments.statement_docs_per_s (target ≥ 2,000); payments.webhooks_per_s_1_client, _2_clients, _4_clients,
_8_clients, and payments.webhooks_per_s, the best of them (target ≥ 300).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal

DOCS = 10_000
KNOWN = 7_000
INVOICED = 1_000
CUSTOMERS = 2_000
WEBHOOKS = 2_000
ACCOUNT = "40702810700000012345"


def _inn(n: int) -> str:
    return f"77{n:08d}"


def _seed_customers(count: int, prefix: str, *, inns: bool) -> list[int]:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO billing_customer (kind, name, legal_name, country, inn, kpp, ogrn, legal_address,
                billing_emails, phone, currency, timezone, status, credit_limit, credit_limit_currency, tags,
                external_id, metadata, created_at, updated_at, billing_model, closing_documents, document_language,
                pays_by_bank_transfer, contract_number, edo_id)
            SELECT 'legal_entity', %s || g, '', 'RU', CASE WHEN %s THEN '77' || lpad(g::text, 8, '0') ELSE '' END,
                   '770101001', '', '', '{}', '', 'RUB', 'UTC', 'active', 0, 'RUB', '{}', %s || g, '{}', now(), now(),
                   'prepaid', 'act_vat_invoice', 'ru', true, '', ''
              FROM generate_series(1, %s) g
            RETURNING id
            """,
            [prefix, inns, prefix, count],
        )
        ids = sorted(row[0] for row in cur.fetchall())
        cur.execute(
            """
            INSERT INTO billing_account (kind, code, name, customer_id, balance, balance_currency, created_at)
            SELECT 'customer', 'customer:' || id, 'Balance of ' || name, id, 0, 'RUB', now()
              FROM billing_customer WHERE id = ANY(%s)
            """,
            [ids],
        )
        cur.execute("ANALYZE billing_customer")
        cur.execute("ANALYZE billing_account")
    return ids


def _statement() -> tuple[bytes, list[str]]:
    from billing.statement_format import statement_render
    from documents.services.payment_invoices import payment_invoice_issue
    from tests.factories.sellers import seller_create

    seller = seller_create(is_default=True)
    seller.bank_accounts.update(account=ACCOUNT)
    customers = _seed_customers(CUSTOMERS, "Statement bench ", inns=True)
    invoices = [
        payment_invoice_issue(customer_id=customers[i], amount=Decimal("1220.00"), key=f"bench-inv-{i}").number
        for i in range(INVOICED)
    ]
    docs = []
    day = "05.10.2026"
    for n in range(DOCS):
        if n < KNOWN:
            inn, purpose = _inn(1 + n % CUSTOMERS), f"Оплата по договору, абонентская плата {n}"
        elif n < KNOWN + INVOICED:
            i = n - KNOWN
            inn, purpose = _inn(1 + i), f"Оплата по счёту № {invoices[i]} от 01.10.2026. В т.ч. НДС 22% 220-00"
        else:
            inn, purpose = f"50{n:08d}", f"Оплата за услуги {n}"
        docs.append(
            {
                "Номер": str(n + 1),
                "Дата": day,
                "Сумма": "1220.00",
                "ПлательщикСчет": f"40702810{n:012d}",
                "Плательщик1": f"ООО Плательщик {n}",
                "ПлательщикИНН": inn,
                "ПолучательСчет": ACCOUNT,
                "ПолучательИНН": "7701234560",
                "ДатаПоступило": day,
                "ВидОплаты": "01",
                "НазначениеПлатежа": purpose,
            }
        )
    data = statement_render(
        accounts=[ACCOUNT], date_from=dt.date(2026, 10, 5), date_to=dt.date(2026, 10, 5), documents=docs
    )
    return data, invoices


def _check_statement(statement) -> None:
    from billing.models import BankTransfer, Payment, Transaction

    matched = BankTransfer.objects.filter(statement=statement, status="matched").count()
    credited = Transaction.objects.filter(kind="payment", idempotency_key__startswith="bank:").count()
    payments = Payment.objects.filter(kind="bank_transfer", status="succeeded").count()
    expected = (KNOWN + INVOICED, DOCS - KNOWN - INVOICED)
    if (statement.matched, statement.unmatched) != expected or not matched == credited == payments == expected[0]:
        raise AssertionError(
            f"statement check failed: {statement.matched}/{statement.unmatched} reported, {matched} matched rows, "
            f"{credited} credits, {payments} payments; expected {expected}"
        )


def _seed_webhooks(offset: int = 0) -> list[bytes]:
    from billing.models import Payment
    from billing.providers import testmode

    customers = _seed_customers(WEBHOOKS, f"Webhook bench {offset} ", inns=False)
    payments = Payment.objects.bulk_create(
        [
            Payment(
                customer_id=c,
                kind="topup",
                provider="test",
                status="pending",
                amount=Decimal("500.00"),
                amount_currency="RUB",
                description="bench top-up",
                provider_payment_id=f"tp_bench_{c}",
                provider_key=f"bench-{c}",
            )
            for c in customers
        ]
    )
    bodies = []
    for p in payments:
        obj = testmode.payment_object(
            provider_payment_id=p.provider_payment_id,
            state=testmode.PaymentState.SUCCEEDED,
            amount=Decimal("500.00"),
            currency="RUB",
        )
        bodies.append(json.dumps({"type": "notification", "event": "payment.succeeded", "object": obj}).encode())
    return bodies


def _webhook_process(bodies: list[bytes], start, results) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from billing.providers import testmode

    settings.PAYMENTS_TEST_MODE = True
    try:
        client = Client()
        start.wait()
        began = time.time()
        for body in bodies:
            _post(client, testmode, body)
        results.put((began, time.time()))
    except BaseException as exc:
        start.abort()
        results.put(exc)
        raise
    finally:
        connection.close()


def _webhooks_in_processes(bodies: list[bytes], clients: int) -> float:
    """Notifications/s with `clients` processes delivering at once, as a web server's workers would receive them."""
    import multiprocessing
    import queue

    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(clients), ctx.Queue()
    shares = [bodies[i::clients] for i in range(clients)]
    procs = [ctx.Process(target=_webhook_process, args=(share, start, results)) for share in shares]
    for p in procs:
        p.start()
    outcomes = []
    while len(outcomes) < clients:
        try:
            outcomes.append(results.get(timeout=5))
        except queue.Empty:
            if not any(p.is_alive() for p in procs) and results.empty():
                break
    for p in procs:
        p.join()
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    if failures or len(outcomes) < clients or any(p.exitcode for p in procs):
        raise RuntimeError(f"webhook client process failed: {failures or [p.exitcode for p in procs]}")
    return len(bodies) / (max(end for _, end in outcomes) - min(began for began, _ in outcomes))


def run():
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from billing.models import Payment, Transaction
    from billing.providers import testmode
    from billing.services.statements import bank_statement_import

    data, _ = _statement()
    started = time.perf_counter()
    statement = bank_statement_import(data=data, file_name="bench.txt", uploaded_by="bench")
    elapsed = time.perf_counter() - started
    _check_statement(statement)
    yield "payments.statement_docs_per_s", DOCS / elapsed, "docs/s"
    again = bank_statement_import(data=data, file_name="bench-again.txt", uploaded_by="bench")
    if (again.matched, again.unmatched, again.duplicates) != (0, 0, DOCS):
        raise AssertionError(f"re-import credited or queued again: {again.matched}/{again.unmatched}")

    settings.PAYMENTS_TEST_MODE = True
    bodies = _seed_webhooks()
    client = Client()
    for body in bodies[:20]:  # warm-up (these payments are credited too)
        _post(client, testmode, body)
    started = time.perf_counter()
    for body in bodies[20:]:
        _post(client, testmode, body)
    one = (len(bodies) - 20) / (time.perf_counter() - started)
    yield "payments.webhooks_per_s_1_client", one, "notifications/s"
    best = one
    for round_, clients in enumerate((2, 4, 8), start=1):
        more = _seed_webhooks(offset=round_ * WEBHOOKS)
        connection.close()  # the client processes start from a clean slate
        rate = _webhooks_in_processes(more, clients)
        best = max(best, rate)
        yield f"payments.webhooks_per_s_{clients}_clients", rate, "notifications/s"
    yield "payments.webhooks_per_s", best, "notifications/s"
    succeeded = Payment.objects.filter(provider="test", status="succeeded").count()
    credits = Transaction.objects.filter(kind="payment", payment__provider="test").count()
    if not succeeded == credits == 4 * WEBHOOKS:
        raise AssertionError(f"webhook check failed: {succeeded} succeeded, {credits} credits, {4 * WEBHOOKS} sent")


def _post(client, testmode, body: bytes) -> None:
    response = client.post(
        "/payments/webhooks/test/",
        data=body,
        content_type="application/json",
        headers={testmode.SIGNATURE_HEADER: testmode.webhook_sign(body)},
    )
    if response.status_code != 200:
        raise AssertionError(f"webhook answered {response.status_code}: {response.content[:200]!r}")
