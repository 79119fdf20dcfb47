"""The self-service kiosk (自助取号机): a local touch page, the ticket printer, the engine link.

Run as ``jiaohao-kiosk --engine URL --token TOKEN --printer URL`` (see docs/kiosk.md).
"""
