"""Fixtures of the driver tests (their helpers are in tests/helpers/waiting.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
