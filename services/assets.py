"""Third-party front-end files, fetched from the npm registry at install time.

Halls run on closed government networks: pages never load anything from a CDN. The
few files from other projects the pages use are downloaded once by the project's own
install step (``make`` runs ``jiaohao assets``; an installer runs it after
``pip install``), checked against the integrity the registry published for the pinned
version, and served by the engine from ``services/engine/static/vendor/``. Nothing of
theirs is committed here. Written by hand because it is one tarball read and one hash
check: no Node.js needed on a hall's PC.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

VENDOR_DIR = Path(__file__).resolve().parent / "engine" / "static" / "vendor"
DEFAULT_REGISTRY = "https://registry.npmjs.org"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    # The registry's dist.integrity for this version (Subresource Integrity form).
    integrity: str
    # Files taken from the tarball: path inside it -> name served under /assets/vendor/.
    files: tuple[tuple[str, str], ...]


PACKAGES = (
    # Apache ECharts (Apache-2.0): the statistics pages' charts (docs/statistics.md).
    Package(
        "echarts",
        "5.6.0",
        "sha512-oTbVTsXfKuEhxftHqL5xprgLoc0k7uScAwtryCgWF6hPYFLRwOUHiFmHGCBKP5NPFNkDVopOieyUqYGH8Fa3kA==",
        (
            ("package/dist/echarts.min.js", "echarts.min.js"),
            ("package/LICENSE", "echarts.LICENSE.txt"),
            ("package/NOTICE", "echarts.NOTICE.txt"),
        ),
    ),
)


class AssetError(RuntimeError):
    pass


def registry_url() -> str:
    return (
        os.environ.get("JIAOHAO_NPM_REGISTRY")
        or os.environ.get("NPM_CONFIG_REGISTRY")
        or DEFAULT_REGISTRY
    ).rstrip("/")


def tarball_url(registry: str, package: Package) -> str:
    bare = package.name.split("/")[-1]
    return f"{registry}/{package.name}/-/{bare}-{package.version}.tgz"


def check_integrity(data: bytes, integrity: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    if algorithm not in ("sha512", "sha384", "sha256"):
        raise AssetError(f"unknown integrity algorithm {algorithm!r}")
    digest = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if digest != expected:
        raise AssetError("the downloaded tarball does not match its published integrity")


def installed(folder: Path = VENDOR_DIR) -> dict[str, str]:
    """What is installed: package name -> version (from the manifest)."""
    try:
        data: dict[str, str] = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data


def fetch(
    folder: Path = VENDOR_DIR, registry: str | None = None, *, timeout: float = 60.0
) -> list[str]:
    """Install every pinned package not already there; the names installed now."""
    registry = registry or registry_url()
    have = installed(folder)
    done: list[str] = []
    folder.mkdir(parents=True, exist_ok=True)
    for package in PACKAGES:
        if have.get(package.name) == package.version and all(
            (folder / served).is_file() for _, served in package.files
        ):
            continue
        url = tarball_url(registry, package)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                data = response.read()
        except OSError as err:
            raise AssetError(f"cannot download {url}: {err}") from err
        check_integrity(data, package.integrity)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for inside, served in package.files:
                member = tar.extractfile(inside)
                if member is None:
                    raise AssetError(f"{package.name}@{package.version} has no {inside}")
                (folder / served).write_bytes(member.read())
        have[package.name] = package.version
        done.append(f"{package.name}@{package.version}")
    (folder / MANIFEST).write_text(json.dumps(have, indent=2) + "\n", encoding="utf-8")
    return done


def served_files(folder: Path = VENDOR_DIR) -> frozenset[str]:
    """The file names the engine serves under /assets/vendor/."""
    wanted = {served for package in PACKAGES for _, served in package.files}
    return frozenset(name for name in wanted if (folder / name).is_file())
