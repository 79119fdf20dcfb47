"""Shared decoder plumbing: skip reasons and an incremental frame stream with counters."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

F = TypeVar("F")


class Skip(enum.StrEnum):
    """Why a decoder consumed bytes without producing a frame."""

    GARBAGE = "garbage"  # bytes before any frame header
    BAD_LENGTH = "bad_length"  # length field out of range or inconsistent
    BAD_FRAMING = "bad_framing"  # a header or end marker where it should not be
    BAD_CHECKSUM = "bad_checksum"


ScanResult = tuple[int, F | None, Skip | None]
"""``(consumed, frame, skip)``: consumed 0 means "need more bytes"."""


@dataclass
class SkipCounters:
    """How much a stream had to throw away; garbage counts bytes, the rest count frames."""

    garbage_bytes: int = 0
    bad_length: int = 0
    bad_framing: int = 0
    bad_checksum: int = 0
    frames: int = 0

    def count(self, skip: Skip, consumed: int) -> None:
        if skip is Skip.GARBAGE:
            self.garbage_bytes += consumed
        elif skip is Skip.BAD_LENGTH:
            self.bad_length += 1
        elif skip is Skip.BAD_FRAMING:
            self.bad_framing += 1
        else:
            self.bad_checksum += 1

    def add(self, other: SkipCounters) -> None:
        self.garbage_bytes += other.garbage_bytes
        self.bad_length += other.bad_length
        self.bad_framing += other.bad_framing
        self.bad_checksum += other.bad_checksum
        self.frames += other.frames

    @property
    def errors(self) -> int:
        return self.bad_length + self.bad_framing + self.bad_checksum


@dataclass
class FrameStream(Generic[F]):
    """Feeds bytes to a pure ``scan`` function and collects frames, counting what it skips.

    ``flush()`` is called when the line goes quiet (e.g. a response timeout): a buffered
    prefix that still waits for more bytes is then given up one byte at a time, so a
    frame hidden behind a bogus header is still found.
    """

    scan: Callable[[bytes], ScanResult[F]]
    max_buffer: int = 4096
    counters: SkipCounters = field(default_factory=SkipCounters)
    _buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[F]:
        self._buffer += data
        frames = self._drain()
        if len(self._buffer) > self.max_buffer:
            frames += self.flush()
        return frames

    def flush(self) -> list[F]:
        frames = self._drain()
        while self._buffer:
            self.counters.count(Skip.GARBAGE, 1)
            del self._buffer[:1]
            frames += self._drain()
        return frames

    def clear(self) -> None:
        self._buffer.clear()

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def _drain(self) -> list[F]:
        frames: list[F] = []
        while self._buffer:
            consumed, frame, skip = self.scan(bytes(self._buffer))
            if consumed == 0:
                break
            del self._buffer[:consumed]
            if frame is not None:
                self.counters.frames += 1
                frames.append(frame)
            elif skip is not None:
                self.counters.count(skip, consumed)
        return frames
