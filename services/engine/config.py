"""Engine settings, read from the environment (prefix ``JIAOHAO_``)."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The keys every engine needs; none has a default (a public default would let anyone
# forge a manager's token and recover a phone number from its hash).
KEYS = ("secret_key", "pii_key")
MIN_KEY_LENGTH = 16


class Settings(BaseSettings):
    """Everything the engine reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="JIAOHAO_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///var/jiaohao.db"
    database_pool_size: int = Field(default=10, ge=1)
    # Seconds a request waits for a free connection before giving up.
    database_pool_timeout: float = Field(default=30.0, gt=0)
    database_echo: bool = False
    # Signs staff access tokens (JWT, HS256).
    secret_key: str = ""
    # Keys the hashes of ID and phone numbers (个人信息只存散列).
    pii_key: str = ""
    # Where `jiaohao keys` keeps the two keys (files secret_key and pii_key, mode 0600),
    # read when JIAOHAO_SECRET_KEY / JIAOHAO_PII_KEY are not set (`make run` makes them).
    key_dir: str = "var"
    access_token_minutes: int = Field(default=12 * 60, ge=1)
    log_level: str = "info"
    # "json": one JSON object per line (request id, route, client address, caller kind
    # and id; never a token, password, ID or phone number: services/engine/logs.py).
    log_format: Literal["text", "json"] = "text"
    # A bearer token Prometheus sends to read /metrics; unset: /metrics answers only
    # to clients on this machine (services/engine/metrics.py).
    metrics_token: str | None = None
    # One line per request; halls with busy kiosks may turn it off.
    access_log: bool = True
    # uvicorn's WebSocket implementation (measured: no difference per idle socket)
    # ("wsproto" needs `pip install wsproto`).
    ws_impl: Literal["auto", "websockets", "websockets-sansio", "wsproto"] = "auto"
    # How long an idle HTTP connection is kept open (a kiosk between two citizens).
    http_keep_alive_seconds: int = Field(default=5, ge=1)
    # Connections and requests one process serves at once (screens' sockets count too);
    # past it uvicorn answers 503. Slow clients are the reverse proxy's (docs/limits.md).
    http_max_connections: int = Field(default=10_000, ge=1)
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto the engine believes (uvicorn's
    # forwarded_allow_ips: addresses or networks, comma-separated): the client address of the
    # login throttle and the logs. Anyone else's forwarded headers are ignored.
    forwarded_allow_ips: str = "127.0.0.1,::1"
    # Request bodies (and WebSocket messages) above this are refused (413) unread.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Failed logins in a window before further logins are refused (429): per username,
    # per client address; counted in each engine process (auth/throttle.py).
    login_failures_per_user: int = Field(default=20, ge=1)
    login_failures_per_address: int = Field(default=100, ge=1)
    login_window_seconds: float = Field(default=60, gt=0)
    # Password checks (Argon2: ~0.1 s and 64 MiB each) run at once, off the event loop.
    login_hash_threads: int = Field(default=2, ge=1)
    # Outbox rows older than this are pruned.
    event_retention_days: int = Field(default=7, ge=1)
    event_prune_interval_seconds: float = Field(default=3600, gt=0)
    # Real-time bus (docs/bus.md): heartbeat period, per-client buffer, longest replay.
    bus_heartbeat_seconds: float = Field(default=15, gt=0)
    bus_client_buffer: int = Field(default=512, ge=1)
    bus_max_replay: int = Field(default=5000, ge=1)
    # Each hall channel re-reads the outbox head this often (a lost NOTIFY heals by then).
    bus_resync_seconds: float = Field(default=30, gt=0)
    # Open sockets' callers are read again this often while no access announcement can be
    # heard (SQLite; PostgreSQL with the listener down): a revoked caller is cut off (4401).
    bus_access_recheck_seconds: float = Field(default=1, gt=0)
    # Hall display (综合屏): how often each call is spoken, and recorded clips replacing ours.
    voice_repeat: int = Field(default=2, ge=1, le=5)
    voice_dir: str | None = None
    # Where citizens' phones reach the engine (the ticket's QR code, status_url); unset:
    # the address each request came in on (the kiosk's engine address).
    public_base_url: str | None = None
    # A kiosk or gateway not heard from for this long is shown offline (GET .../devices).
    device_silent_seconds: float = Field(default=90, gt=0)
    # How often each engine runs the alert rules of its halls (0: never; docs/manage.md).
    alert_check_seconds: float = Field(default=5, ge=0)
    # How often each engine runs the hall's housekeeping (flows/housekeeping.py): booking
    # no-shows, held tickets at midnight, bad-review deadlines (0: never; docs/operations.md).
    housekeeping_seconds: float = Field(default=60, ge=0)

    @model_validator(mode="after")
    def _keys(self) -> Settings:
        """Each key from the environment, else from its file in key_dir; never a default."""
        for name in KEYS:
            value: str = getattr(self, name)
            path = Path(self.key_dir) / name
            if not value and path.is_file():
                value = path.read_text(encoding="utf-8").strip()
                setattr(self, name, value)
            if len(value) < MIN_KEY_LENGTH:
                raise ValueError(
                    f"JIAOHAO_{name.upper()} must be set to a secret of at least "
                    f"{MIN_KEY_LENGTH} characters, or kept in {path} "
                    "(`jiaohao keys` writes random ones there; `make run` does it)"
                )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def ensure_keys(key_dir: str | Path) -> dict[str, bool]:
    """Write a random key into each missing key file of ``key_dir`` (mode 0600, once);
    a key already there is kept, its file made private. Returns {key: written now}."""
    folder = Path(key_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, bool] = {}
    for name in KEYS:
        path = folder / name
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            path.chmod(0o600)
            written[name] = False
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
        written[name] = True
    return written


@lru_cache
def get_settings() -> Settings:
    """Settings from the process environment, read once."""
    return Settings()
