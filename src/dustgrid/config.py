"""One settings object for the whole platform; nothing else reads the environment.

Every variable is prefixed ``DUSTGRID_`` (for example ``DUSTGRID_DATABASE_URL``).
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration, read once from the environment (and an optional ``.env``)."""

    model_config = SettingsConfigDict(env_prefix="DUSTGRID_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./var/dustgrid.db"
    var_dir: Path = Path("./var")
    secret_key: str = Field(default="", description="Signs sessions and tokens; persisted to var/")
    demo_mode: bool = Field(
        default=False, description="Allows the demo accounts (known passwords) to log in"
    )
    cookie_secure: bool = Field(default=True, description="Send cookies only over HTTPS")
    timezone: str = "Asia/Shanghai"
    default_locale: str = "zh-CN"
    token_ttl_minutes: int = 8 * 60
    session_ttl_minutes: int = 12 * 60
    login_max_failures: int = 5
    login_window_minutes: int = 15
    tile_url: str = Field(default="", description="Map tile URL template; empty = no base map")
    tile_crs: str = Field(default="gcj02", description="Datum of the tile server: wgs84 or gcj02")
    tile_attribution: str = ""
    excel_max_rows: int = 20000
    upload_max_bytes: int = 10 * 1024 * 1024
    sql_echo: bool = False

    def resolved_secret_key(self) -> str:
        """Return the signing key, creating a persistent one under ``var_dir`` if none is set."""
        if self.secret_key:
            return self.secret_key
        path = self.var_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.var_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests clear the cache to swap them)."""
    return Settings()
