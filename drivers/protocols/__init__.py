"""Pure codecs: bytes in, frames out; encoders return bytes. No I/O, no asyncio.

- :mod:`.ff68`: the "FF 68" keypad / 4-key evaluator family.
- :mod:`.jh`: jiaohao's own STX ... CRC16 ETX frame for boards with custom firmware.
- :mod:`.escpos`, :mod:`.ticket`, :mod:`.escpos_reader`: receipt printers.
- :mod:`.keypad`, :mod:`.rating`: what keys mean.
"""

from .errors import CodecError
from .keypad import KeypadAction, KeypadSequencer
from .rating import HidRatingDecoder, Satisfaction
from .stream import FrameStream, Skip, SkipCounters

__all__ = [
    "CodecError",
    "FrameStream",
    "HidRatingDecoder",
    "KeypadAction",
    "KeypadSequencer",
    "Satisfaction",
    "Skip",
    "SkipCounters",
]
