"""drivers/ never imports services/ or kiosk_client/ (it must run on a kiosk PC alone)."""

from __future__ import annotations

import ast
from pathlib import Path

DRIVERS = Path(__file__).resolve().parents[2] / "drivers"


def test_drivers_import_nothing_from_services_or_the_kiosk_client() -> None:
    offenders = []
    files = list(DRIVERS.rglob("*.py"))
    assert len(files) > 20
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in ("services", "kiosk_client"):
                    offenders.append(f"{path}: {name}")
    assert offenders == []


def test_codecs_do_no_io() -> None:
    for path in (DRIVERS / "protocols").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        for banned in ("import asyncio", "import serial", "import socket", "open("):
            assert banned not in source, f"{path.name} uses {banned}"
