"""Settings read once at start-up from the environment and an optional TOML file."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from userlens.errors import ConfigError

ENV_PREFIX = "USERLENS_"


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server needs to start. Built once and passed in, never read globally."""

    data_dir: Path = Path("./userlens-data")
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = ""
    geoip_db: Path | None = None
    trust_proxy: bool = False
    max_queued_events: int = 50_000
    max_queued_mb: int = 128
    max_request_bodies_mb: int = 256
    max_batch_events: int = 10_000
    duckdb_memory_limit: str = "512MB"
    duckdb_threads: int = 2
    log_level: str = "info"
    retention_interval_s: int = 3600
    compaction_interval_s: int = 300
    compact_after_s: int = 2400
    backup_dir: Path | None = None
    backup_interval_s: int = 0
    backup_keep: int = 7
    min_free_disk_mb: int = 1024

    @property
    def events_db_path(self) -> Path:
        return self.data_dir / "events.duckdb"

    @property
    def blobs_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def wal_dir(self) -> Path:
        return self.data_dir / "wal"

    @property
    def backups_dir(self) -> Path:
        return self.backup_dir if self.backup_dir is not None else self.data_dir / "backups"

    @property
    def metadata_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'metadata.sqlite3').resolve()}"


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_LOG_LEVELS = {"critical", "error", "warning", "info", "debug", "trace"}


def _convert(name: str, raw: Any) -> Any:
    default = _FIELDS[name].default
    key = ENV_PREFIX + name.upper()
    try:
        if name in {"data_dir"}:
            return Path(str(raw)).expanduser()
        if name in {"geoip_db", "backup_dir"}:
            return Path(str(raw)).expanduser() if str(raw) else None
        if isinstance(default, bool):
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(f"expected true or false, got {raw!r}")
        if isinstance(default, int):
            if isinstance(raw, bool):
                raise ValueError("expected a whole number")
            return int(str(raw).strip())
        if not isinstance(raw, str):
            raise ValueError(f"expected text, got {raw!r}")
        return raw.strip().lower() if name == "log_level" else raw
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from exc


# Whole-number settings and their smallest allowed value.
_AT_LEAST = {
    "max_queued_mb": 1,
    "max_request_bodies_mb": 1,
    "retention_interval_s": 1,
    "compaction_interval_s": 1,
    "compact_after_s": 0,
    "backup_interval_s": 0,
    "backup_keep": 1,
    "min_free_disk_mb": 0,
    "duckdb_threads": 1,
}


def _validate(settings: Settings) -> Settings:
    if not 0 < settings.port < 65536:
        raise ConfigError(f"USERLENS_PORT: {settings.port} is not a TCP port (1-65535)")
    if not settings.host.strip():
        raise ConfigError("USERLENS_HOST: must not be empty")
    if settings.max_queued_events < settings.max_batch_events or settings.max_batch_events < 1:
        raise ConfigError(
            "USERLENS_MAX_QUEUED_EVENTS must be at least USERLENS_MAX_BATCH_EVENTS (>= 1)"
        )
    for name, least in _AT_LEAST.items():
        if getattr(settings, name) < least:
            raise ConfigError(f"{ENV_PREFIX}{name.upper()}: must be at least {least}")
    if settings.log_level not in _LOG_LEVELS:
        raise ConfigError(f"USERLENS_LOG_LEVEL: one of {', '.join(sorted(_LOG_LEVELS))}")
    if settings.geoip_db is not None and not settings.geoip_db.is_file():
        raise ConfigError(f"USERLENS_GEOIP_DB: no such file: {settings.geoip_db}")
    if settings.data_dir.exists() and not settings.data_dir.is_dir():
        raise ConfigError(f"USERLENS_DATA_DIR: {settings.data_dir} exists and is not a directory")
    backups = settings.backup_dir
    if backups is not None and backups.exists() and not backups.is_dir():
        raise ConfigError(f"USERLENS_BACKUP_DIR: {backups} exists and is not a directory")
    return settings


def load_settings(
    env: Mapping[str, str] | None = None,
    config_file: Path | None = None,
    **overrides: Any,
) -> Settings:
    """Settings from, in rising priority: defaults, a TOML file, the environment, overrides.

    The TOML file is `config_file`, else `USERLENS_CONFIG` if set. Its keys are the setting
    names in lower case (`data_dir = "/var/lib/userlens"`).
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    path = config_file or (
        Path(env[ENV_PREFIX + "CONFIG"]) if env.get(ENV_PREFIX + "CONFIG") else None
    )
    if path is not None:
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"USERLENS_CONFIG: cannot read {path}: {exc.strerror}") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"USERLENS_CONFIG: {path} is not valid TOML: {exc}") from exc
        for name, raw in table.items():
            if name not in _FIELDS:
                raise ConfigError(f"{path}: unknown setting {name!r}")
            values[name] = _convert(name, raw)
    for name in _FIELDS:
        raw_env = env.get(ENV_PREFIX + name.upper())
        if raw_env is not None:
            values[name] = _convert(name, raw_env)
    for name, raw in overrides.items():
        if raw is not None:
            values[name] = _convert(name, raw)
    return _validate(Settings(**values))
