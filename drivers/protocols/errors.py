"""The one exception type codecs raise."""

from __future__ import annotations


class CodecError(ValueError):
    """An encoder was given something it cannot put on the wire.

    Decoders never raise it for bad input bytes: they skip and report them instead.
    """
