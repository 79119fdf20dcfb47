"""Debian's nginx with the shipped site (deploy/nginx/jiaohao.conf), as a test process.

The site file is used as shipped: only its ports, certificate, cache and log paths
and (shorter) client timeouts are replaced, each replacement required to match
exactly where expected, so a change to the file cannot leave the test on an old
copy. It is loaded by Debian's own /etc/nginx/nginx.conf (its user, pid, logs and
the sites-enabled include replaced), so directives that clash with Debian's fail
here as they would on the server. nginx runs without root (as ``nobody`` when the
tests run as root), in a private directory under /tmp.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tests.helpers.net import free_port
from tests.helpers.waiting import wait_until

NGINX = Path("/usr/sbin/nginx")
OPENSSL = "/usr/bin/openssl"
DEBIAN_CONF = Path("/etc/nginx/nginx.conf")
SITE = ROOT / "deploy" / "nginx" / "jiaohao.conf"
NOBODY = 65534  # nobody / nogroup on Debian


def nginx_missing() -> str | None:
    for path, package in ((NGINX, "nginx-light"), (Path(OPENSSL), "openssl")):
        if not path.exists():
            return f"{path} is missing (apt-get install {package})"
    if not DEBIAN_CONF.exists():
        return f"{DEBIAN_CONF} is missing (apt-get install nginx-light)"
    return None


def require_nginx() -> None:
    """Skip without Debian's nginx; fail instead in CI (JIAOHAO_REQUIRE_NGINX=1)."""
    reason = nginx_missing()
    if reason:
        if os.environ.get("JIAOHAO_REQUIRE_NGINX") == "1":
            pytest.fail(f"{reason} (JIAOHAO_REQUIRE_NGINX=1)")
        pytest.skip(reason)


def replace(text: str, pattern: str, new: str, *, count: int = 1, what: str) -> str:
    """``text`` with ``pattern`` (a regex) replaced; it must match exactly ``count`` times."""
    found = len(re.findall(pattern, text, flags=re.MULTILINE))
    assert found == count, f"{what}: expected {count} match(es) of {pattern!r}, found {found}"
    return re.sub(pattern, new, text, flags=re.MULTILINE)


@dataclass
class Rendering:
    """What the test changes in the shipped site file."""

    http_port: int
    https_port: int
    upstreams: tuple[int, int]
    cert: Path
    key: Path
    directory: Path
    header_timeout: int = 2
    body_timeout: int = 2


def render_site(text: str, r: Rendering) -> str:
    site = "the shipped site file"
    for shipped, port in zip((8001, 8002), r.upstreams, strict=True):
        text = replace(text, rf"^(\s+server 127\.0\.0\.1:){shipped}\b", rf"\g<1>{port}", what=site)
    text = replace(text, r"^(\s+)listen 80;", rf"\1listen 127.0.0.1:{r.http_port};", what=site)
    text = replace(
        text, r"^(\s+)listen 443 ssl;", rf"\1listen 127.0.0.1:{r.https_port} ssl;", what=site
    )
    text = replace(text, r"/etc/ssl/jiaohao/fullchain\.pem;", f"{r.cert};", what=site)
    text = replace(text, r"/etc/ssl/jiaohao/privkey\.pem;", f"{r.key};", what=site)
    text = replace(
        text,
        r"^proxy_cache_path /var/cache/nginx/jiaohao ",
        f"proxy_cache_path {r.directory / 'cache'} ",
        what=site,
    )
    text = replace(
        text,
        r"/var/log/nginx/jiaohao-access\.log ",
        f"{r.directory / 'access.log'} ",
        count=2,
        what=site,
    )
    text = replace(
        text, r"/var/log/nginx/jiaohao-error\.log ", f"{r.directory / 'error.log'} ", what=site
    )
    text = replace(
        text,
        r"client_header_timeout 10s;",
        f"client_header_timeout {r.header_timeout}s;",
        what=site,
    )
    return replace(
        text, r"client_body_timeout   10s;", f"client_body_timeout   {r.body_timeout}s;", what=site
    )


def render_main(text: str, directory: Path, site: Path) -> str:
    """Debian's nginx.conf, run from ``directory`` and serving ``site`` alone."""
    conf = str(DEBIAN_CONF)
    text = replace(text, r"^user www-data;\n", "", what=conf)
    text = replace(text, r"^pid /run/nginx\.pid;", f"pid {directory / 'nginx.pid'};", what=conf)
    text = replace(
        text,
        r"^error_log /var/log/nginx/error\.log;",
        f"error_log {directory / 'error-main.log'};",
        what=conf,
    )
    text = replace(
        text,
        r"access_log /var/log/nginx/access\.log;",
        f"access_log {directory / 'access-main.log'};",
        what=conf,
    )
    text = replace(text, r"include /etc/nginx/conf\.d/\*\.conf;", "", what=conf)
    temp = "\n".join(
        f"\t{kind}_temp_path {directory / 'tmp' / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return replace(
        text,
        r"include /etc/nginx/sites-enabled/\*;",
        f"{temp}\n\tinclude {site};",
        what=conf,
    )


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and its key), made with openssl, valid a day."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            OPENSSL,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=jiaohao test",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


_ENTRY = re.compile(
    r'^(?P<address>\S+) \[[^\]]*\] "(?P<method>\S*) (?P<path>\S*) [^"]*" (?P<status>\d+) '
    r'\S+ \S+ upstream="(?P<upstream>[^"]*)"'
)


@dataclass(frozen=True)
class Logged:
    """One request in nginx's access log."""

    address: str
    method: str
    path: str
    status: int
    upstream: str | None


class NginxProcess:
    """nginx with the shipped site in front of the given engine ports."""

    def __init__(self, upstreams: tuple[int, int], **timeouts: int) -> None:
        # Not under pytest's tmp_path: its parents are private to the test's user,
        # and nginx runs as another.
        self.directory = Path(tempfile.mkdtemp(prefix="jiaohao-nginx-"))
        (self.directory / "tmp").mkdir()
        self.cert, self.key = self_signed(self.directory)
        self.rendering = Rendering(
            http_port=free_port(),
            https_port=free_port(),
            upstreams=upstreams,
            cert=self.cert,
            key=self.key,
            directory=self.directory,
            **timeouts,
        )
        self.site = self.directory / "jiaohao.conf"
        self.site.write_text(render_site(SITE.read_text(encoding="utf-8"), self.rendering))
        self.conf = self.directory / "nginx.conf"
        self.conf.write_text(
            render_main(DEBIAN_CONF.read_text(encoding="utf-8"), self.directory, self.site)
        )
        self.process: subprocess.Popen[bytes] | None = None
        self._as_nobody = os.geteuid() == 0
        if self._as_nobody:
            for path in (self.directory, *self.directory.rglob("*")):
                os.chown(path, NOBODY, NOBODY)

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.rendering.https_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.rendering.http_port}"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))

    def _command(self, *args: str) -> list[str]:
        return [str(NGINX), "-c", str(self.conf), "-e", "stderr", *args]

    def _user(self) -> dict[str, object]:
        if not self._as_nobody:
            return {}
        return {"user": NOBODY, "group": NOBODY, "extra_groups": []}

    def check(self) -> str:
        """``nginx -t`` on the rendered configuration; its output."""
        done = subprocess.run(
            self._command("-t"),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            **self._user(),  # type: ignore[call-overload]
        )
        assert done.returncode == 0, f"nginx -t failed:\n{done.stderr}\n{self.site.read_text()}"
        return done.stderr

    def start(self) -> NginxProcess:
        self.check()
        self.process = subprocess.Popen(
            self._command("-g", "daemon off;"),
            stdout=subprocess.DEVNULL,
            stderr=(self.directory / "stderr.log").open("ab"),
            **self._user(),  # type: ignore[call-overload]
        )
        process = self.process

        def listening() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"nginx exited early:\n{self.errors()}")
            with socket.create_connection(("127.0.0.1", self.rendering.https_port), timeout=1):
                return True

        wait_until(listening, 30, "nginx to listen", log=self.errors, ignore=(OSError,))
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None
        shutil.rmtree(self.directory, ignore_errors=True)

    def access_log(self) -> list[str]:
        path = self.directory / "access.log"
        return path.read_text(errors="replace").splitlines() if path.exists() else []

    def requests(self) -> list[Logged]:
        """The access log's entries (the site's ``jiaohao`` format)."""
        entries = []
        for line in self.access_log():
            found = _ENTRY.match(line)
            assert found, f"not in the site's log format: {line!r}"
            tried = found["upstream"]
            entries.append(
                Logged(
                    address=found["address"],
                    method=found["method"],
                    path=found["path"],
                    status=int(found["status"]),
                    # The engine that answered: the last one tried; None: nginx answered.
                    upstream=None if tried == "-" else tried.split(", ")[-1],
                )
            )
        return entries

    def errors(self) -> str:
        return "".join(
            p.read_text(errors="replace")
            for p in (self.directory / "stderr.log", self.directory / "error.log")
            if p.exists()
        )
