"""CRC-16/MODBUS: reflected polynomial 0xA001, initial value 0xFFFF, sent low byte first."""

from __future__ import annotations


def _table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _table()


def crc16_modbus(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc


def crc16_modbus_bytes(data: bytes) -> bytes:
    """The two CRC bytes as they go on the wire (low byte first)."""
    return crc16_modbus(data).to_bytes(2, "little")
