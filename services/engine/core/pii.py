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


# The one personal datum kept readable: a citizen's callback phone on a bad review
# (差评回访). AES-256-GCM with a key derived from the engine's pii key (HKDF), bound to
# its row by the associated data so a token copied to another row does not open.
_SEAL_PREFIX = "v1."


def _seal_key(key: str) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"jiaohao sealed pii v1"
    ).derive(key.encode())


def seal(key: str, context: str, value: str) -> str:
    """Encrypt ``value`` for storage; ``context`` names the row it belongs to."""
    import base64
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    sealed = AESGCM(_seal_key(key)).encrypt(nonce, value.encode(), context.encode())
    return _SEAL_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(key: str, context: str, token: str) -> str:
    """The value :func:`seal` stored; raises ``ValueError`` on a wrong key, row or token."""
    import base64

    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not token.startswith(_SEAL_PREFIX):
        raise ValueError("not a sealed value")
    raw = base64.urlsafe_b64decode(token[len(_SEAL_PREFIX) :])
    try:
        return AESGCM(_seal_key(key)).decrypt(raw[:12], raw[12:], context.encode()).decode()
    except InvalidTag as err:
        raise ValueError("the sealed value does not open with this key and row") from err
