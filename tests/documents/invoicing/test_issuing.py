"""Issuing invoices to postpaid customers for the periods that ended: lines, credits, reruns, switches."""

from __future__ import annotations

import datetime as dt

import pytest
from moneyed import Money

from billing.models import Event
from billing.services.customers import customer_update
from documents.models import DocumentCounter, Invoice, InvoiceLine
from documents.selectors import invoices_pending_postpaid
from documents.services.invoicing import invoice_issue_postpaid
from plans.models import Charge, Subscription
from plans.pricing.charges import ChargeLine, LineKind
from plans.pricing.periods import Period
from plans.services.posting import charge_post
from plans.services.snapshots import load_snapshots
from plans.services.subscriptions import subscription_cancel, subscription_create
from tests.documents.invoicing.helpers import FEB15, MAR15
from tests.documents.support import JAN15, D, invoice_lines, invoice_rows, midnight, msk, postpaid_customer
from tests.factories.catalog import funded_customer
from tests.plans.support import run_billing

pytestmark = pytest.mark.django_db


@pytest.fixture
def bob(alice):
    """A postpaid individual on Pro since Jan 15 (created after Alice: a higher id)."""
    customer = postpaid_customer("Bob Smith", billing_emails=["bob@example.com"])
    subscription_create(customer_id=customer.pk, plan_code="pro", at=JAN15)
    return customer


def _charge(customer, plan_code: str, kind: str, period_start: dt.date) -> Charge:
    return Charge.objects.get(
        subscription__customer=customer, subscription__plan__code=plan_code, kind=kind, period_start=period_start
    )


def _sub(customer, plan_code: str) -> Subscription:
    return Subscription.objects.get(customer=customer, plan__code=plan_code)


# --- issuing ------------------------------------------------------------------------------------------


def test_postpaid_customers_get_one_invoice_each_for_the_periods_that_ended(policy, alice, bob):
    # given a prepaid customer on Pro too, and the billing run at Feb 15 00:00 Moscow time, which charges
    # Metered's [Jan 15, Feb 15) in arrears and Pro's [Feb 15, Mar 15) in advance
    carol = funded_customer("100000.00", name="Carol")
    subscription_create(customer_id=carol.pk, plan_code="pro", at=JAN15)
    run_billing(midnight(2026, 2, 15))

    # when invoicing as of Feb 15
    result = invoice_issue_postpaid(as_of=FEB15)

    # then Alice gets INV-2026-000001 for [Jan 15, Feb 15): Pro 1000.00 (charged in advance on Jan 15) + Metered
    # 500.00 (charged in arrears on Feb 15) = 1500.00, due Feb 15 + 14 days = Mar 1
    first, second = Invoice.objects.order_by("number")
    assert result.invoice_ids == [first.pk, second.pk]
    assert (
        first.number,
        first.customer_id,
        first.currency,
        first.issue_date,
        first.due_date,
        first.period_start,
        first.period_end,
        first.total,
        first.status,
    ) == (
        "INV-2026-000001",
        alice.pk,
        "RUB",
        FEB15,
        dt.date(2026, 3, 1),
        dt.date(2026, 1, 15),
        FEB15,
        Money(D("1500.00"), "RUB"),
        Invoice.Status.ISSUED,
    )
    pro_id, metered_id = _sub(alice, "pro").pk, _sub(alice, "metered").pk
    assert invoice_lines(first) == [
        ("recurring", f"Recurring fee: Pro, subscription #{pro_id}", dt.date(2026, 1, 15), FEB15, D("1000.00")),
        ("recurring", f"Recurring fee: Metered, subscription #{metered_id}", dt.date(2026, 1, 15), FEB15, D("500.00")),
    ]
    pro_charge = _charge(alice, "pro", "recurring", dt.date(2026, 1, 15))
    assert (
        first.lines.get(charge=pro_charge).details
        == pro_charge.lines
        == [
            {
                "kind": "plan",
                "description": "Pro × 1 (2026-01-15–2026-02-15)",
                "amount": "1000.00",
                "currency": "RUB",
                "quantity": "1",
                "ref": "pro",
            }
        ]
    )
    # ... with the buyer's requisites as they are at issue time
    assert (first.buyer_name, first.buyer_inn, first.buyer_kpp, first.buyer_address, first.buyer_emails) == (
        "ООО «Ромашка»",
        "7701234560",
        "770101001",
        "Москва, ул. Ленина, 1",
        ["buh@romashka.example"],
    )
    # and Bob, the next customer by id, INV-2026-000002 for Pro's [Jan 15, Feb 15): 1000.00
    assert (
        second.number,
        second.customer_id,
        second.total,
        second.period_start,
        second.period_end,
        second.buyer_name,
        second.buyer_inn,
        second.buyer_kpp,
        second.buyer_emails,
    ) == (
        "INV-2026-000002",
        bob.pk,
        Money(D("1000.00"), "RUB"),
        dt.date(2026, 1, 15),
        FEB15,
        "Bob Smith",
        "",
        "",
        ["bob@example.com"],
    )
    # the prepaid customer gets none, and the in-advance periods that run until Mar 15 are not invoiced yet
    assert not Invoice.objects.filter(customer=carol).exists()
    assert not InvoiceLine.objects.filter(charge__period_start=FEB15).exists()
    assert (result.customers, result.left_for_later, result.chunks, result.due_date) == (2, 0, 1, dt.date(2026, 3, 1))
    assert DocumentCounter.objects.get().last_number == 2
    # one invoice.issued event per invoice, written with it
    assert [(e.customer_id, e.payload) for e in Event.objects.filter(type="invoice.issued").order_by("pk")] == [
        (
            alice.pk,
            {
                "invoice_id": first.pk,
                "number": "INV-2026-000001",
                "customer_id": alice.pk,
                "currency": "RUB",
                "total": "1500.00",
                "issue_date": "2026-02-15",
                "due_date": "2026-03-01",
                "period_start": "2026-01-15",
                "period_end": "2026-02-15",
                "charge_ids": [pro_charge.pk, _charge(alice, "metered", "recurring", dt.date(2026, 1, 15)).pk],
            },
        ),
        (
            bob.pk,
            {
                "invoice_id": second.pk,
                "number": "INV-2026-000002",
                "customer_id": bob.pk,
                "currency": "RUB",
                "total": "1000.00",
                "issue_date": "2026-02-15",
                "due_date": "2026-03-01",
                "period_start": "2026-01-15",
                "period_end": "2026-02-15",
                "charge_ids": [_charge(bob, "pro", "recurring", dt.date(2026, 1, 15)).pk],
            },
        ),
    ]


def test_a_rerun_for_the_same_day_issues_nothing_new(policy, alice, bob):
    # given the invoices of Feb 15
    run_billing(midnight(2026, 2, 15))
    invoice_issue_postpaid(as_of=FEB15)
    before = invoice_rows()

    # when invoicing again as of Feb 15 (a retried task, a second worker)
    result = invoice_issue_postpaid(as_of=FEB15)

    # then nothing is written, not even a number
    assert result.invoice_ids == []
    assert invoice_rows() == before == {"invoices": 2, "lines": 3, "events": 2, "counters": [("invoice", 2026, 2)]}


def test_the_next_period_gets_the_next_numbers_and_the_buyer_snapshot_stays(policy, alice, bob):
    # given the invoices of Feb 15, then Alice renames herself
    run_billing(midnight(2026, 2, 15))
    invoice_issue_postpaid(as_of=FEB15)
    customer_update(customer_id=alice.pk, legal_name="ООО «Ромашка-2»")

    # when the run renews at Mar 15 and invoicing comes as of Mar 15
    run_billing(midnight(2026, 3, 15))
    result = invoice_issue_postpaid(as_of=MAR15)

    # then [Feb 15, Mar 15) is invoiced as 000003 (Alice: 1000.00 + 500.00) and 000004 (Bob: 1000.00)
    march = list(Invoice.objects.filter(pk__in=result.invoice_ids).order_by("number"))
    assert [
        (i.number, i.customer_id, i.total.amount, i.period_start, i.period_end, i.due_date, i.buyer_name) for i in march
    ] == [
        ("INV-2026-000003", alice.pk, D("1500.00"), FEB15, MAR15, dt.date(2026, 3, 29), "ООО «Ромашка-2»"),
        ("INV-2026-000004", bob.pk, D("1000.00"), FEB15, MAR15, dt.date(2026, 3, 29), "Bob Smith"),
    ]
    # the February invoice keeps the name it was issued with
    assert Invoice.objects.get(number="INV-2026-000001").buyer_name == "ООО «Ромашка»"
    assert list(Invoice.objects.order_by("number").values_list("number", flat=True)) == [
        "INV-2026-000001",
        "INV-2026-000002",
        "INV-2026-000003",
        "INV-2026-000004",
    ]


def test_charges_of_a_period_not_yet_ended_wait_for_its_end(policy, alice):
    # given only the charges made at subscription (Pro's [Jan 15, Feb 15) in advance)
    # when invoicing as of Feb 14, the period's last day
    result = invoice_issue_postpaid(as_of=dt.date(2026, 2, 14))

    # then nothing is issued
    assert (result.invoice_ids, result.customers) == ([], 0)
    assert invoice_rows() == {"invoices": 0, "lines": 0, "events": 0, "counters": []}

    # when invoicing as of Feb 15, when the period has ended (the run has not come yet: Metered is not charged)
    result = invoice_issue_postpaid(as_of=FEB15)

    # then Pro's period is invoiced alone
    invoice = Invoice.objects.get()
    assert invoice_lines(invoice) == [
        (
            "recurring",
            f"Recurring fee: Pro, subscription #{_sub(alice, 'pro').pk}",
            dt.date(2026, 1, 15),
            FEB15,
            D("1000.00"),
        )
    ]
    # and the Metered charge the run posts later that day goes on the next invoice
    run_billing(midnight(2026, 2, 15))
    invoice_issue_postpaid(as_of=FEB15)
    later = Invoice.objects.exclude(pk=invoice.pk).get()
    assert (later.number, later.total.amount, [x[4] for x in invoice_lines(later)]) == (
        "INV-2026-000002",
        D("500.00"),
        [D("500.00")],
    )


def test_credits_are_lines_of_the_invoice_of_their_period(policy, alice):
    # given the Feb 15 invoice, and Alice cancels Pro on Feb 20: the unused 23 of [Feb 15, Mar 15)'s 28 days
    # are credited: −1000.00 × 23 / 28 = −821.428… → −821.43
    run_billing(midnight(2026, 2, 15))
    invoice_issue_postpaid(as_of=FEB15)
    subscription_cancel(subscription_id=_sub(alice, "pro").pk, at=msk(2026, 2, 20))

    # when the run charges Metered's [Feb 15, Mar 15) and invoicing comes as of Mar 15
    run_billing(midnight(2026, 3, 15))
    result = invoice_issue_postpaid(as_of=MAR15)

    # then the credit is a negative line: 1000.00 − 821.43 + 500.00 = 678.57
    invoice = Invoice.objects.get(pk__in=result.invoice_ids)
    pro_id, metered_id = _sub(alice, "pro").pk, _sub(alice, "metered").pk
    assert invoice_lines(invoice) == [
        ("recurring", f"Recurring fee: Pro, subscription #{pro_id}", FEB15, MAR15, D("1000.00")),
        ("cancel_credit", f"Unused period credit: Pro, subscription #{pro_id}", FEB15, MAR15, D("-821.43")),
        ("recurring", f"Recurring fee: Metered, subscription #{metered_id}", FEB15, MAR15, D("500.00")),
    ]
    assert (invoice.number, invoice.total) == ("INV-2026-000002", Money(D("678.57"), "RUB"))


def test_a_period_whose_credits_cancel_its_charges_issues_nothing(policy, plans):
    # given a postpaid customer who cancels Pro on the day it starts: the whole period is credited back
    # (1000.00 − 1000.00 = 0.00)
    dave = postpaid_customer("Dave")
    sub = subscription_create(customer_id=dave.pk, plan_code="pro", at=JAN15)
    subscription_cancel(subscription_id=sub.pk, at=msk(2026, 1, 15, 18))

    # when invoicing after the period's end
    result = invoice_issue_postpaid(as_of=FEB15)

    # then nothing is asked for, and the two charges stay off any invoice
    assert (result.invoice_ids, result.customers, result.left_for_later) == ([], 1, 1)
    assert invoice_rows() == {"invoices": 0, "lines": 0, "events": 0, "counters": [("invoice", 2026, 0)]}
    assert sorted(
        c.amount.amount for c in Charge.objects.filter(subscription=sub, invoice_line=None).exclude(amount=0)
    ) == [D("-1000.00"), D("1000.00")]


def test_a_credit_only_period_issues_nothing_and_the_credit_goes_on_the_next_invoice(policy, alice):
    # given the Feb 15 invoice, then a credit of 300.00 posted for Pro's ended [Jan 15, Feb 15) (a service-level
    # credit through the plans charge service, with its ledger posting)
    run_billing(midnight(2026, 2, 15))
    invoice_issue_postpaid(as_of=FEB15)
    pro = _sub(alice, "pro")
    snap = load_snapshots([pro.pk], as_of=msk(2026, 2, 20))[pro.pk]
    ended = Period(dt.date(2026, 1, 15), FEB15)
    credit = charge_post(
        snap=snap,
        kind=Charge.Kind.CANCEL_CREDIT,
        period=ended,
        key=f"sub:{pro.pk}:sla:jan",
        lines=[ChargeLine(LineKind.PRORATION_CREDIT, "SLA credit", D("-300.00"), "RUB", ref="pro", period=ended)],
        effective_date=dt.date(2026, 2, 20),
        at=msk(2026, 2, 20),
    )
    assert credit.transaction_id is not None
    before = invoice_rows()

    # when invoicing as of Feb 20: the credit alone is due
    result = invoice_issue_postpaid(as_of=dt.date(2026, 2, 20))

    # then no invoice (nothing to pay), no number used
    assert (result.invoice_ids, result.left_for_later) == ([], 1)
    assert invoice_rows() == before

    # when the next period ends: 1000.00 (Pro) + 500.00 (Metered) − 300.00 (the credit) = 1200.00
    run_billing(midnight(2026, 3, 15))
    result = invoice_issue_postpaid(as_of=MAR15)

    # then the credit is a line of that invoice
    invoice = Invoice.objects.get(pk__in=result.invoice_ids)
    assert (invoice.number, invoice.total.amount, invoice.period_start, invoice.period_end) == (
        "INV-2026-000002",
        D("1200.00"),
        dt.date(2026, 1, 15),
        MAR15,
    )
    assert [x[4] for x in invoice_lines(invoice)] == [D("-300.00"), D("1000.00"), D("500.00")]
    assert InvoiceLine.objects.get(charge=credit).details[0]["description"] == "SLA credit"


def test_a_postpaid_customer_invoiced_only_by_the_subscription_services(policy, plans):
    # given a postpaid customer whose Pro started on Jan 15 and was canceled on Jan 25, so no run ever billed it:
    # 1000.00 charged, the unused 21 of 31 days credited: −1000.00 × 21 / 31 = −677.419… → −677.42
    erin = postpaid_customer("Erin")
    sub = subscription_create(customer_id=erin.pk, plan_code="pro", at=JAN15)
    subscription_cancel(subscription_id=sub.pk, at=msk(2026, 1, 25))

    # when invoicing as of Feb 15
    invoice_issue_postpaid(as_of=FEB15)

    # then 1000.00 − 677.42 = 322.58
    invoice = Invoice.objects.get()
    assert (invoice.total.amount, [x[4] for x in invoice_lines(invoice)]) == (D("322.58"), [D("1000.00"), D("-677.42")])


def test_only_charges_from_the_switch_to_postpaid_on_are_invoiced(policy, plans, time_machine):
    # given Gina, prepaid since Jan 15 with 1000.00 on her balance, which pays Pro's [Jan 15, Feb 15) in advance
    time_machine.move_to(JAN15, tick=False)
    gina = funded_customer("1000.00", name="Gina")
    subscription_create(customer_id=gina.pk, plan_code="pro", at=JAN15)
    # and Hank, prepaid since Jan 15 with 2000.00, which also pays [Feb 15, Mar 15) when the run renews it
    hank = funded_customer("2000.00", name="Hank")
    subscription_create(customer_id=hank.pk, plan_code="pro", at=JAN15)
    # when Gina switches to postpaid on Feb 10 (13:00 UTC), before Pro's next period starts
    time_machine.move_to(dt.datetime(2026, 2, 10, 13, tzinfo=dt.UTC), tick=False)
    gina = customer_update(customer_id=gina.pk, billing_model="postpaid")
    # and the run at Feb 15 00:00 Moscow time renews both: Pro's [Feb 15, Mar 15), 1000.00 each in advance
    time_machine.move_to(midnight(2026, 2, 15), tick=False)
    run_billing(midnight(2026, 2, 15))
    # and Hank switches on Feb 20, in the middle of the period his balance paid
    time_machine.move_to(msk(2026, 2, 20), tick=False)
    hank = customer_update(customer_id=hank.pk, billing_model="postpaid")
    assert (gina.postpaid_since, hank.postpaid_since) == (dt.date(2026, 2, 10), dt.date(2026, 2, 20))

    # when invoicing as of Feb 15: [Jan 15, Feb 15) has ended, but both paid it from their balance
    time_machine.move_to(dt.datetime(2026, 2, 15, 12, 30, tzinfo=dt.UTC), tick=False)
    assert invoices_pending_postpaid(as_of=FEB15) == []
    first = invoice_issue_postpaid(as_of=FEB15)

    # then nothing is issued
    assert (first.invoice_ids, first.customers) == ([], 0)
    assert invoice_rows() == {"invoices": 0, "lines": 0, "events": 0, "counters": []}

    # when the run renews at Mar 15 (Pro's [Mar 15, Apr 15): 1000.00 each) and invoicing comes as of Mar 15
    time_machine.move_to(midnight(2026, 3, 15), tick=False)
    run_billing(midnight(2026, 3, 15))
    time_machine.move_to(dt.datetime(2026, 3, 15, 12, 30, tzinfo=dt.UTC), tick=False)
    pending = invoices_pending_postpaid(as_of=MAR15)
    second = invoice_issue_postpaid(as_of=MAR15)

    # then Gina gets one invoice for [Feb 15, Mar 15) alone: 1000.00, the first period of her postpaid era; Hank's
    # [Feb 15, Mar 15) started before his switch and was paid from his balance: he gets none yet
    invoice = Invoice.objects.get()
    assert second.invoice_ids == [invoice.pk]
    assert (invoice.number, invoice.customer_id, invoice.total, invoice.period_start, invoice.period_end) == (
        "INV-2026-000001",
        gina.pk,
        Money(D("1000.00"), "RUB"),
        FEB15,
        MAR15,
    )
    assert invoice_lines(invoice) == [
        ("recurring", f"Recurring fee: Pro, subscription #{_sub(gina, 'pro').pk}", FEB15, MAR15, D("1000.00"))
    ]
    assert [(p.customer_id, p.charges, p.total) for p in pending] == [(gina.pk, 1, D("1000.00"))]
    # the prepaid era's charges stay on no invoice
    assert not InvoiceLine.objects.filter(charge=_charge(gina, "pro", "recurring", dt.date(2026, 1, 15))).exists()
    assert not InvoiceLine.objects.filter(charge__subscription__customer=hank).exists()
