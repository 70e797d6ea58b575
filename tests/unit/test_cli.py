"""The `userlens` command as a user runs it: real processes, real data directory."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx

from tests.conftest import USERLENS, ServerProcess, free_port


def run(
    data_dir: Path, *args: str, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(USERLENS), *args],
        input=stdin,
        env={**os.environ, "USERLENS_DATA_DIR": str(data_dir), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_project_user_token_round_trip(tmp_path: Path) -> None:
    data = tmp_path / "data"
    created = run(data, "project", "create", "Shop", "--timezone", "Europe/Berlin", "--json")
    assert created.returncode == 0, created.stderr
    project = json.loads(created.stdout)
    assert project["name"] == "Shop" and project["timezone"] == "Europe/Berlin"
    assert project["api_token"].startswith("ulc_") and len(project["api_token"]) > 20
    assert (data / "metadata.sqlite3").is_file(), "the data directory is created on first use"

    listed = json.loads(run(data, "project", "list", "--json").stdout)
    assert [p["id"] for p in listed] == [project["id"]]

    made = run(
        data,
        "user",
        "create",
        "PM@Shop.test",
        "--project",
        str(project["id"]),
        stdin="long enough password\n",
    )
    assert made.returncode == 0, made.stderr
    assert "pm@shop.test" in made.stdout

    tok = run(data, "token", "create", "pm@shop.test", "--json")
    secret = json.loads(tok.stdout)["token"]
    assert secret.startswith("ulx_")
    # Shown once, stored hashed: the secret is nowhere in the metadata database.
    assert secret.encode() not in (data / "metadata.sqlite3").read_bytes()


def test_mistakes_get_clear_errors(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bad_tz = run(data, "project", "create", "X", "--timezone", "Mars/Olympus")
    assert bad_tz.returncode != 0 and "Mars/Olympus" in bad_tz.stderr
    short = run(data, "user", "create", "a@b.test", stdin="short\n")
    assert short.returncode != 0 and "8 characters" in short.stderr
    assert run(data, "user", "create", "a@b.test", stdin="long enough pw\n").returncode == 0
    again = run(data, "user", "create", "a@b.test", stdin="long enough pw\n")
    assert again.returncode != 0 and "already exists" in again.stderr
    nobody = run(data, "token", "create", "nobody@b.test")
    assert nobody.returncode != 0 and "nobody@b.test" in nobody.stderr


def test_bad_setting_stops_start_up_with_its_name(tmp_path: Path) -> None:
    result = run(tmp_path / "d", "serve", USERLENS_PORT="eighty")
    assert result.returncode != 0
    assert "USERLENS_PORT" in result.stderr
    result = run(tmp_path / "d", USERLENS_PORT="70000")  # `serve` is the default command
    assert result.returncode != 0
    assert "USERLENS_PORT" in result.stderr


def test_passwords_are_hashed_with_argon2(tmp_path: Path) -> None:
    import sqlite3

    data = tmp_path / "data"
    assert run(data, "user", "create", "a@b.test", stdin="long enough pw\n").returncode == 0
    with sqlite3.connect(data / "metadata.sqlite3") as db:
        (stored,) = db.execute("SELECT password_hash FROM users").fetchone()
    assert stored.startswith("$argon2id$")
    assert "long enough pw" not in stored


def test_person_delete_on_a_stopped_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    srv = ServerProcess(data_dir=data, port=free_port())
    srv.start()
    try:
        project, _ = srv.project_with_admin("Shop")
        batch = [{"event": "e", "distinct_id": "gone"}, {"event": "e", "distinct_id": "kept"}]
        body = {"api_key": project["api_token"], "batch": batch}
        assert httpx.post(srv.url + "/batch/", json=body).status_code == 200
        busy = run(data, "person", "delete", str(project["id"]), "gone")
        assert busy.returncode != 0 and "server running" in busy.stderr
    finally:
        srv.stop()
    done = run(data, "person", "delete", str(project["id"]), "gone", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["events"] == 1
    missing = run(data, "person", "delete", "999", "gone")
    assert missing.returncode != 0 and "no project 999" in missing.stderr
