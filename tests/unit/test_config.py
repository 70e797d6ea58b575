"""Settings: defaults, the environment, a TOML file, and errors that name the setting."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from userlens.config import Settings, load_settings
from userlens.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_environment_or_file() -> None:
    settings = load_settings(env={})
    assert settings == Settings()
    for field in dataclasses.fields(Settings):
        assert getattr(settings, field.name) == field.default, field.name
    assert settings.events_db_path == settings.data_dir / "events.duckdb"
    assert settings.metadata_url.startswith("sqlite:///")
    assert settings.metadata_url.endswith(str((settings.data_dir / "metadata.sqlite3").resolve()))


def test_environment_overrides_every_kind_of_setting(tmp_path: Path) -> None:
    geoip = write(tmp_path / "city.mmdb", "not really a database")
    env = {
        "USERLENS_DATA_DIR": str(tmp_path / "data"),
        "USERLENS_HOST": "192.0.2.10",
        "USERLENS_PORT": " 9123 ",
        "USERLENS_DATABASE_URL": "postgresql://db.internal/userlens",
        "USERLENS_GEOIP_DB": str(geoip),
        "USERLENS_TRUST_PROXY": "yes",
        "USERLENS_MAX_QUEUED_EVENTS": "5000",
        "USERLENS_MAX_BATCH_EVENTS": "500",
        "USERLENS_DUCKDB_MEMORY_LIMIT": "256MB",
        "USERLENS_DUCKDB_THREADS": "3",
        "USERLENS_LOG_LEVEL": "debug",
        "UNRELATED": "ignored",
    }
    settings = load_settings(env=env)
    assert settings.data_dir == tmp_path / "data"
    assert settings.host == "192.0.2.10"
    assert settings.port == 9123
    assert settings.database_url == "postgresql://db.internal/userlens"
    assert settings.metadata_url == "postgresql://db.internal/userlens"
    assert settings.geoip_db == geoip
    assert settings.trust_proxy is True
    assert settings.max_queued_events == 5000
    assert settings.max_batch_events == 500
    assert settings.duckdb_memory_limit == "256MB"
    assert settings.duckdb_threads == 3
    assert settings.log_level == "debug"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", True),
        ("true", True),
        ("TRUE", True),
        ("yes", True),
        ("on", True),
        (" On ", True),
        ("0", False),
        ("false", False),
        ("no", False),
        ("off", False),
        ("", False),
    ],
)
def test_bool_spellings(text: str, value: bool) -> None:
    assert load_settings(env={"USERLENS_TRUST_PROXY": text}).trust_proxy is value


def test_data_dir_expands_the_home_directory() -> None:
    settings = load_settings(env={"USERLENS_DATA_DIR": "~/userlens-test-data"})
    assert settings.data_dir == Path("~/userlens-test-data").expanduser()
    assert "~" not in str(settings.data_dir)


def test_empty_geoip_means_none() -> None:
    assert load_settings(env={"USERLENS_GEOIP_DB": ""}).geoip_db is None


TOML = """
host = "10.0.0.5"
port = 8443
trust_proxy = true
max_batch_events = 1000
max_queued_events = 4000
log_level = "warning"
duckdb_memory_limit = "2GB"
"""


def test_toml_file_via_argument(tmp_path: Path) -> None:
    config = write(tmp_path / "userlens.toml", TOML + f'data_dir = "{tmp_path / "d"}"\n')
    settings = load_settings(env={}, config_file=config)
    assert settings.host == "10.0.0.5"
    assert settings.port == 8443
    assert settings.trust_proxy is True
    assert settings.max_batch_events == 1000
    assert settings.max_queued_events == 4000
    assert settings.log_level == "warning"
    assert settings.duckdb_memory_limit == "2GB"
    assert settings.data_dir == tmp_path / "d"
    assert settings.duckdb_threads == Settings().duckdb_threads  # not in the file


def test_toml_file_via_environment(tmp_path: Path) -> None:
    config = write(tmp_path / "userlens.toml", TOML)
    settings = load_settings(env={"USERLENS_CONFIG": str(config)})
    assert (settings.host, settings.port, settings.log_level) == ("10.0.0.5", 8443, "warning")


def test_argument_file_wins_over_environment_file(tmp_path: Path) -> None:
    by_env = write(tmp_path / "env.toml", "port = 7001\n")
    by_arg = write(tmp_path / "arg.toml", "port = 7002\n")
    settings = load_settings(env={"USERLENS_CONFIG": str(by_env)}, config_file=by_arg)
    assert settings.port == 7002


def test_priority_is_defaults_file_environment_overrides(tmp_path: Path) -> None:
    config = write(tmp_path / "u.toml", 'port = 7001\nhost = "file-host"\nlog_level = "error"\n')
    env = {"USERLENS_CONFIG": str(config), "USERLENS_PORT": "7002", "USERLENS_HOST": "env-host"}
    settings = load_settings(env=env, host="override-host")
    assert settings.log_level == "error"  # file beats default
    assert settings.port == 7002  # environment beats file
    assert settings.host == "override-host"  # override beats environment
    assert load_settings(env=env, host=None).host == "env-host"  # None overrides nothing


# -- errors name the setting ------------------------------------------------------------------


@pytest.mark.parametrize("port", ["abc", "0", "70000", "-1", "80.5", ""])
def test_bad_port_from_environment(port: str) -> None:
    with pytest.raises(ConfigError, match="USERLENS_PORT"):
        load_settings(env={"USERLENS_PORT": port})


@pytest.mark.parametrize("port", ['"abc"', "0", "70000", "80.5", "true", "[80]"])
def test_bad_port_from_toml(tmp_path: Path, port: str) -> None:
    config = write(tmp_path / "u.toml", f"port = {port}\n")
    with pytest.raises(ConfigError, match="USERLENS_PORT"):
        load_settings(env={}, config_file=config)


@pytest.mark.parametrize("value", ["maybe", "2", "enabled"])
def test_bad_bool(value: str) -> None:
    with pytest.raises(ConfigError, match="USERLENS_TRUST_PROXY") as raised:
        load_settings(env={"USERLENS_TRUST_PROXY": value})
    assert value in str(raised.value)


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"USERLENS_MAX_BATCH_EVENTS": "lots"}, "USERLENS_MAX_BATCH_EVENTS"),
        ({"USERLENS_DUCKDB_THREADS": "0"}, "USERLENS_DUCKDB_THREADS"),
        ({"USERLENS_LOG_LEVEL": "loud"}, "USERLENS_LOG_LEVEL"),
        ({"USERLENS_HOST": "  "}, "USERLENS_HOST"),
        ({"USERLENS_MAX_BATCH_EVENTS": "0"}, "USERLENS_MAX_BATCH_EVENTS"),
        (
            {"USERLENS_MAX_QUEUED_EVENTS": "10", "USERLENS_MAX_BATCH_EVENTS": "20"},
            "USERLENS_MAX_QUEUED_EVENTS",
        ),
        ({"USERLENS_GEOIP_DB": "/nonexistent/city.mmdb"}, "USERLENS_GEOIP_DB"),
        ({"USERLENS_MAX_QUEUED_MB": "0"}, "USERLENS_MAX_QUEUED_MB"),
        ({"USERLENS_MAX_QUEUED_MB": "1.5"}, "USERLENS_MAX_QUEUED_MB"),
        ({"USERLENS_MAX_REQUEST_BODIES_MB": "0"}, "USERLENS_MAX_REQUEST_BODIES_MB"),
    ],
)
def test_other_bad_values_name_their_setting(env: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError, match=setting):
        load_settings(env=env)


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    not_a_dir = write(tmp_path / "file", "")
    with pytest.raises(ConfigError, match="USERLENS_DATA_DIR"):
        load_settings(env={"USERLENS_DATA_DIR": str(not_a_dir)})


def test_unknown_toml_key_is_named(tmp_path: Path) -> None:
    config = write(tmp_path / "u.toml", "port = 8000\nlisten_port = 9000\n")
    with pytest.raises(ConfigError, match="listen_port") as raised:
        load_settings(env={}, config_file=config)
    assert str(config) in str(raised.value)


def test_toml_table_is_an_unknown_key(tmp_path: Path) -> None:
    config = write(tmp_path / "u.toml", "[server]\nport = 8000\n")
    with pytest.raises(ConfigError, match="server"):
        load_settings(env={}, config_file=config)


def test_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="USERLENS_CONFIG") as raised:
        load_settings(env={"USERLENS_CONFIG": str(missing)})
    assert str(missing) in str(raised.value)


def test_config_file_that_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="USERLENS_CONFIG"):
        load_settings(env={}, config_file=tmp_path)


@pytest.mark.parametrize(
    "content",
    [
        b"port = \n",
        b"port = 8000\nport = 8001\n",
        b'host = "unterminated\n',
        b"port = 1\n\xff\xfe = 2\n",
    ],
    ids=["no value", "duplicate key", "unterminated string", "not UTF-8"],
)
def test_invalid_toml(tmp_path: Path, content: bytes) -> None:
    config = tmp_path / "u.toml"
    config.write_bytes(content)
    with pytest.raises(ConfigError, match="USERLENS_CONFIG") as raised:
        load_settings(env={}, config_file=config)
    assert str(config) in str(raised.value)


def test_log_level_is_case_insensitive() -> None:
    assert load_settings(env={"USERLENS_LOG_LEVEL": "WARNING"}).log_level == "warning"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("USERLENS_RETENTION_INTERVAL_S", "0"),
        ("USERLENS_COMPACTION_INTERVAL_S", "0"),
        ("USERLENS_COMPACT_AFTER_S", "-5"),
        ("USERLENS_COMPACT_AFTER_S", "soon"),
        ("USERLENS_BACKUP_INTERVAL_S", "-1"),
        ("USERLENS_BACKUP_KEEP", "0"),
        ("USERLENS_BACKUP_KEEP", "all"),
        ("USERLENS_MIN_FREE_DISK_MB", "-1"),
    ],
)
def test_bad_housekeeping_intervals(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings(env={name: value})


def test_housekeeping_defaults() -> None:
    settings = load_settings(env={})
    assert settings.compaction_interval_s == 300 and settings.compact_after_s == 2400
    assert load_settings(env={"USERLENS_COMPACT_AFTER_S": "0"}).compact_after_s == 0


def test_backups_default_to_off_in_the_data_directory(tmp_path: Path) -> None:
    settings = load_settings(env={"USERLENS_DATA_DIR": str(tmp_path)})
    assert settings.backup_interval_s == 0 and settings.backup_keep == 7
    assert settings.backups_dir == tmp_path / "backups"
    elsewhere = load_settings(env={"USERLENS_BACKUP_DIR": str(tmp_path / "b")})
    assert elsewhere.backups_dir == tmp_path / "b"


def test_a_backup_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.write_text("x")
    with pytest.raises(ConfigError, match="USERLENS_BACKUP_DIR"):
        load_settings(env={"USERLENS_BACKUP_DIR": str(taken)})
