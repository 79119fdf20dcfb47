"""Hardware drivers for jiaohao (叫号): printers, keypads, LED window boards, evaluation pads.

Three layers, none of which imports ``services`` or ``kiosk_client``:

- :mod:`drivers.transport`: bytes in and out of a port (serial, TCP, USB printer file, fake).
- :mod:`drivers.protocols`: pure codecs, bytes to frames and back, no I/O.
- :mod:`drivers.devices`: async device APIs with retries, timeouts, locks and health.

:mod:`drivers.simulators` speaks the same protocols on pseudo-terminals for tests and demos.
"""
