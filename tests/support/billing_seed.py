"""Set-based seeding of many due subscriptions for the billing run (benchmark and crash tests).

`seed(cohort, n)` adds n prepaid customers (RUB, three time zones) with customer accounts, opening
balances posted as real balanced ledger transactions (95% get 100,000.00 RUB, every 20th customer by
id gets nothing), and one subscription each, all due at AS_OF: 10% on an in-arrears usage plan with
10 usage events, the rest spread over 20 plans (monthly in advance, monthly in arrears, quarterly in
advance), every 7th with a recurring option and every 11th with a 10% forever promotion. The catalog has a
VAT-paying default seller (standard rate), so every charge is split into revenue and VAT payable.
"""

from __future__ import annotations

import datetime as dt

AS_OF = dt.datetime(2026, 12, 1, 0, 30, tzinfo=dt.UTC)


def _seed_catalog():
    from moneyed import Money

    from plans.models import Coupon, Option, OptionPrice, Plan, PlanPrice, Product, Promotion, UsageCharge, UsageMetric

    since = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    products = [
        Product.objects.get_or_create(code=f"bench-p{i}", defaults={"name": f"Product {i}"})[0] for i in range(5)
    ]
    plans = []
    specs = [
        ("month", "in_advance", "990"),
        ("month", "in_arrears", "1490"),
        ("quarter", "in_advance", "4900"),
        ("month", "in_advance", "2990"),
    ]
    for i in range(20):
        interval, timing, price = specs[i % len(specs)]
        plan, created = Plan.objects.get_or_create(
            code=f"bench-plan-{i}",
            defaults={"product": products[i % 5], "name": f"Plan {i}", "interval": interval, "charge_timing": timing},
        )
        if created:
            PlanPrice.objects.create(plan=plan, amount=Money(price, "RUB"), valid_from=since)
        plans.append(plan)
    metric, _ = UsageMetric.objects.get_or_create(code="bench-api-calls", defaults={"name": "API calls"})
    usage_plan, created = Plan.objects.get_or_create(
        code="bench-usage", defaults={"product": products[0], "name": "Usage", "charge_timing": "in_arrears"}
    )
    if created:
        PlanPrice.objects.create(plan=usage_plan, amount=Money("500", "RUB"), valid_from=since)
        UsageCharge.objects.create(
            plan=usage_plan,
            metric=metric,
            model="graduated",
            unit_price=Money("0", "RUB"),
            included=100,
            tiers=[{"up_to": "1000", "unit_price": "0.10"}, {"up_to": None, "unit_price": "0.05"}],
        )
    option, created = Option.objects.get_or_create(
        code="bench-backup", defaults={"product": products[1], "name": "Backup"}
    )
    if created:
        OptionPrice.objects.create(option=option, amount=Money("150", "RUB"), valid_from=since)
    promo, _ = Promotion.objects.get_or_create(
        code="bench-10", defaults={"name": "10%", "percent": 10, "duration": "forever"}
    )
    Coupon.objects.get_or_create(code="BENCH10", defaults={"promotion": promo})
    _seed_default_seller()
    return plans, usage_plan, metric, option, promo


def _seed_default_seller() -> None:
    """A VAT-paying default seller (the standard rate: 22 % on AS_OF), so every charge is split into revenue and
    VAT payable as in production; an installation that already has a default seller keeps it."""
    from billing.models import Seller
    from tests.factories.sellers import seller_create

    if not Seller.objects.filter(is_default=True).exists():
        seller_create(name="ООО «Бенч»", is_default=True)


def seed(cohort: int, n: int) -> None:
    """n customers with accounts, opening balances and one due subscription each (set-based SQL)."""
    from django.db import connection, transaction

    plans, usage_plan, metric, option, promo = _seed_catalog()
    plan_ids = [p.pk for p in plans]
    start = dt.date(2026, 11, 1)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT COALESCE(MAX(id), 0) FROM billing_customer")
        base = cur.fetchone()[0]
        cur.execute(
            """
            INSERT INTO billing_customer (kind, name, legal_name, country, inn, kpp, ogrn, legal_address,
                billing_emails, phone, currency, timezone, status, credit_limit, credit_limit_currency, tags,
                external_id, metadata, created_at, updated_at, billing_model)
            SELECT 'individual', 'Bench ' || g, '', 'RU', '', '', '', '', '{}', '', 'RUB',
                   CASE WHEN g %% 3 = 0 THEN 'Europe/Moscow' WHEN g %% 3 = 1 THEN 'Asia/Yekaterinburg' ELSE 'UTC' END,
                   'active', 0, 'RUB', '{}', 'bench-' || %s || '-' || g, '{}', now(), now(), 'prepaid'
              FROM generate_series(1, %s) g
            """,
            [cohort, n],
        )
        cur.execute(
            """
            INSERT INTO billing_account (kind, code, name, customer_id, balance, balance_currency, created_at)
            SELECT 'customer', 'customer:' || id, 'Balance of ' || name, id, 0, 'RUB', now()
              FROM billing_customer WHERE id > %s
            """,
            [base],
        )
        cur.execute("""
            INSERT INTO billing_account (kind, code, name, balance, balance_currency, created_at)
            VALUES ('provider_clearing', 'clearing:bench', 'Clearing: bench', 0, 'RUB', now())
            ON CONFLICT (code, balance_currency) DO NOTHING""")
        cur.execute("SELECT id FROM billing_account WHERE code = 'clearing:bench' AND balance_currency = 'RUB'")
        clearing = cur.fetchone()[0]
        # opening balances: 95% get 100,000.00 RUB through a real balanced ledger transaction each
        cur.execute(
            """
            WITH c AS (
                SELECT c.id AS customer_id, a.id AS account_id FROM billing_customer c
                  JOIN billing_account a ON a.customer_id = c.id
                 WHERE c.id > %s AND c.id %% 20 <> 0
            ), t AS (
                INSERT INTO billing_transaction (kind, idempotency_key, content_hash, effective_date, posted_at,
                    customer_id, source_type, source_id, description, created_by, metadata)
                SELECT 'payment', 'bench-topup:' || customer_id, '', '2026-11-01', now(), customer_id, 'bench', '',
                       'Opening balance', 'bench', '{}'
                  FROM c RETURNING id, customer_id
            )
            INSERT INTO billing_entry (transaction_id, account_id, amount, amount_currency, memo)
            SELECT t.id, x.account_id, x.amount, 'RUB', 'Opening balance'
              FROM t JOIN c ON c.customer_id = t.customer_id
             CROSS JOIN LATERAL (VALUES (c.account_id, -100000::numeric), (%s::bigint, 100000::numeric))
                   AS x(account_id, amount)
            """,
            [base, clearing],
        )
        cur.execute(
            """
            UPDATE billing_account a SET balance = -100000 FROM billing_customer c
             WHERE a.customer_id = c.id AND c.id > %s AND c.id %% 20 <> 0
            """,
            [base],
        )
        cur.execute(
            "UPDATE billing_account SET balance = balance + 100000 * "
            "(SELECT count(*) FROM billing_customer WHERE id > %s AND id %% 20 <> 0) WHERE id = %s",
            [base, clearing],
        )
        # subscriptions: 10% on the usage plan, the rest spread over the 20 plans; all due on Dec 1
        cur.execute(
            """
            INSERT INTO plans_subscription (customer_id, plan_id, price_id, currency, quantity, status,
                billing_anchor, current_period_start, current_period_end, next_billing_at, cancel_at_period_end,
                metadata, created_at, updated_at)
            SELECT c.id, p.id, pp.id, 'RUB', 1 + (c.id %% 3), 'active', %s::date, %s::date,
                   CASE WHEN p.interval = 'quarter' THEN %s::date + interval '3 months'
                        ELSE %s::date + interval '1 month' END, %s, false, '{}', now(), now()
              FROM billing_customer c
              JOIN plans_plan p ON p.id = CASE WHEN c.id %% 10 = 0 THEN %s
                                               ELSE (%s::bigint[])[1 + (c.id %% 20)] END
              JOIN LATERAL (SELECT id FROM plans_planprice WHERE plan_id = p.id ORDER BY valid_from DESC LIMIT 1) pp
                ON true
             WHERE c.id > %s
             ORDER BY c.id  -- subscription ids follow customer ids: every 10th is on the usage plan
            """,
            [start, start, start, start, AS_OF - dt.timedelta(hours=1), usage_plan.pk, plan_ids, base],
        )
        cur.execute(
            "UPDATE plans_subscription SET current_period_start = '2026-09-01', billing_anchor = '2026-09-01', "
            "current_period_end = '2026-12-01' WHERE customer_id > %s AND plan_id IN "
            "(SELECT id FROM plans_plan WHERE interval = 'quarter')",
            [base],
        )
        cur.execute(
            """
            INSERT INTO plans_subscriptionoption (subscription_id, option_id, price_id, quantity, added_at)
            SELECT s.id, %s, (SELECT id FROM plans_optionprice WHERE option_id = %s LIMIT 1), 1, now()
              FROM plans_subscription s WHERE s.customer_id > %s AND s.customer_id %% 7 = 0
            """,
            [option.pk, option.pk, base],
        )
        cur.execute(
            """
            INSERT INTO plans_subscriptiondiscount (subscription_id, promotion_id, periods_remaining, created_at)
            SELECT s.id, %s, NULL, now() FROM plans_subscription s WHERE s.customer_id > %s AND s.customer_id %% 11 = 0
            """,
            [promo.pk, base],
        )
        cur.execute(
            """
            INSERT INTO plans_usageevent (event_id, customer_id, metric_id, quantity, timestamp, properties,
                                          received_at)
            SELECT 'bench-' || s.customer_id || '-' || g, s.customer_id, %s, 37 + g, '2026-11-15 12:00+00', '{}',
                   now()
              FROM plans_subscription s CROSS JOIN generate_series(1, 10) g
             WHERE s.customer_id > %s AND s.plan_id = %s
            """,
            [metric.pk, base, usage_plan.pk],
        )
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
