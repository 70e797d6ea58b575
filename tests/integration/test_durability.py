"""Kill the server with SIGKILL under load: every acknowledged event survives, exactly once."""

from __future__ import annotations

import random
import signal
import threading
import time
import uuid
from typing import Any

import httpx

from tests.conftest import ServerProcess, eventually

SENDERS = 4
BATCH = 20


def _make_batch(token: str, rng: random.Random) -> dict[str, Any]:
    return {
        "api_key": token,
        "batch": [
            {
                "event": rng.choice(["$pageview", "clicked", "signed_up"]),
                "distinct_id": f"user-{rng.randrange(50)}",
                "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "properties": {"$current_url": "https://app.test/x", "n": rng.random()},
            }
            for _ in range(BATCH)
        ],
    }


class Load:
    """Sender threads posting batches until told to stop; they record what was acknowledged."""

    def __init__(self, url: str, token: str, seed: int) -> None:
        self.url = url
        self.token = token
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.acked: list[dict[str, Any]] = []
        self.unacked: list[dict[str, Any]] = []
        self.stop = threading.Event()

    def _sender(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self.stop.is_set():
                with self.lock:
                    body = _make_batch(self.token, self.rng)
                try:
                    ok = client.post(self.url + "/batch/", json=body).status_code == 200
                except httpx.HTTPError:
                    ok = False
                with self.lock:
                    (self.acked if ok else self.unacked).append(body)

    def run_until_killed(self, server: ServerProcess, after_s: float) -> None:
        threads = [threading.Thread(target=self._sender) for _ in range(SENDERS)]
        for t in threads:
            t.start()
        time.sleep(after_s)
        server.kill()
        self.stop.set()
        for t in threads:
            t.join(30)


def _stored_uuids(server: ServerProcess, project_id: int, auth: dict[str, str]) -> list[str]:
    out: list[str] = []
    params: dict[str, Any] = {"limit": 1000}
    while True:
        resp = httpx.get(
            f"{server.url}/api/projects/{project_id}/events", params=params, headers=auth
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        out.extend(e["uuid"] for e in body["results"])
        if not body["next_cursor"]:
            return out
        params["cursor"] = body["next_cursor"]


def test_sigkill_under_load_loses_no_acknowledged_event(server: ServerProcess) -> None:
    project, auth = server.project_with_admin("Crash")
    all_acked: set[str] = set()
    every_sent: set[str] = set()
    for cycle in range(3):
        load = Load(server.url, project["api_token"], seed=cycle)
        load.run_until_killed(server, after_s=0.8 + 0.4 * cycle)
        acked = {e["uuid"] for b in load.acked for e in b["batch"]}
        assert acked, "the load generator got no acknowledgements before the kill"
        all_acked |= acked
        every_sent |= acked | {e["uuid"] for b in load.unacked for e in b["batch"]}

        server.start()
        stored = _stored_uuids(server, project["id"], auth)
        assert len(stored) == len(set(stored)), "an event was stored twice"
        missing = all_acked - set(stored)
        assert not missing, f"cycle {cycle}: {len(missing)} acknowledged events lost"

        # Clients retry what was not acknowledged; retries of stored events must not duplicate.
        with httpx.Client(timeout=10) as client:
            for body in load.unacked:
                assert client.post(server.url + "/batch/", json=body).status_code == 200
        want = len(every_sent)
        eventually(lambda: len(_stored_uuids(server, project["id"], auth)) >= want)  # noqa: B023
        stored = _stored_uuids(server, project["id"], auth)
        assert sorted(stored) == sorted(every_sent)


def test_sigterm_drains_and_exits_cleanly(server: ServerProcess) -> None:
    project, auth = server.project_with_admin("Stop")
    load = Load(server.url, project["api_token"], seed=99)
    threads = [threading.Thread(target=load._sender) for _ in range(SENDERS)]
    for t in threads:
        t.start()
    time.sleep(0.8)
    # uvicorn re-raises SIGTERM after a clean shutdown, as service managers expect.
    assert server.stop() in (0, -signal.SIGTERM)
    assert server.log_path is not None
    assert "Application shutdown complete" in server.log_path.read_text()
    load.stop.set()
    for t in threads:
        t.join(30)
    acked = {e["uuid"] for b in load.acked for e in b["batch"]}
    assert acked
    server.start()
    stored = set(_stored_uuids(server, project["id"], auth))
    assert acked <= stored


def test_acknowledged_recordings_survive_sigkill(server: ServerProcess) -> None:
    project, auth = server.project_with_admin("Rec")
    ts = int(time.time() * 1000)
    sessions = [f"s-{i}-{uuid.uuid4().hex}" for i in range(20)]
    with httpx.Client(timeout=10) as client:
        for session in sessions:
            item = {
                "event": "$snapshot",
                "properties": {
                    "token": project["api_token"],
                    "distinct_id": "d",
                    "$session_id": session,
                    "$window_id": "w",
                    "$snapshot_data": [
                        {
                            "type": 4,
                            "timestamp": ts,
                            "data": {"href": "x", "width": 1, "height": 1},
                        },
                        {
                            "type": 2,
                            "timestamp": ts + 1,
                            "data": {"node": {"type": 0, "id": 1, "childNodes": []}},
                        },
                    ],
                },
            }
            assert client.post(server.url + "/s/", json=[item]).status_code == 200
    server.kill()  # no graceful shutdown: some of the index may be only in the log
    server.start()
    base = f"{server.url}/api/projects/{project['id']}/sessions"
    listed = httpx.get(base, params={"limit": 100}, headers=auth).json()["results"]
    assert sorted(s["session_id"] for s in listed) == sorted(sessions)
    one = httpx.get(f"{base}/{sessions[0]}/snapshots", headers=auth).json()["events"]
    assert [e["type"] for e in one] == [4, 2]
