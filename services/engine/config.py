"""Engine settings, read from the environment (prefix ``JIAOHAO_``)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "dev-only-change-me"
DEFAULT_PII_KEY = "dev-only-pii-key-change-me"


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
    secret_key: str = DEFAULT_SECRET
    # Keys the hashes of ID and phone numbers (个人信息只存散列).
    pii_key: str = DEFAULT_PII_KEY
    access_token_minutes: int = Field(default=12 * 60, ge=1)
    log_level: str = "info"
    # One line per request; halls with busy kiosks may turn it off.
    access_log: bool = True
    # uvicorn's WebSocket implementation (measured: no difference per idle socket)
    # ("wsproto" needs `pip install wsproto`).
    ws_impl: Literal["auto", "websockets", "websockets-sansio", "wsproto"] = "auto"
    # How long an idle HTTP connection is kept open (a kiosk between two citizens).
    http_keep_alive_seconds: int = Field(default=5, ge=1)
    # Outbox rows older than this are pruned.
    event_retention_days: int = Field(default=7, ge=1)
    event_prune_interval_seconds: float = Field(default=3600, gt=0)
    # Real-time bus (docs/bus.md): heartbeat period, per-client buffer, longest replay.
    bus_heartbeat_seconds: float = Field(default=15, gt=0)
    bus_client_buffer: int = Field(default=512, ge=1)
    bus_max_replay: int = Field(default=5000, ge=1)
    # Each hall channel re-reads the outbox head this often (a lost NOTIFY heals by then).
    bus_resync_seconds: float = Field(default=30, gt=0)
    # Hall display (综合屏): how often each call is spoken, and recorded clips replacing ours.
    voice_repeat: int = Field(default=2, ge=1, le=5)
    voice_dir: str | None = None
    public_base_url: str = "http://127.0.0.1:8000"
    # A kiosk or gateway not heard from for this long is shown offline (GET .../devices).
    device_silent_seconds: float = Field(default=90, gt=0)

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.environment != "development":
            for name, default in (("secret_key", DEFAULT_SECRET), ("pii_key", DEFAULT_PII_KEY)):
                value = getattr(self, name)
                if value == default or len(value) < 16:
                    raise ValueError(
                        f"JIAOHAO_{name.upper()} must be set to a secret of at least 16 "
                        "characters outside development"
                    )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """Settings from the process environment, read once."""
    return Settings()
