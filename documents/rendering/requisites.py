"""The requisites copied into a document at issue (`Document.seller_data`, `Document.buyer_data`): the shape the
PDF templates read. The issuing services call these; rendering never reads the live seller or customer."""

from __future__ import annotations

import datetime as dt


def seller_data_snapshot(seller, *, on: dt.date) -> dict:
    """The seller's requisites as `Document.seller_data` keeps them (what the templates read): names, ИНН/КПП/ОГРН,
    address, the primary bank account, the active signatories, the facsimile and stamp files, and the VAT rate in
    force `on` the document's date. Prefetch `bank_accounts`, `signatories` and `vat_rates` for a chunk."""
    bank = next((a for a in seller.bank_accounts.all() if a.is_primary), None)
    signatories = {s.role: s for s in seller.signatories.all() if s.is_active}
    return {
        "kind": seller.kind,
        "name": seller.name,
        "full_name": seller.full_name,
        "inn": seller.inn,
        "kpp": seller.kpp,
        "ogrn": seller.ogrn,
        "address": seller.address,
        "email": seller.email,
        "phone": seller.phone,
        "vat_rate": seller.vat_rate_on(on).value,
        "bank": {
            "bank_name": bank.bank_name,
            "bik": bank.bik,
            "correspondent_account": bank.correspondent_account,
            "account": bank.account,
        }
        if bank
        else {},
        "director": _signatory(signatories.get("director")),
        "chief_accountant": _signatory(signatories.get("chief_accountant")),
        "facsimile": seller.facsimile.name or "",
        "stamp": seller.stamp.name or "",
    }


def _signatory(signatory) -> dict:
    if signatory is None:
        return {}
    return {
        "full_name": signatory.full_name,
        "position": signatory.position,
        "poa_number": signatory.poa_number,
        "poa_date": signatory.poa_date.isoformat() if signatory.poa_date else "",
    }


def buyer_data_snapshot(customer) -> dict:
    """The customer's requisites as `Document.buyer_data` keeps them: the legal name (else the name), ИНН/КПП/ОГРН,
    the legal address, the country and the contract the documents refer to."""
    return {
        "kind": customer.kind,
        "name": customer.name,
        "full_name": customer.legal_name or customer.name,
        "inn": customer.inn,
        "kpp": customer.kpp,
        "ogrn": customer.ogrn,
        "address": customer.legal_address,
        "country": customer.country,
        "contract_number": customer.contract_number,
        "contract_date": customer.contract_date.isoformat() if customer.contract_date else "",
    }
