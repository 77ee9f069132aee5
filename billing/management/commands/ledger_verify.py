"""`manage.py ledger_verify`: prove every cached balance and every transaction against the entries, now."""

from django.core.management.base import BaseCommand, CommandError

from billing.services.ledger_verify import ledger_verify


class Command(BaseCommand):
    help = (
        "Prove that every account's cached balance (row plus balance slots) equals the sum of its entries and that "
        "every transaction sums to zero per currency; store the result. Exits 1 on any difference."
    )

    def handle(self, *args, **options):
        verification = ledger_verify()
        if verification.ok:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Ledger verification #{verification.pk}: {verification.accounts_checked} accounts and "
                    f"{verification.transactions_checked} transactions agree with their entries."
                )
            )
            return
        differences = verification.differences
        for row in differences["accounts"]:
            self.stderr.write(
                f"  account {row['account_id']} ({row['code'] or 'no such account'}, {row['currency'] or '-'}): "
                f"cached balance {row['cached_balance']}, sum of entries {row['sum_of_entries']}"
            )
        for row in differences["transactions"]:
            self.stderr.write(f"  transaction {row['transaction_id']}: {row['sum']} {row['currency']}, not zero")
        raise CommandError(
            f"Ledger verification #{verification.pk} FAILED: {differences['accounts_count']} account(s) whose cached "
            f"balance differs from its entries, {differences['transactions_count']} unbalanced transaction(s)."
        )
