"""Loopback ports and URLs."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on at the moment."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def local_path(url: str) -> str:
    """The path and query of an absolute URL, as a client of the same server asks for it."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"
