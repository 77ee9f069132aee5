"""`manage.py seed_demo`: a small demo dataset for a laptop (`make run` loads it). Idempotent: run it any number of
times, the second run changes nothing.

- a superuser admin/admin, only when no superuser exists yet;
- the user accountant/accountant in the Accountant group, when that group exists (default groups migration);
- six customers (individuals, legal entities and a sole proprietor with valid ИНН/КПП/ОГРН/ОГРНИП), each with
  an `external_id` starting with "demo-" (an existing one is skipped);
- a few manual credits and debits under fixed idempotency keys "demo:…";
- one read-write API key, its token printed once, when it is created;
- a catalog (products CRM and Cloud storage, public plans with prices in RUB and EUR, an option, a metered
  storage plan with graduated tiers, a 10% welcome coupon) and a subscription for five demo customers,
  created through the subscription service (so the first periods are real ledger charges); matched by code
  and by the subscriptions' `external_id` ("demo-sub-…"), so a second run creates nothing;
- a portal login for the customer Ромашка (owner@romashka.example, its owner), printed with the others;
- a bundle "CRM + Storage" (CRM Start and metered storage at one monthly package price), published through
  plans.services.bundles.bundle_publish so it can be subscribed to; matched by its code.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from moneyed import Money

from billing.models import (
    ApiKey,
    Customer,
    CustomerUser,
    Seller,
    SellerBankAccount,
    SellerSignatory,
    SellerVatRate,
    Transaction,
)
from billing.services.api_keys import api_key_create
from billing.services.customers import customer_balance_adjust, customer_create
from billing.services.portal_access import customer_user_add
from plans.management.commands._demo_data import (
    ADJUSTMENTS,
    BUNDLE,
    CATALOG_SINCE,
    CUSTOMERS,
    PLANS,
    PRODUCTS,
    SUBSCRIPTIONS,
)
from plans.models import (
    Bundle,
    BundleItem,
    BundlePrice,
    Coupon,
    Option,
    OptionPrice,
    Plan,
    PlanPrice,
    Product,
    Promotion,
    Subscription,
    UsageCharge,
    UsageMetric,
)
from plans.services.billing_run import billing_run_execute
from plans.services.bundles import bundle_publish
from plans.services.subscriptions import subscription_cancel, subscription_create, subscription_pause

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin"  # noqa: S105 - a documented demo login for a laptop
ACCOUNTANT_USERNAME = "accountant"
ACCOUNTANT_PASSWORD = "accountant"  # noqa: S105 - a documented demo login for a laptop
PORTAL_CUSTOMER = "demo-romashka"
PORTAL_EMAIL = "owner@romashka.example"
PORTAL_PASSWORD = "portal-demo"  # noqa: S105 - a documented demo login for a laptop
ACCOUNTANT_GROUP = "Accountant"
API_KEY_NAME = "Demo key (seed_demo)"
CREATED_BY = "seed_demo"

# the demo SaaS's legal entity (fictional; the identifiers pass their check digits)
SELLER = {
    "name": "ООО «Облачные решения»",
    "full_name": "Общество с ограниченной ответственностью «Облачные решения»",
    "inn": "7701234560",
    "kpp": "770101001",
    "ogrn": "1257700012349",
    "address": "123112, г. Москва, Пресненская наб., д. 12, помещ. 1",
    "email": "billing@example.com",
}
SELLER_BANK = {
    "bank_name": "ПАО Сбербанк",
    "bik": "044525225",
    "correspondent_account": "30101810400000000225",
    "account": "40702810400000000005",
}
SELLER_SIGNATORIES = (
    ("director", "Иванов Иван Иванович", "Генеральный директор"),
    ("chief_accountant", "Петрова Анна Сергеевна", "Главный бухгалтер"),
)


@dataclass
class Tally:
    created: dict[str, int] = field(default_factory=dict)
    present: dict[str, int] = field(default_factory=dict)

    def add(self, what: str, *, created: bool) -> None:
        bucket = self.created if created else self.present
        bucket[what] = bucket.get(what, 0) + 1

    @staticmethod
    def _show(counts: dict[str, int]) -> str:
        return ", ".join(f"{n} {what}" for what, n in counts.items()) or "nothing"


class Command(BaseCommand):
    help = "Load the demo dataset (users, customers, balances, an API key). Idempotent; --dry-run only reports."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Report what would be created; write nothing.")

    def handle(self, *args, dry_run: bool = False, **options):
        self.dry_run = dry_run
        tally = Tally()
        logins = self._users(tally)
        customers = self._customers(tally)
        self._adjustments(tally, customers)
        token_line = self._api_key(tally)
        self._seller(tally)
        self._catalog(tally)
        self._bundle(tally)
        self._subscriptions(tally, customers)
        logins += self._portal_login(tally, customers)

        verb = "would create" if dry_run else "created"
        self.stdout.write(
            f"seed_demo: {verb} {Tally._show(tally.created)}; already present: {Tally._show(tally.present)}"
        )
        for line in logins:
            self.stdout.write(line)
        if token_line:
            self.stdout.write(token_line)

    # --- users
    def _users(self, tally: Tally) -> list[str]:
        User = get_user_model()
        logins = []
        superusers = User.objects.filter(is_superuser=True, is_active=True).order_by("pk")
        if not superusers.exists():
            if not self.dry_run:
                User.objects.create_superuser(ADMIN_USERNAME, f"{ADMIN_USERNAME}@example.com", ADMIN_PASSWORD)
            tally.add("superuser", created=True)
            logins.append(f"Admin login: {ADMIN_USERNAME} / {ADMIN_PASSWORD}")
        else:
            tally.add("superuser", created=False)
            admin = superusers.filter(username=ADMIN_USERNAME).first()
            if admin is not None and admin.check_password(ADMIN_PASSWORD):
                logins.append(f"Admin login: {ADMIN_USERNAME} / {ADMIN_PASSWORD}")
            else:
                names = ", ".join(superusers.values_list("username", flat=True)[:3])
                logins.append(f"Admin login: your existing superuser ({names}); its password was not changed")

        group = Group.objects.filter(name=ACCOUNTANT_GROUP).first()
        if group is None:
            self.stdout.write(
                f"No {ACCOUNTANT_GROUP!r} group (the default groups migration is not applied): "
                f"the {ACCOUNTANT_USERNAME!r} user is not created."
            )
            return logins
        user = User.objects.filter(username=ACCOUNTANT_USERNAME).first()
        if user is None:
            if not self.dry_run:
                user = User.objects.create_user(
                    ACCOUNTANT_USERNAME, f"{ACCOUNTANT_USERNAME}@example.com", ACCOUNTANT_PASSWORD, is_staff=True
                )
                user.groups.add(group)
            tally.add("accountant user", created=True)
        else:
            tally.add("accountant user", created=False)
            if not self.dry_run and not user.groups.filter(pk=group.pk).exists():
                user.groups.add(group)
        if user is None or user.check_password(ACCOUNTANT_PASSWORD):
            logins.append(f"Accountant login: {ACCOUNTANT_USERNAME} / {ACCOUNTANT_PASSWORD}")
        return logins

    # --- the portal
    def _portal_login(self, tally: Tally, customers: dict[str, Customer]) -> list[str]:
        customer = customers.get(PORTAL_CUSTOMER)
        member = CustomerUser.objects.filter(user__username=PORTAL_EMAIL).select_related("user").first()
        if member is None:
            if not self.dry_run and customer is not None:
                customer_user_add(
                    customer_id=customer.pk, email=PORTAL_EMAIL, role="owner", password=PORTAL_PASSWORD, by="seed_demo"
                )
            tally.add("portal user", created=True)
        else:
            tally.add("portal user", created=False)
            if not member.user.check_password(PORTAL_PASSWORD):
                return [f"Portal login: {PORTAL_EMAIL} (its password was changed)"]
        return [f"Portal login: {PORTAL_EMAIL} / {PORTAL_PASSWORD}"]

    # --- customers and balances
    def _customers(self, tally: Tally) -> dict[str, Customer]:
        existing = {
            c.external_id: c for c in Customer.objects.filter(external_id__in=[d["external_id"] for d in CUSTOMERS])
        }
        for data in CUSTOMERS:
            if data["external_id"] in existing:
                tally.add("customers", created=False)
                continue
            if not self.dry_run:
                fields = dict(data)
                days = fields.pop("postpaid_days_ago", None)
                if days:  # postpaid before its backdated subscription started, so its ended period is invoiced
                    fields["postpaid_since"] = (timezone.now() - dt.timedelta(days=days)).astimezone(dt.UTC).date()
                existing[data["external_id"]] = customer_create(**fields)
            tally.add("customers", created=True)
        return existing

    def _adjustments(self, tally: Tally, customers: dict[str, Customer]) -> None:
        posted = set(
            Transaction.objects.filter(idempotency_key__in=[a.key for a in ADJUSTMENTS]).values_list(
                "idempotency_key", flat=True
            )
        )
        for adjustment in ADJUSTMENTS:
            if adjustment.key in posted:
                tally.add("balance adjustments", created=False)
                continue
            customer = customers.get(adjustment.external_id)
            if customer is not None and customer.status == Customer.Status.CLOSED:
                continue  # someone closed a demo customer: leave it alone
            if not self.dry_run:
                customer_balance_adjust(
                    customer_id=customer.pk,
                    amount=adjustment.amount,
                    direction=adjustment.direction,
                    reason=adjustment.reason,
                    key=adjustment.key,
                    created_by=CREATED_BY,
                    effective_date=adjustment.effective_date,
                )
            tally.add("balance adjustments", created=True)

    # --- the seller
    def _seller(self, tally: Tally) -> None:
        """The demo SaaS's legal entity: the default seller, paying VAT at the standard rate, so the demo's charges
        split into revenue and VAT and its months close with acts and VAT invoices."""
        if Seller.objects.filter(inn=SELLER["inn"]).exists():
            tally.add("seller", created=False)
            return
        tally.add("seller", created=True)
        if self.dry_run:
            return
        seller = Seller(**SELLER, is_default=not Seller.objects.filter(is_default=True).exists())
        seller.full_clean()
        seller.save()
        SellerVatRate.objects.create(seller=seller, valid_from=dt.date(2019, 1, 1), rate="standard")
        account = SellerBankAccount(seller=seller, **SELLER_BANK)
        account.full_clean()
        account.save()
        for role, full_name, position in SELLER_SIGNATORIES:
            SellerSignatory.objects.create(seller=seller, role=role, full_name=full_name, position=position)

    # --- catalog and subscriptions
    def _catalog(self, tally: Tally) -> None:
        if Product.objects.filter(code__in=[p["code"] for p in PRODUCTS]).count() == len(PRODUCTS):
            tally.add("catalog", created=False)
            return
        tally.add("catalog", created=True)
        if self.dry_run:
            return
        products = {p["code"]: Product.objects.get_or_create(code=p["code"], defaults=p)[0] for p in PRODUCTS}
        for spec in PLANS:
            spec = dict(spec)
            prices = spec.pop("prices")
            plan, created = Plan.objects.get_or_create(
                code=spec.pop("code"), defaults={**spec, "product": products[spec["product"]]}
            )
            if created:
                for currency, amount, setup_fee in prices:
                    PlanPrice.objects.create(
                        plan=plan,
                        amount=Money(amount, currency),
                        valid_from=CATALOG_SINCE,
                        setup_fee=Money(setup_fee, currency) if setup_fee else None,
                    )
        option, created = Option.objects.get_or_create(
            code="crm-extra-pipeline",
            defaults={
                "product": products["crm"],
                "name": "Extra sales pipeline",
                "description": "One more pipeline with its own stages.",
            },
        )
        if created:
            OptionPrice.objects.create(option=option, amount=Money("490.00", "RUB"), valid_from=CATALOG_SINCE)
            OptionPrice.objects.create(option=option, amount=Money("5.00", "EUR"), valid_from=CATALOG_SINCE)
        metric, _ = UsageMetric.objects.get_or_create(
            code="storage-gb", defaults={"name": "Stored data", "unit": "GB", "aggregation": "max"}
        )
        storage = Plan.objects.get(code="storage-metered")
        if not UsageCharge.objects.filter(plan=storage, metric=metric).exists():
            charge = UsageCharge(
                plan=storage,
                metric=metric,
                model="graduated",
                unit_price=Money("0", "RUB"),
                included=Decimal("10"),
                tiers=[{"up_to": "100", "unit_price": "5.00"}, {"up_to": None, "unit_price": "3.00"}],
            )
            charge.full_clean()
            charge.save()
        promotion, _ = Promotion.objects.get_or_create(
            code="welcome10",
            defaults={
                "name": "Welcome: 10% for three months",
                "percent": Decimal("10"),
                "duration": "repeating",
                "duration_periods": 3,
            },
        )
        Coupon.objects.get_or_create(code="WELCOME10", defaults={"promotion": promotion, "max_redemptions": 100})

    def _bundle(self, tally: Tally) -> None:
        if Bundle.objects.filter(code=BUNDLE["code"]).exists():
            tally.add("bundle", created=False)
            return
        if self.dry_run:
            tally.add("bundle", created=True)
            return
        plans = {plan.code: plan for plan in Plan.objects.filter(code__in=BUNDLE["plans"])}
        if len(plans) != len(BUNDLE["plans"]):
            return  # someone removed a demo plan: leave the catalog alone
        with transaction.atomic():  # created and published together, or not at all
            bundle = Bundle.objects.create(
                code=BUNDLE["code"],
                name=BUNDLE["name"],
                description=BUNDLE["description"],
                is_public=BUNDLE["is_public"],
            )
            for code in BUNDLE["plans"]:
                BundleItem.objects.create(bundle=bundle, plan=plans[code])
            for currency, amount in BUNDLE["prices"]:
                BundlePrice.objects.create(bundle=bundle, amount=Money(amount, currency), valid_from=CATALOG_SINCE)
            bundle_publish(bundle_id=bundle.pk)
        tally.add("bundle", created=True)

    def _subscriptions(self, tally: Tally, customers: dict[str, Customer]) -> None:
        now = timezone.now()
        created: list[tuple[dict, Subscription]] = []
        present = set(
            Subscription.objects.filter(external_id__in=[s["external_id"] for s in SUBSCRIPTIONS]).values_list(
                "external_id", flat=True
            )
        )
        for spec in SUBSCRIPTIONS:
            if spec["external_id"] in present:
                tally.add("subscriptions", created=False)
                continue
            customer = customers.get(spec["customer"])
            if customer is None and not self.dry_run:
                continue
            if customer is not None and customer.status == Customer.Status.CLOSED:
                continue
            tally.add("subscriptions", created=True)
            if self.dry_run:
                continue
            started = now - dt.timedelta(days=spec.get("days_ago", 0))
            created.append(
                (
                    spec,
                    subscription_create(
                        customer_id=customer.pk,
                        plan_code=spec["plan"],
                        quantity=spec.get("quantity", 1),
                        options=spec.get("options", ()),
                        coupon_code=spec.get("coupon"),
                        external_id=spec["external_id"],
                        key=f"demo:{spec['external_id']}",
                        at=started,
                    ),
                )
            )
        if not created:
            return
        # the billing runs beat would have made since the earliest backdated start: one a day after each renewal
        # (renewed, charged; a prepaid balance beyond the limit starts its grace days), then one now (suspends
        # what is past its grace days)
        renewals = sorted(
            {sub.next_billing_at for spec, sub in created if spec.get("days_ago") and sub.next_billing_at}
        )
        for as_of in [*(r + dt.timedelta(days=1) for r in renewals if r < now), now]:
            billing_run_execute(as_of=as_of, triggered_by="seed_demo")
        for spec, sub in created:
            then = spec.get("then")
            if then == "pause":
                subscription_pause(subscription_id=sub.pk, at=now)
            elif then == "cancel":
                subscription_cancel(subscription_id=sub.pk, at=now, key="demo")
            elif then == "cancel_at_period_end":
                subscription_cancel(subscription_id=sub.pk, at_period_end=True, at=now)

    # --- API key
    def _api_key(self, tally: Tally) -> str:
        existing = ApiKey.objects.filter(name=API_KEY_NAME).order_by("pk").first()
        if existing is not None:
            tally.add("API key", created=False)
            return (
                f"Demo API key: {existing.prefix}… (its token was shown when it was created; "
                "create another one in the admin under API keys)"
            )
        tally.add("API key", created=True)
        if self.dry_run:
            return ""
        raw = _create_read_write_key()
        return f"Demo API key (read-write, shown once, store it now): {raw}"


def _create_read_write_key() -> str:
    _, raw = api_key_create(name=API_KEY_NAME, scope=ApiKey.Scope.READ_WRITE)
    return raw
