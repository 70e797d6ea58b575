"""The `userlens` command as a user runs it: real processes, real data directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import USERLENS, ServerProcess, eventually, free_port
from userlens.model.event import CapturedEvent
from userlens.store.wal import SegmentLog
from userlens.store.writer import LogRecord, encode


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


def _started(data: Path) -> ServerProcess:
    """A server started on a new data directory `data`."""
    data.mkdir()
    srv = ServerProcess(data_dir=data, port=free_port())
    srv.start()
    return srv


def _send(srv: ServerProcess, project: dict[str, Any], *distinct_ids: str) -> None:
    """One event of each distinct id, in one batch."""
    batch = [{"event": "e", "distinct_id": who} for who in distinct_ids]
    body = {"api_key": project["api_token"], "batch": batch}
    assert httpx.post(srv.url + "/batch/", json=body).status_code == 200


def _event_ids(srv: ServerProcess, project: dict[str, Any], auth: dict[str, str]) -> list[str]:
    url = f"{srv.url}/api/projects/{project['id']}/events"
    return sorted(e["distinct_id"] for e in httpx.get(url, headers=auth).json()["results"])


def test_person_delete_on_a_running_server_and_a_stopped_one(tmp_path: Path) -> None:
    """While the server runs, the command hands the deletion to it and prints its answer;
    on a stopped server's directory, it deletes by itself."""
    data = tmp_path / "data"
    srv = _started(data)
    try:
        project, auth = srv.project_with_admin("Shop")
        _send(srv, project, "gone", "gone", "kept", "later")
        eventually(lambda: len(_event_ids(srv, project, auth)) == 4)
        done = run(data, "person", "delete", str(project["id"]), "gone", "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"events": 2, "distinct_ids": ["gone"], "sessions": []}
        assert _event_ids(srv, project, auth) == ["kept", "later"]
        missing = run(data, "person", "delete", "999", "kept")
        assert missing.returncode != 0 and "no project 999" in missing.stderr
    finally:
        srv.stop()
    done = run(data, "person", "delete", str(project["id"]), "later")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Deleted 1 event of later, from 0 sessions, and their recordings"
    missing = run(data, "person", "delete", "999", "kept")
    assert missing.returncode != 0 and "no project 999" in missing.stderr
    srv.start()
    try:
        assert _event_ids(srv, project, auth) == ["kept"]
    finally:
        srv.stop()


def test_a_command_no_server_takes_up_does_nothing_later(tmp_path: Path) -> None:
    """The event store held by a process that is not a server: the command gives up after
    `--wait`, says so, and leaves nothing for a server to do later."""
    data = tmp_path / "data"
    srv = _started(data)
    try:
        project, auth = srv.project_with_admin("Shop")
        _send(srv, project, "alice", "bob")
        eventually(lambda: len(_event_ids(srv, project, auth)) == 2)
    finally:
        srv.stop()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "sys.stdin.read()",
            str(data / "events.duckdb"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        refused = run(data, "person", "delete", str(project["id"]), "alice", "--wait", "0.5")
        assert refused.returncode != 0
        assert "no running server took the command up" in refused.stderr
        assert "nothing was done" in refused.stderr
    finally:
        holder.communicate("", timeout=30)
    srv.start()
    try:
        time.sleep(2)  # the server takes requests up every second: it has none
        assert _event_ids(srv, project, auth) == ["alice", "bob"]
    finally:
        srv.stop()


def test_project_delete_on_a_running_server_and_a_stopped_one(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = _started(data)
    try:
        doomed, _ = srv.project_with_admin("Shop")
        kept, auth = srv.project_with_admin("Kept")
        offline, _ = srv.project_with_admin("Later")
        for project in (doomed, kept, offline):
            _send(srv, project, "a", "b")
        eventually(lambda: len(_event_ids(srv, offline, auth)) == 2)
        kept_back = run(data, "project", "delete", str(doomed["id"]), stdin="n\n")
        assert kept_back.returncode != 0 and "Aborted" in kept_back.stderr
        assert "Shop" in run(data, "project", "list").stdout
        done = run(data, "project", "delete", str(doomed["id"]), "--json", stdin="y\n")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"events": 2, "persons": 2, "recorded_sessions": 0}
        # Its capture token stops working at once.
        sent = {"api_key": doomed["api_token"], "event": "late", "distinct_id": "a"}
        assert httpx.post(srv.url + "/e/", json=sent).status_code == 401
        again = run(data, "project", "delete", str(doomed["id"]), "--yes")
        assert again.returncode != 0 and f"no project {doomed['id']}" in again.stderr
    finally:
        srv.stop()
    done = run(data, "project", "delete", str(offline["id"]), "--yes")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"Deleted project {offline['id']}: 2 events, 2 persons and 0 recorded sessions"
    )
    assert [p["id"] for p in json.loads(run(data, "project", "list", "--json").stdout)] == [
        kept["id"]
    ]
    again = run(data, "project", "delete", str(offline["id"]), "--yes")
    assert again.returncode != 0 and f"no project {offline['id']}" in again.stderr
    srv.start()
    try:
        assert _event_ids(srv, kept, auth) == ["a", "b"]
    finally:
        srv.stop()


def test_backup_on_a_running_server_and_a_stopped_one_and_their_list(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = _started(data)
    try:
        project, auth = srv.project_with_admin("Shop")
        _send(srv, project, "a", "b", "c")
        assert json.loads(run(data, "backup", "list", "--json").stdout) == []
        # While the server runs, the server backs up (every event acknowledged before is in).
        online = run(data, "backup", "create", "--json")
        assert online.returncode == 0, online.stderr
        first = json.loads(online.stdout)
        assert (first["events"], first["persons"], first["metadata"]) == (3, 3, True)
    finally:
        srv.stop()
    done = run(data, "backup", "create", "--json")
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)
    assert made["name"] != first["name"]
    assert (made["events"], made["persons"], made["metadata"]) == (3, 3, True)
    listed = run(data, "backup", "list")
    assert listed.returncode == 0 and made["name"] in listed.stdout and "3 events" in listed.stdout
    # A person deleted afterwards is deleted from the backups too.
    gone = run(data, "person", "delete", str(project["id"]), "c")
    assert gone.returncode == 0, gone.stderr
    backups = json.loads(run(data, "backup", "list", "--json").stdout)
    assert [(b["events"], b["persons"], b["pending_erasures"]) for b in backups] == [(2, 2, 0)] * 2
    # The backup folder is a data directory: the server starts on it with the same data.
    restored = ServerProcess(data_dir=data / "backups" / made["name"], port=free_port())
    restored.start()
    try:
        url = f"{restored.url}/api/projects/{project['id']}/events"
        got = httpx.get(url, headers=auth).json()["results"]
        assert sorted(e["distinct_id"] for e in got) == ["a", "b"]
    finally:
        restored.stop()


def test_a_backup_is_restored_into_a_new_directory_without_what_was_deleted_since(
    tmp_path: Path,
) -> None:
    data, into = tmp_path / "data", tmp_path / "restored"
    srv = _started(data)
    try:
        project, auth = srv.project_with_admin("Shop")
        _send(srv, project, "a", "b", "c")
        made = json.loads(run(data, "backup", "create", "--json").stdout)
        assert made["events"] == 3
        gone = run(data, "person", "delete", str(project["id"]), "c")
        assert gone.returncode == 0, gone.stderr
        _send(srv, project, "d")  # after the backup: not in it
        # The server may be repeating the deletion in the backup: not while it runs.
        busy = run(data, "backup", "restore", made["name"], "--into", str(into))
        assert busy.returncode != 0 and "stop the server first" in busy.stderr
        assert not into.exists()
    finally:
        srv.stop()
    missing = run(data, "backup", "restore", "1999-01-01T00-00-00Z", "--into", str(into))
    assert missing.returncode != 0 and "no backup 1999-01-01T00-00-00Z" in missing.stderr
    done = run(data, "backup", "restore", made["name"], "--into", str(into), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["into"] == str(into)
    again = run(data, "backup", "restore", made["name"], "--into", str(into))
    assert again.returncode != 0 and "not an empty directory" in again.stderr
    assert [b["name"] for b in json.loads(run(data, "backup", "list", "--json").stdout)] == [
        made["name"]
    ]
    restored = ServerProcess(data_dir=into, port=free_port())
    restored.start()
    try:
        assert _event_ids(restored, project, auth) == ["a", "b"]
        _send(restored, project, "e")  # its capture token works there too
        eventually(lambda: _event_ids(restored, project, auth) == ["a", "b", "e"])
    finally:
        restored.stop()
    srv.start()  # and the original goes on as it was
    try:
        assert _event_ids(srv, project, auth) == ["a", "b", "d"]
    finally:
        srv.stop()


def test_a_start_that_cannot_load_the_log_says_why_and_a_later_one_loads_it(
    tmp_path: Path,
) -> None:
    # Events acknowledged before a stop wait in the write-ahead log. If the store cannot take
    # them at the next start (here DuckDB's memory limit is far too small for their size), the
    # server says so in one line instead of a traceback, and keeps them for a later start.
    data = tmp_path / "data"
    project = json.loads(run(data, "project", "create", "Shop", "--json").stdout)
    events = [
        CapturedEvent(
            project_id=project["id"],
            uuid=str(uuid.uuid4()),
            event="big",
            distinct_id=f"d{i}",
            timestamp_us=1_790_000_000_000_000 + i,
            received_at_us=1_790_000_000_000_000,
            properties_json=json.dumps({"blob": "x" * 900_000}),
        )
        for i in range(3)
    ]
    wal = SegmentLog(data / "wal")
    wal.append(encode(LogRecord(events)))
    wal.close()

    refused = run(data, "serve", "--port", str(free_port()), USERLENS_DUCKDB_MEMORY_LIMIT="2MB")
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert "could not load the events waiting in the write-ahead log" in refused.stderr
    assert "USERLENS_DUCKDB_MEMORY_LIMIT" in refused.stderr

    srv = ServerProcess(data_dir=data, port=free_port())
    srv.start()
    try:
        # The project's events, through the API as an admin would read them.
        email = "reader@shop.test"
        srv.cli("user", "create", email, "--admin", stdin="s3cret-pass\n")
        token = json.loads(srv.cli("token", "create", email, "--json"))["token"]
        page = httpx.get(
            f"{srv.url}/api/projects/{project['id']}/events",
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        assert sorted(e["uuid"] for e in page["results"]) == sorted(e.uuid for e in events)
    finally:
        srv.stop()


def test_an_operator_resets_a_password_and_revokes_a_token(server: ServerProcess) -> None:
    """On a running server: a forgotten password is set anew from the command line (which
    signs the user out everywhere), and a leaked API token is listed and revoked."""
    project, auth = server.project_with_admin("Shop")
    server.cli("user", "create", "pm@shop.test", stdin="first password\n")
    users = json.loads(server.cli("user", "list", "--json"))
    assert [(u["email"], u["is_admin"]) for u in users] == [
        ("admin-1@shop.test", True),
        ("pm@shop.test", False),
    ]

    with httpx.Client(base_url=server.url) as browser:
        creds = {"email": "pm@shop.test", "password": "first password"}
        assert browser.post("/api/session", json=creds).status_code == 200
        assert browser.get("/api/me").status_code == 200
        server.cli("user", "password", "PM@shop.test", stdin="second password\n")
        assert browser.get("/api/me").status_code == 401  # signed out by the reset
    with httpx.Client(base_url=server.url) as browser:
        assert browser.post("/api/session", json=creds).status_code == 401
        creds["password"] = "second password"
        assert browser.post("/api/session", json=creds).status_code == 200

    leaked = json.loads(server.cli("token", "create", "pm@shop.test", "--label", "ci", "--json"))
    kept = json.loads(server.cli("token", "create", "pm@shop.test", "--label", "laptop", "--json"))
    url = f"{server.url}/api/projects"
    for made in (leaked, kept):
        used = httpx.get(url, headers={"Authorization": f"Bearer {made['token']}"})
        assert used.status_code == 200
    listed = json.loads(server.cli("token", "list", "pm@shop.test", "--json"))
    assert [(t["id"], t["label"]) for t in listed] == [(leaked["id"], "ci"), (kept["id"], "laptop")]
    assert all(t["last_used_at"] is not None for t in listed)
    assert all(
        made["token"].startswith(t["prefix"])
        for made, t in zip((leaked, kept), listed, strict=True)
    )
    assert leaked["token"] not in json.dumps(listed)  # the secret is not stored to list

    server.cli("token", "revoke", "pm@shop.test", str(leaked["id"]))
    refused = httpx.get(url, headers={"Authorization": f"Bearer {leaked['token']}"})
    assert refused.status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {kept['token']}"}).status_code == 200
    listed = json.loads(server.cli("token", "list", "pm@shop.test", "--json"))
    assert [t["id"] for t in listed] == [kept["id"]]
    assert httpx.get(url, headers=auth).status_code == 200  # another user's token is untouched
    assert project["id"] == 1


def test_operator_commands_say_what_is_wrong(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run(data, "user", "create", "a@b.test", stdin="long enough pw\n").returncode == 0
    short = run(data, "user", "password", "a@b.test", stdin="short\n")
    assert short.returncode != 0 and "8 characters" in short.stderr
    nobody = run(data, "user", "password", "nobody@b.test", stdin="long enough pw\n")
    assert nobody.returncode != 0 and "nobody@b.test" in nobody.stderr
    assert run(data, "token", "list", "nobody@b.test").returncode != 0
    made = json.loads(run(data, "token", "create", "a@b.test", "--json").stdout)
    other = run(data, "user", "create", "c@b.test", stdin="long enough pw\n")
    assert other.returncode == 0
    # One user's token cannot be revoked as another's.
    wrong = run(data, "token", "revoke", "c@b.test", str(made["id"]))
    assert wrong.returncode != 0 and f"no token {made['id']}" in wrong.stderr
    listed = run(data, "token", "list", "a@b.test")
    assert listed.returncode == 0 and f"{made['id']}\tcli\t" in listed.stdout
    assert "never used" in listed.stdout
