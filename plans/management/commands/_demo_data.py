"""The demo dataset that `manage.py seed_demo` loads: customers, balances, the catalog and subscriptions, as data
(the command holds the loading code)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from billing.models import Customer

CUSTOMERS: list[dict] = [
    {
        "external_id": "demo-romashka",
        "kind": Customer.Kind.LEGAL_ENTITY,
        "name": "Ромашка",
        "legal_name": "Общество с ограниченной ответственностью «Ромашка»",
        "inn": "7701234560",
        "kpp": "770101001",
        "ogrn": "1257700012349",
        "legal_address": "125009, г. Москва, ул. Тверская, д. 1",
        "billing_emails": ["billing@romashka.example"],
        "currency": "RUB",
        "credit_limit": Decimal("10000.00"),
        "tags": ["demo", "enterprise"],
    },
    {
        "external_id": "demo-podmoskovye",
        "kind": Customer.Kind.LEGAL_ENTITY,
        "name": "Подмосковные сети",
        "legal_name": "ООО «Подмосковные сети»",
        "inn": "5003123458",
        "kpp": "500301001",
        "legal_address": "142700, Московская обл., г. Видное, ул. Школьная, д. 5",
        "billing_emails": ["accounts@podmoskovye.example"],
        "currency": "RUB",
        "credit_limit": Decimal("0"),
        "billing_model": Customer.BillingModel.POSTPAID,  # invoiced at period end, not held to its balance
        "postpaid_days_ago": 40,
        "tags": ["demo"],
    },
    {
        "external_id": "demo-nevsky",
        "kind": Customer.Kind.LEGAL_ENTITY,
        "name": "Невский софт",
        "legal_name": "АО «Невский софт»",
        "inn": "7810123451",
        "kpp": "781001001",
        "legal_address": "196084, г. Санкт-Петербург, Московский пр., д. 10",
        "billing_emails": ["finance@nevsky.example"],
        "currency": "RUB",
        "credit_limit": Decimal("50000.00"),
        "tags": ["demo", "postpaid-candidate"],
    },
    {
        "external_id": "demo-ip-ivanov",
        "kind": Customer.Kind.SOLE_PROPRIETOR,
        "name": "ИП Иванов И. И.",
        "legal_name": "Индивидуальный предприниматель Иванов Иван Иванович",
        "inn": "771234567859",
        "ogrn": "325770000123460",
        "billing_emails": ["ivanov@ip.example"],
        "currency": "RUB",
        "credit_limit": Decimal("0"),
        "tags": ["demo", "smb"],
    },
    {
        "external_id": "demo-petrova",
        "kind": Customer.Kind.INDIVIDUAL,
        "name": "Анна Петрова",
        "billing_emails": ["anna.petrova@mail.example"],
        "currency": "RUB",
        "credit_limit": Decimal("0"),
        "timezone": "Asia/Yekaterinburg",
        "tags": ["demo"],
    },
    {
        "external_id": "demo-jane-doe",
        "kind": Customer.Kind.INDIVIDUAL,
        "name": "Jane Doe",
        "country": "DE",
        "billing_emails": ["jane@doe.example"],
        "currency": "EUR",
        "credit_limit": Decimal("0"),
        "timezone": "Europe/Berlin",
        "tags": ["demo", "international"],
    },
    {
        "external_id": "demo-smirnov",
        "kind": Customer.Kind.INDIVIDUAL,
        "name": "Олег Смирнов",
        "billing_emails": ["oleg.smirnov@mail.example"],
        "currency": "RUB",
        "credit_limit": Decimal("0"),
        "tags": ["demo"],
    },
]


@dataclass(frozen=True)
class Adjustment:
    key: str
    external_id: str
    direction: str
    amount: Decimal
    reason: str
    effective_date: dt.date  # fixed, so the same key always carries the same content


ADJUSTMENTS: list[Adjustment] = [
    Adjustment(
        "demo:romashka:topup",
        "demo-romashka",
        "credit",
        Decimal("150000.00"),
        "Demo: opening balance (bank transfer)",
        dt.date(2026, 1, 12),
    ),
    Adjustment(
        "demo:romashka:setup-fee",
        "demo-romashka",
        "debit",
        Decimal("12500.00"),
        "Demo: one-off setup fee",
        dt.date(2026, 1, 15),
    ),
    Adjustment(
        "demo:nevsky:topup", "demo-nevsky", "credit", Decimal("48000.00"), "Demo: opening balance", dt.date(2026, 2, 2)
    ),
    Adjustment(
        "demo:ip-ivanov:topup", "demo-ip-ivanov", "credit", Decimal("3500.00"), "Demo: top-up", dt.date(2026, 3, 1)
    ),
    Adjustment("demo:petrova:topup", "demo-petrova", "credit", Decimal("990.00"), "Demo: top-up", dt.date(2026, 3, 5)),
    Adjustment(
        "demo:petrova:goodwill",
        "demo-petrova",
        "debit",
        Decimal("90.50"),
        "Demo: correction of a double top-up",
        dt.date(2026, 3, 6),
    ),
    Adjustment("demo:smirnov:topup", "demo-smirnov", "credit", Decimal("990.00"), "Demo: top-up", dt.date(2026, 3, 10)),
    Adjustment(
        "demo:jane-doe:topup", "demo-jane-doe", "credit", Decimal("49.99"), "Demo: top-up", dt.date(2026, 4, 20)
    ),
]


CATALOG_SINCE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

PRODUCTS: list[dict] = [
    {"code": "crm", "name": "CRM", "description": "Deals, contacts and sales pipelines."},
    {"code": "storage", "name": "Cloud storage", "description": "Files and backups, billed by the gigabyte."},
]

PLANS: list[dict] = [  # prices: (currency, amount, setup fee)
    {
        "code": "crm-start",
        "product": "crm",
        "name": "Start",
        "interval": "month",
        "is_public": True,
        "display_order": 1,
        "showcase_description": "For a team of up to 3: contacts, deals, one pipeline.",
        "prices": [("RUB", "990.00", None), ("EUR", "12.00", None)],
    },
    {
        "code": "crm-pro",
        "product": "crm",
        "name": "Pro",
        "interval": "month",
        "is_public": True,
        "display_order": 2,
        "trial_days": 14,
        "showcase_description": "Per seat: automation, reports, API access.",
        "prices": [("RUB", "2990.00", "5000.00"), ("EUR", "35.00", None)],
    },
    {
        "code": "crm-business-quarter",
        "product": "crm",
        "name": "Business (quarterly)",
        "interval": "quarter",
        "is_public": True,
        "display_order": 3,
        "showcase_description": "Pro for the whole company, billed quarterly.",
        "prices": [("RUB", "24900.00", None)],
    },
    {
        "code": "storage-metered",
        "product": "storage",
        "name": "Storage pay-as-you-go",
        "interval": "month",
        "charge_timing": "in_arrears",
        "is_public": True,
        "display_order": 4,
        "showcase_description": "10 GB included, then 5.00 ₽/GB up to 100 GB and 3.00 ₽/GB beyond.",
        "prices": [("RUB", "0.00", None)],
    },
]

BUNDLE: dict = {
    "code": "crm-storage",
    "name": "CRM + Storage",
    "is_public": True,
    "description": "CRM Start for the team and cloud storage, at one monthly price.",
    "plans": ["crm-start", "storage-metered"],
    "prices": [("RUB", "1490.00"), ("EUR", "18.00")],
}

SUBSCRIPTIONS: list[dict] = [
    {"external_id": "demo-sub-romashka-crm", "customer": "demo-romashka", "plan": "crm-business-quarter"},
    {"external_id": "demo-sub-romashka-storage", "customer": "demo-romashka", "plan": "storage-metered"},
    {
        "external_id": "demo-sub-nevsky-crm",
        "customer": "demo-nevsky",
        "plan": "crm-pro",
        "quantity": 5,
        "options": [("crm-extra-pipeline", 2)],
    },
    {"external_id": "demo-sub-ivanov-crm", "customer": "demo-ip-ivanov", "plan": "crm-start", "coupon": "WELCOME10"},
    {
        "external_id": "demo-sub-jane-crm",
        "customer": "demo-jane-doe",
        "plan": "crm-start",
        "then": "cancel_at_period_end",
    },
    # one of each other state, so every screen has content. `days_ago` backdates the start; the billing runs of
    # seed_demo then renew what is due (and suspend what is overdue), as beat would have
    {  # postpaid: its first period ended and is invoiced (documents' `invoice_postpaid`, run by `make run` and beat)
        "external_id": "demo-sub-podmoskovye-crm",
        "customer": "demo-podmoskovye",
        "plan": "crm-start",
        "quantity": 3,
        "days_ago": 35,
    },
    {  # prepaid with 990.00: the renewal 30 days later takes the balance to −990.00, and after the grace days the
        # run suspends it for insufficient funds
        "external_id": "demo-sub-smirnov-crm",
        "customer": "demo-smirnov",
        "plan": "crm-start",
        "days_ago": 35,
    },
    {
        "external_id": "demo-sub-nevsky-start",
        "customer": "demo-nevsky",
        "plan": "crm-start",
        "days_ago": 10,
        "then": "pause",
    },
    {
        "external_id": "demo-sub-romashka-start",
        "customer": "demo-romashka",
        "plan": "crm-start",
        "days_ago": 20,
        "then": "cancel",
    },
]
