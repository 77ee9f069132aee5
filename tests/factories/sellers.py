"""Builders for sellers: a VAT-paying legal entity with a bank account and signatories by default.

Identifiers are fictional but pass the check rules (shared/domain/identifiers.md test vectors).
"""

from __future__ import annotations

import datetime as dt

from billing.models import Seller, SellerBankAccount, SellerSignatory, SellerVatRate
from billing.vat import VatRate

INNS_10 = ("7701234560", "5003123458", "7810123451")
INN_12 = "771234567859"
OGRN = "1257700012349"
OGRNIP = "325770000123459"
BIK = "044525225"  # Сбербанк
CORRESPONDENT_ACCOUNT = "30101810400000000225"


def seller_create(
    *,
    name: str = "ООО «Облако»",
    inn: str = INNS_10[0],
    kind: str = Seller.Kind.LEGAL_ENTITY,
    vat: VatRate | str | list[tuple[dt.date, str]] = VatRate.STANDARD,
    is_default: bool = False,
    number_prefix: str = "",
    bank_account: bool = True,
    signatories: bool = True,
    monthly_documents: str = Seller.MonthlyIssue.ISSUE,
    numbering_reset: str = Seller.NumberingReset.YEARLY,
) -> Seller:
    """A seller; `vat` is one rate from 2000-01-01 (STANDARD: 20 % then 22 % from 2026) or [(from, rate), …]."""
    seller = Seller(
        kind=kind,
        name=name,
        full_name=f"Общество с ограниченной ответственностью {name}",
        inn=inn,
        kpp="770101001" if kind == Seller.Kind.LEGAL_ENTITY else "",
        ogrn=OGRN if kind == Seller.Kind.LEGAL_ENTITY else OGRNIP,
        address="123112, г. Москва, Пресненская наб., д. 12, помещ. 1",
        is_default=is_default,
        number_prefix=number_prefix,
        monthly_documents=monthly_documents,
        numbering_reset=numbering_reset,
    )
    seller.full_clean()
    seller.save()
    rows = vat if isinstance(vat, list) else [(dt.date(2000, 1, 1), VatRate(vat).value)]
    SellerVatRate.objects.bulk_create(
        [SellerVatRate(seller=seller, valid_from=day, rate=VatRate(rate).value) for day, rate in rows]
    )
    if bank_account:
        account = SellerBankAccount(
            seller=seller,
            bank_name="ПАО Сбербанк",
            bik=BIK,
            correspondent_account=CORRESPONDENT_ACCOUNT,
            account=_account_for(BIK, seller.pk),
        )
        account.full_clean()
        account.save()
    if signatories:
        SellerSignatory.objects.create(
            seller=seller,
            role=SellerSignatory.Role.DIRECTOR,
            full_name="Иванов Иван Иванович",
            position="Генеральный директор",
        )
        SellerSignatory.objects.create(
            seller=seller,
            role=SellerSignatory.Role.CHIEF_ACCOUNTANT,
            full_name="Петрова Анна Сергеевна",
            position="Главный бухгалтер",
        )
    return seller


def _account_for(bik: str, n: int) -> str:
    """A settlement account 40702810<key>… valid for `bik`, distinct per `n` (the control key computed)."""
    from billing import identifiers

    body = f"{n:011d}"
    for key in range(10):
        account = f"40702810{key}{body}"
        if identifiers.is_valid_account(account, bik):
            return account
    raise AssertionError("no control key fits")
