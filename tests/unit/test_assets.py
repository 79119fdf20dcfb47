"""`jiaohao assets`: the pages' third-party files, from an npm registry, checked against
their published integrity (a registry on loopback here: no traffic leaves the machine)."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from services import assets
from services.assets import AssetError, Package


def tarball(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


@pytest.fixture
def registry() -> Iterator[tuple[str, dict[str, bytes], list[str]]]:
    """A registry on 127.0.0.1 serving the tarballs put in its dict; it logs each path."""
    served: dict[str, bytes] = {}
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            data = served.get(self.path)
            self.send_response(200 if data is not None else 404)
            self.end_headers()
            self.wfile.write(data or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", served, asked
    finally:
        server.shutdown()


def test_fetch_checks_and_installs_once(
    registry: tuple[str, dict[str, bytes], list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, served, asked = registry
    data = tarball({"package/dist/lib.min.js": b"window.lib = 1;", "package/LICENSE": b"MIT"})
    served["/lib/-/lib-1.2.3.tgz"] = data
    package = Package(
        "lib",
        "1.2.3",
        integrity(data),
        (("package/dist/lib.min.js", "lib.min.js"), ("package/LICENSE", "lib.LICENSE.txt")),
    )
    monkeypatch.setattr(assets, "PACKAGES", (package,))
    assert assets.fetch(tmp_path, url) == ["lib@1.2.3"]
    assert (tmp_path / "lib.min.js").read_bytes() == b"window.lib = 1;"
    assert assets.installed(tmp_path) == {"lib": "1.2.3"}
    assert assets.served_files(tmp_path) == {"lib.min.js", "lib.LICENSE.txt"}
    # Installed already: nothing is downloaded again.
    assert assets.fetch(tmp_path, url) == [] and len(asked) == 1


def test_a_tarball_that_does_not_match_is_refused(
    registry: tuple[str, dict[str, bytes], list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, served, _ = registry
    served["/lib/-/lib-1.0.0.tgz"] = tarball({"package/x.js": b"evil"})
    good = integrity(tarball({"package/x.js": b"good"}))
    monkeypatch.setattr(
        assets, "PACKAGES", (Package("lib", "1.0.0", good, (("package/x.js", "x.js"),)),)
    )
    with pytest.raises(AssetError, match="integrity"):
        assets.fetch(tmp_path, url)
    assert not (tmp_path / "x.js").exists()
    with pytest.raises(AssetError, match="cannot download"):
        monkeypatch.setattr(
            assets, "PACKAGES", (Package("gone", "1.0.0", good, (("package/x.js", "x.js"),)),)
        )
        assets.fetch(tmp_path, url)


def test_the_pinned_chart_library_is_the_one_installed() -> None:
    """make installs what PACKAGES pins (the statistics pages need ECharts)."""
    (echarts,) = [p for p in assets.PACKAGES if p.name == "echarts"]
    assert echarts.integrity.startswith("sha512-")
    assert assets.installed().get("echarts") == echarts.version
