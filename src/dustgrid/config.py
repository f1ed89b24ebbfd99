"""One settings object for the whole platform; nothing else reads the environment.

Every variable is prefixed ``DUSTGRID_`` (for example ``DUSTGRID_DATABASE_URL``).
"""

from __future__ import annotations

import os
import secrets
from datetime import date
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from dustgrid.data import PRSA_URBAN


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
    # --- sessions and login (dustgrid.auth; docs/security.md "Sessions and login") --------
    token_ttl_minutes: int = Field(
        default=8 * 60, description="Lifetime of an API bearer token (and its session row)"
    )
    session_ttl_minutes: int = Field(
        default=12 * 60,
        description="Lifetime of a page session from login; not extended by activity",
    )
    logout_ends_all_sessions: bool = Field(
        default=True,
        description="Logging out ends every session and token of the account, not only this one",
    )
    login_window_minutes: int = Field(
        default=60, description="Failed logins older than this no longer slow further tries"
    )
    login_free_failures_account: int = Field(
        default=5, description="Failures per username (since its last success) without delay"
    )
    login_free_failures_ip: int = Field(
        default=10, description="Failures per client address without delay"
    )
    login_backoff_base_s: float = Field(
        default=2.0, description="Delay after the first failure beyond the free ones; doubles"
    )
    login_backoff_max_account_s: float = Field(
        default=300.0,
        description="Longest wait per username (kept short: others' failures cause it)",
    )
    login_backoff_max_ip_s: float = Field(
        default=900.0, description="Longest wait per client address"
    )
    login_attempt_retention_days: int = Field(
        default=90, description="Login attempts older than this are purged at login"
    )
    password_min_length: int = Field(
        default=10, ge=8, description="Shortest password accepted for real accounts"
    )
    tile_url: str = Field(default="", description="Map tile URL template; empty = no base map")
    tile_crs: str = Field(default="gcj02", description="Datum of the tile server: wgs84 or gcj02")
    tile_attribution: str = ""
    vector_basemap: str = Field(
        default="demo",
        description="Vector layers drawn under the sites when no tile server is set: "
        "'demo' = the demo city's roads and rivers, a path = a GeoJSON file, empty = none",
    )
    excel_max_rows: int = 20000
    upload_max_bytes: int = 10 * 1024 * 1024
    # An .xlsx is a zip archive: limits on what an upload may expand to, checked before
    # parsing (xlsx.check_archive). A full 20,000-row ledger is about 21 MB unpacked, 14:1.
    excel_max_entries: int = Field(default=500, description="Most parts (zip entries) in an .xlsx")
    excel_max_entry_bytes: int = Field(
        default=64 * 1024 * 1024, description="Largest uncompressed part of an uploaded .xlsx"
    )
    excel_max_uncompressed_bytes: int = Field(
        default=128 * 1024 * 1024, description="Largest total uncompressed size of an .xlsx"
    )
    excel_max_compression_ratio: int = Field(
        default=100, description="Highest uncompressed:compressed ratio of an uploaded .xlsx"
    )
    sql_echo: bool = False
    # --- HTTP edge (app.py, http_edge.py) ----------------------------------------------
    api_docs_enabled: bool | None = Field(
        default=None,
        description="Serve /docs and /openapi.json; None = only in demo mode (off in production)",
    )
    body_max_login_bytes: int = Field(
        default=16 * 1024, ge=1, description="Largest body of the login and token forms"
    )
    body_max_default_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1,
        description="Largest body of JSON API routes, Open311 and page forms "
        "(room for a district boundary GeoJSON)",
    )
    body_max_telemetry_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1,
        description="Largest POST /api/v1/telemetry batch (telemetry_http_max_items readings)",
    )
    body_max_upload_bytes: int | None = Field(
        default=None,
        ge=1,
        description="Largest body of routes taking files; None = attachment_max_bytes × "
        "attachment_max_files (or upload_max_bytes if larger) + body_form_overhead_bytes",
    )
    body_form_overhead_bytes: int = Field(
        default=256 * 1024, ge=0, description="Room for multipart headers and form fields"
    )
    # --- cases, notifications and jobs (cases/, notifications/, jobs/)
    attachment_max_bytes: int = Field(
        default=10 * 1024 * 1024, description="Largest photo or document of a case"
    )
    attachment_max_files: int = 20
    case_extra_holidays: list[date] = Field(
        default_factory=list, description="Local non-working days on top of the national table"
    )
    case_extra_makeup_workdays: list[date] = Field(
        default_factory=list, description="Local make-up workdays (调休) on top of the table"
    )
    case_ladder_window_days: int | None = Field(
        default=None, description="Penalty ladder window; None keeps the policy's 365 days"
    )
    case_blacklist_threshold: int | None = Field(
        default=None, description="Bad records that blacklist an enterprise; None keeps 3"
    )
    look_back_rate: float = Field(default=0.1, description="Share of closed cases looked back")
    look_back_after_days: int = 30
    notify_webhook_url: str = Field(default="", description="Outbound webhook; empty = off")
    notify_webhook_secret: str = Field(default="", description="HMAC-SHA256 key for the webhook")
    notify_webhook_timeout_s: float = 5.0
    # City Brain (issue 14): every verdict on a pushed suspect is POSTed here, signed with
    # HMAC-SHA256 of the body (header X-DustGrid-Signature); empty URL = off.
    citybrain_webhook_url: str = Field(default="", description="City Brain verdict webhook")
    citybrain_webhook_secret: str = Field(default="", description="HMAC-SHA256 key for it")
    jobs_max_attempts: int = 8
    jobs_backoff_s: float = Field(default=30.0, description="First retry delay, doubled each time")
    jobs_poll_s: float = 15.0
    workers_in_process: bool = Field(
        default=True, description="`serve` also runs the sweeps and outbox delivery"
    )

    # --- serving: processes, threads, back-pressure (serving.py, admission.py) -----------
    web_workers: int | None = Field(
        default=None, ge=1, description="Web processes of `dustgrid serve`; None = CPU cores"
    )
    web_threads: int = Field(
        default=12,
        ge=1,
        description="Requests one web process serves at once (its request threads); the "
        "database pool follows it",
    )
    web_queue_max: int = Field(
        default=48, ge=0, description="Requests that may wait for a thread, per process"
    )
    web_queue_wait_s: float = Field(
        default=0.8,
        ge=0,
        description="Longest wait for a thread; then 503 with Retry-After (never a long queue)",
    )
    web_busy_retry_after_s: int = Field(
        default=2, ge=1, description="Retry-After of a 503 answered because the server is busy"
    )
    db_pool_extra: int = Field(
        default=4,
        ge=0,
        description="Connections per process beyond web_threads (background loops, streaming)",
    )
    db_pool_timeout_s: float = Field(
        default=3.0,
        gt=0,
        description="Longest wait for a database connection; then 503 (not 30 s and 500)",
    )
    shutdown_grace_s: float = Field(
        default=5.0, gt=0, description="SIGTERM: time in-flight requests get to finish"
    )
    web_worker_healthcheck_s: float = Field(
        default=60.0,
        gt=0,
        description="A web process that does not answer the supervisor's health check for "
        "this long (starting up included) is restarted",
    )

    # --- HJ 212-2017 TCP ingest (dustgrid.ingest.hj212.server) ---------------------------
    hj212_enabled: bool = Field(default=True, description="`serve` also runs the HJ 212 listener")
    hj212_host: str = Field(
        default="127.0.0.1", description="HJ 212 bind address (0.0.0.0 for field devices)"
    )
    hj212_port: int = 9212
    hj212_idle_timeout_s: float = Field(
        default=300.0, description="Close a connection that sends nothing for this long"
    )
    hj212_max_buffer: int = Field(
        default=16384, description="Bytes buffered per connection while a frame is incomplete"
    )
    hj212_max_connections: int = 10000
    hj212_max_inflight: int = Field(
        default=256, description="Frames of one connection waiting for their write and reply"
    )
    hj212_batch_max: int = Field(default=2000, description="Writer flushes at this many rows…")
    hj212_batch_ms: int = Field(default=20, description="…or this long after the first one")
    hj212_writers: int = Field(
        default=2,
        description="Batches written at once, each in its own transaction and connection "
        "(PostgreSQL; SQLite always 1)",
    )
    hj212_sqlite_synchronous: str = Field(
        default="FULL",
        description="SQLite synchronous pragma of the ingest writer (FULL: an "
        "acknowledged frame survives power loss; NORMAL survives only a process crash)",
    )
    hj212_device_cache_s: float = Field(default=30.0, description="Device lookup cache TTL")
    hj212_split_timeout_s: float = Field(
        default=60.0, description="Drop a split packet (PNUM/PNO) still incomplete after this"
    )
    hj212_backfill_after_minutes: int = Field(
        default=10, description="Ask a reconnecting device for history after this much silence"
    )
    hj212_backfill_max_hours: int = Field(default=24, description="Longest history asked for")
    hj212_backfill_timeout_s: float = Field(
        default=600.0, description="A history request unanswered this long may be sent again"
    )
    hj212_time_drift_s: int = Field(
        default=0,
        description="Ask device clocks (1011) and set them (1012) when off by more "
        "than this many seconds; 0 disables the check",
    )
    hj212_quarantine_every_s: float = Field(
        default=10.0, description="Record a rejected MN at most this often (per MN and reason)"
    )
    hj212_stats_every_s: float = Field(default=60.0, description="Log ingest counters this often")
    hj212_log_every_s: float = Field(
        default=60.0,
        ge=0,
        description="Log a rejected or bad frame at most once per peer and reason this often; "
        "the others are counted in the stats line (log_suppressed); 0 logs every one",
    )
    simulator_background_csv: Path = Field(
        default=PRSA_URBAN,
        description="Hourly PM2.5/PM10 history (PRSA CSV) the simulator uses as background",
    )

    # --- telemetry: roll-ups, HTTP and MQTT ingest (dustgrid.telemetry, ingest.http/mqtt) ---
    telemetry_expected_per_period: dict[str, int] = Field(
        default_factory=lambda: {"15m": 15, "1h": 60, "1d": 1440},
        description="Readings a device owes per roll-up period (valid-data rate denominator)",
    )
    telemetry_rollup_interval_s: float = Field(
        default=60.0, description="The roll-up worker refreshes dirty windows this often"
    )
    telemetry_http_max_items: int = Field(
        default=5000, description="Most readings in one POST /api/v1/telemetry"
    )
    telemetry_future_tolerance_s: int = Field(
        default=600, description="Readings dated further ahead than this are refused"
    )
    telemetry_max_age_days: int = Field(
        default=30,
        ge=1,
        description="Readings dated further back than this are answered but not stored as valid",
    )
    mqtt_enabled: bool = Field(default=False, description="`serve` also runs the MQTT subscriber")
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_username: str = ""
    mqtt_password: str = ""
    mqtt_client_id: str = Field(
        default="dustgrid-ingest",
        description="Fixed id of the persistent session (messages queued while down)",
    )
    mqtt_topic_prefix: str = "dustgrid/v1"
    mqtt_keepalive_s: int = 30
    mqtt_trust_broker_acl: bool = Field(
        default=False,
        description="JSON payloads need no per-device key: the broker's ACL already "
        "restricts each device to its own topic",
    )
    mqtt_max_attempts: int = Field(
        default=10,
        ge=1,
        description="A message whose storing failed this many times in a row (while the "
        "database still accepts a dead letter) is dead-lettered and acknowledged",
    )
    ingest_dead_letter_max_bytes: int = Field(
        default=16384,
        ge=256,
        description="Payload bytes kept in one ingest dead-letter record (the rest is cut)",
    )
    ingest_dead_letter_merge_s: int = Field(
        default=600,
        ge=0,
        description="The same refusal again within this many seconds counts on the same "
        "dead-letter record (0: one record per message)",
    )
    ingest_dead_letter_retention_days: int = Field(
        default=30, ge=1, description="Dead letters not seen for this many days are deleted"
    )
    # --- patrol plans (dustgrid.patrols) ---
    patrol_distance_matrix: Path | None = Field(
        default=None,
        description="CSV of road distances (from,to,metres by site id; 0 = start point) for "
        "patrol routes; empty = straight lines",
    )
    patrol_start_points: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description='Route start per grid code, WGS-84 {"E-HP": [41.79, 123.40]} (the '
        "station); a grid without one starts at its day's first site",
    )

    def resolved_secret_key(self) -> str:
        """The signing key of sessions and tokens: ``secret_key``, else the key file under
        ``var_dir``, written by the first process that needs it and read by every other.

        It reads the disk: ``create_app`` calls it once and hands the key on
        (``app.state.secret_key``); nothing calls it per request."""
        if self.secret_key:
            return self.secret_key
        path = self.var_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.var_dir.mkdir(parents=True, exist_ok=True)
        # Several web processes start at once: write a private file, then link it into
        # place; os.link fails if another process won, and then everyone reads its key.
        draft = path.with_name(f".secret_key.{os.getpid()}")
        draft.write_text(secrets.token_urlsafe(48))
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink(missing_ok=True)
        return path.read_text().strip()

    def web_processes(self) -> int:
        """How many web processes `dustgrid serve` runs by default: one per core."""
        return self.web_workers or os.cpu_count() or 1

    def map_crs(self) -> str:
        """The datum the map is drawn in: the tile server's, or WGS-84 without tiles."""
        return self.tile_crs if self.tile_url else "wgs84"

    def api_docs(self) -> bool:
        """Whether ``/docs`` and ``/openapi.json`` are served (default: only in demo mode)."""
        return self.demo_mode if self.api_docs_enabled is None else self.api_docs_enabled


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests clear the cache to swap them)."""
    return Settings()
