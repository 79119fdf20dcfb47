"""Personal data (个人信息): keyed hashes for matching, short tails for display."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata


def _halfwidth(raw: str) -> str:
    # Chinese input methods type full-width digits and letters (１３８, ｘ).
    return unicodedata.normalize("NFKC", raw)


def normalise_id_number(raw: str) -> str:
    """Resident ID numbers compare upper-case without spaces (trailing X)."""
    return "".join(_halfwidth(raw).split()).upper()


def normalise_phone(raw: str) -> str:
    """Digits only, without the country code (+86 or 0086) of a mainland number."""
    digits = "".join(ch for ch in _halfwidth(raw) if "0" <= ch <= "9")
    for country in ("0086", "86"):
        if digits.startswith(country) and len(digits) == len(country) + 11:
            return digits[len(country) :]
    return digits


def keyed_hash(key: str, kind: str, value: str) -> str:
    """HMAC-SHA256 of a normalised value; ``kind`` keeps ID and phone hashes apart."""
    message = f"{kind}:{value}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def tail(value: str, digits: int = 4) -> str:
    """The last few characters, for display (尾号)."""
    return value[-digits:] if value else ""


def mask_name(name: str) -> str:
    """张三丰 -> 张*丰, 张三 -> 张*; what public screens may show at most."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
