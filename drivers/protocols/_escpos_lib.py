"""python-escpos 3.x (module ``escpos``), imported quietly.

At import it calls ``logging.basicConfig()`` (adding a handler to the root logger of
whatever program imports us) and some of its code prints to stdout. We undo the first
and swallow the second. Never install the PyPI package named ``escpos``: it is a
different, discontinued fork with the same module name.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
from typing import Any

_lock = threading.Lock()
_dummy_class: Any = None


@contextlib.contextmanager
def _quiet() -> Any:
    root = logging.getLogger()
    handlers = list(root.handlers)
    level = root.level
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)


def _dummy() -> Any:
    global _dummy_class
    if _dummy_class is None:
        with _quiet():
            from escpos.printer import Dummy

        _dummy_class = Dummy
    return _dummy_class


def native_qr(data: str, module_size: int, ec_level: int) -> bytes:
    """``GS ( k`` bytes for a model-2 QR code, as python-escpos builds them."""
    with _lock:
        printer = _dummy()()
    # Native QR neither logs nor prints, so no stdout juggling (it would hide other threads').
    printer.qr(data, ec=ec_level, size=module_size, native=True)
    return bytes(printer.output)
