"""The gateway's devices as the engine's health report lists them. Pure."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from drivers.config import BusConfig, DeviceKind
from drivers.health import DeviceHealth


def device_key(kind: str, window: int) -> str:
    """ "led:3", "keypad:3", "evaluator:3": one of each per window in a gateway."""
    return f"{kind}:{window}"


def _entry(key: str, kind: str, window: int | None, health: DeviceHealth) -> dict[str, Any]:
    return {
        "key": key,
        "kind": kind,
        "window": window,
        "status": health.state.value,
        "reason": (health.reason or None) if not health.online else None,
        "last_seen": health.last_seen.isoformat() if health.last_seen else None,
    }


def bus_entries(
    config: BusConfig,
    port: DeviceHealth,
    devices: Mapping[str, DeviceHealth],
    placed: Callable[[DeviceKind, int], int] | None = None,
) -> list[dict[str, Any]]:
    """The bus (its adapter) and every device on it, from the drivers' health.

    A device keeps the key its file's window gives it ("keypad:3"); ``window`` is the
    window it serves now (``placed``: a keypad or pad moved on the devices page).
    """
    name = re.sub(r"[^A-Za-z0-9_.@/-]", "_", config.name)[:60]
    entries = [_entry(f"bus:{name}", "bus", None, port)]
    for dev in config.devices:
        health = devices.get(f"{config.name}/{dev.device_id}")
        if health is None:
            continue
        window = placed(dev.kind, dev.window) if placed is not None else dev.window
        entries.append(
            _entry(device_key(dev.kind.value, dev.window), dev.kind.value, window, health)
        )
    return entries
