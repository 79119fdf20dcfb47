"""A pseudo-terminal for a simulated device: the driver opens ``path``, we use the master.

``link`` (optional) is a symlink kept pointing at the current pty, like a udev
/dev/serial/by-id name, so a driver finds the device again after it is "plugged back"
(a new pty gets a new /dev/pts number).
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import tty


class PtyPort:
    def __init__(self, link: str | None = None) -> None:
        self.link = link
        self._master: int | None = None
        self._slave: int | None = None
        self.pty_path: str | None = None
        # Held while an fd is used, so close() in another thread cannot free the number
        # for reuse by an unrelated file between our select() and read().
        self._lock = threading.Lock()

    @property
    def path(self) -> str:
        """What the driver should open."""
        if self.link:
            return self.link
        if self.pty_path is None:
            raise RuntimeError("pty not open")
        return self.pty_path

    @property
    def is_open(self) -> bool:
        return self._master is not None

    def open(self) -> None:
        if self._master is not None:
            return
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line editing, no CR/LF translation
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.pty_path = os.ttyname(slave)
        if self.link:
            link_dir = os.path.dirname(os.path.abspath(self.link))
            os.makedirs(link_dir, exist_ok=True)
            if os.path.exists(self.link) and not os.path.islink(self.link):
                raise FileExistsError(f"{self.link} exists and is not a symlink; not replacing it")
            tmp = f"{self.link}.{os.getpid()}.tmp"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            os.symlink(self.pty_path, tmp)
            os.replace(tmp, self.link)

    def close(self, remove_link: bool = False) -> None:
        """Close the pty: the driver's reads and writes now fail, as on an unplugged adapter."""
        with self._lock:
            for fd in (self._master, self._slave):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._master = self._slave = None
        if remove_link and self.link and os.path.islink(self.link):
            with contextlib.suppress(OSError):
                os.unlink(self.link)

    def fileno(self) -> int:
        if self._master is None:
            raise RuntimeError("pty not open")
        return self._master

    def read(self, timeout: float) -> bytes:
        with self._lock:
            return self._read(timeout)

    def _read(self, timeout: float) -> bytes:
        master = self._master
        if master is None:
            return b""
        try:
            readable, _, _ = select.select([master], [], [], timeout)
            if not readable:
                return b""
            return os.read(master, 4096)
        except (BlockingIOError, InterruptedError):
            return b""
        except (OSError, ValueError):
            return b""  # closed under us by unplug()

    def write(self, data: bytes, timeout: float = 1.0) -> None:
        with self._lock:
            self._write(data, timeout)

    def _write(self, data: bytes, timeout: float) -> None:
        view = memoryview(data)
        while view:
            master = self._master
            if master is None:
                return
            try:
                _, writable, _ = select.select([], [master], [], timeout)
                if not writable:
                    return  # nobody reads the other end; a real line would drop it too
                view = view[os.write(master, view) :]
            except BlockingIOError:
                continue
            except (OSError, ValueError):
                return
