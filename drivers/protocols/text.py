"""Chinese text for devices whose fonts cover GBK: GB18030, 1- and 2-byte sequences only.

Printer and LED fonts hold the double-byte area; a 4-byte GB18030 sequence (rare
characters, emoji) prints as garbage, so such characters are replaced, as are control
characters (which would otherwise inject printer commands through a service name).
"""

from __future__ import annotations

import unicodedata

REPLACEMENT = "?"

# Look-alikes for characters that have no 1-/2-byte GB18030 form.
_LOOKALIKES = {
    "\u00a0": " ",  # no-break space
    "\u2009": " ",
    "\u200b": "",  # zero-width space
    "\ufeff": "",
    "\u2022": "·",
    "\u2212": "-",
    "\u00ad": "",
}


def encode_gb(text: str, *, replacement: str = REPLACEMENT) -> bytes:
    """Encode ``text`` as GB18030 limited to 1-/2-byte sequences; never raises.

    Newlines are kept; other control characters become spaces.
    """
    out = bytearray()
    fallback = replacement.encode("ascii", errors="replace")
    for ch in unicodedata.normalize("NFC", text):
        if ch == "\n":
            out += b"\n"
            continue
        ch = _LOOKALIKES.get(ch, ch)
        if not ch:
            continue
        if unicodedata.category(ch) in ("Cc", "Cs"):
            out += b" "
            continue
        try:
            encoded = ch.encode("gb18030")
        except UnicodeEncodeError:
            out += fallback
            continue
        if len(encoded) > 2:
            out += fallback
        else:
            out += encoded
    return bytes(out)


def decode_gb(data: bytes) -> str:
    """Decode GB18030 text, replacing anything undecodable with U+FFFD."""
    return data.decode("gb18030", errors="replace")
