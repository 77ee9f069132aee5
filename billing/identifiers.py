"""Check rules for Russian identifiers (ИНН, КПП, ОГРН, ОГРНИП, БИК, bank accounts).

Our own module: python-stdnum covers only ИНН and ОГРН and rejects valid ОГРНИП whose
remainder mod 13 is 10–12 (see shared/domain/identifiers.md).
"""

from __future__ import annotations

import re

_INN10_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS_11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS_12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_KPP_RE = re.compile(r"^\d{4}[\dA-Z]{2}\d{3}$")


def _digits(value: str, length: int) -> list[int] | None:
    if not isinstance(value, str) or len(value) != length or not value.isascii() or not value.isdigit():
        return None
    return [int(c) for c in value]


def _check(digits: list[int], weights: tuple[int, ...]) -> int:
    return sum(d * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def is_valid_inn(value: str) -> bool:
    """10 digits for a legal entity, 12 for a person or sole proprietor."""
    if (d := _digits(value, 10)) is not None:
        return _check(d, _INN10_WEIGHTS) == d[9]
    if (d := _digits(value, 12)) is not None:
        return _check(d, _INN12_WEIGHTS_11) == d[10] and _check(d, _INN12_WEIGHTS_12) == d[11]
    return False


def is_valid_kpp(value: str) -> bool:
    return isinstance(value, str) and bool(_KPP_RE.match(value))


def is_valid_ogrn(value: str) -> bool:
    """13-digit ОГРН of a legal entity: (first 12) mod 11 mod 10."""
    d = _digits(value, 13)
    return d is not None and value[0] != "0" and int(value[:12]) % 11 % 10 == d[12]


def is_valid_ogrnip(value: str) -> bool:
    """15-digit ОГРНИП of a sole proprietor, starting with 3: (first 14) mod 13 mod 10."""
    d = _digits(value, 15)
    return d is not None and value[0] == "3" and int(value[:14]) % 13 % 10 == d[14]


def is_valid_bik(value: str) -> bool:
    return _digits(value, 9) is not None and value[:2] in ("04", "01")


_ACCOUNT_WEIGHTS = (7, 1, 3) * 8


def is_valid_account(account: str, bik: str, *, correspondent: bool = False) -> bool:
    """Settlement (р/с) or correspondent (к/с) account against its bank's БИК."""
    if _digits(account, 20) is None or not is_valid_bik(bik):
        return False
    prefix = ("0" + bik[4:6]) if correspondent else bik[-3:]
    digits = [int(c) for c in prefix + account]
    return sum((d * w) % 10 for d, w in zip(digits, _ACCOUNT_WEIGHTS, strict=False)) % 10 == 0


def web_origin(value: str) -> str | None:
    """`scheme://host[:port]` of a web origin, lower-cased, or None when `value` is not exactly one (no path, no
    query, no user info; http or https)."""
    from urllib.parse import urlsplit

    value = (value or "").strip().rstrip("/")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query or parts.fragment:
        return None
    if parts.username or parts.password:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")
