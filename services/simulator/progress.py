"""A tiny progress bar on stderr for long simulator runs."""

from __future__ import annotations

import sys
from typing import TextIO


class ProgressBar:
    """``[#####.....] 50% label``, redrawn in place; silent when ``enabled`` is false."""

    def __init__(
        self,
        total: float,
        label: str = "",
        *,
        width: int = 30,
        stream: TextIO | None = None,
        enabled: bool = True,
    ) -> None:
        self.total = max(total, 1e-9)
        self.label = label
        self.width = width
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self._shown = -1

    def update(self, done: float) -> None:
        if not self.enabled:
            return
        fraction = min(max(done / self.total, 0.0), 1.0)
        percent = int(fraction * 100)
        if percent == self._shown:
            return
        self._shown = percent
        filled = int(fraction * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {percent:3d}% {self.label}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._shown >= 0:
            self.stream.write("\n")
            self.stream.flush()
