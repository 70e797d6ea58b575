"""Remote config, flags and posthog-js bundles, as posthog-js asks for them."""

from __future__ import annotations

import base64
import dataclasses
import re

import orjson

from tests.conftest import Env


def test_config_json_turns_features_on(env: Env) -> None:
    resp = env.client.get(f"/array/{env.project.api_token}/config")
    assert resp.status_code == 200
    config = resp.json()
    assert config["token"] == env.project.api_token
    assert config["autocapture_opt_out"] is False
    assert "gzip" in config["supportedCompression"]
    assert config["sessionRecording"]["endpoint"] == "/s/"
    assert config["sessionRecording"]["sampleRate"] is None


def test_config_script_assigns_the_config(env: Env) -> None:
    token = env.project.api_token
    resp = env.client.get(f"/array/{token}/config.js", headers={"Origin": "https://shop.test"})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/javascript"
    assert resp.headers["access-control-allow-origin"] == "https://shop.test"
    match = re.search(r"_POSTHOG_REMOTE_CONFIG\[(.+?)\]=(\{.*\});", resp.text)
    assert match is not None
    assert orjson.loads(match.group(1)) == token
    assert orjson.loads(match.group(2))["config"]["sessionRecording"]["endpoint"] == "/s/"


def test_project_recording_settings_shape_the_config(env: Env) -> None:
    meta = env.app.services.meta
    project = meta.project(env.project.id)
    assert project is not None
    sampled = meta.create_project("Sampled")
    meta.set_recording(
        sampled.id, dataclasses.replace(sampled.recording, sample_rate=0.25, min_duration_ms=2000)
    )
    off = meta.create_project("Off")
    meta.set_recording(off.id, dataclasses.replace(off.recording, enabled=False))
    recording = env.client.get(f"/array/{sampled.api_token}/config").json()["sessionRecording"]
    assert recording["sampleRate"] == "0.25" and recording["minimumDurationMilliseconds"] == 2000
    assert env.client.get(f"/array/{off.api_token}/config").json()["sessionRecording"] is False


def test_flags_answer_in_every_form(env: Env) -> None:
    body = {"token": env.project.api_token, "distinct_id": "d1"}
    plain = env.client.post("/flags/?v=2", json=body)
    assert plain.status_code == 200
    assert plain.json()["flags"] == {} and plain.json()["errorsWhileComputingFlags"] is False
    assert plain.json()["sessionRecording"]["endpoint"] == "/s/"
    form = env.client.post(
        "/decide/?v=3",
        content=b"data=" + base64.b64encode(orjson.dumps(body)),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 200 and form.json()["featureFlags"] == {}


def test_unknown_or_bad_tokens_are_401(env: Env) -> None:
    for path in ("/array/ulc_nope/config", "/array/phx_personal/config.js"):
        resp = env.client.get(path)
        assert resp.status_code == 401 and resp.json()["error"] in {"unknown_token", "personal_key"}
    resp = env.client.post("/flags/", json={"token": "ulc_nope"})
    assert resp.status_code == 401
    resp = env.client.post("/flags/", content=b"not json", headers={"Content-Type": "text/plain"})
    assert resp.status_code == 400


def test_posthog_bundles_are_served_from_the_pinned_package(env: Env) -> None:
    for path in ("/static/array.js", "/static/1.449.2/lazy-recorder.js", "/static/recorder.js?v=1"):
        resp = env.client.get(path.split("?")[0], headers={"Origin": "https://shop.test"})
        assert resp.status_code == 200, path
        assert resp.headers["content-type"] == "application/javascript"
        assert resp.headers["access-control-allow-origin"] == "https://shop.test"
        assert len(resp.content) > 1000
    assert env.client.get("/static/no-such-bundle.js").status_code == 404
    assert env.client.get("/static/..%2f..%2fetc%2fpasswd").status_code == 404


def test_bundles_are_gzipped_for_browsers_that_accept_it(env: Env) -> None:
    plain = env.client.get("/static/array.js", headers={"Accept-Encoding": "identity"})
    packed = env.client.get("/static/array.js", headers={"Accept-Encoding": "gzip, br"})
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.content == plain.content  # the client inflates it transparently
    assert int(packed.headers["content-length"]) < len(plain.content) / 3


def test_our_snippet_is_served_with_cors_caching_and_etag(env: Env) -> None:
    for name in ("userlens.js", "userlens.esm.js", "userlens-recorder.js"):
        resp = env.client.get(
            f"/static/{name}", headers={"Origin": "https://shop.test", "Accept-Encoding": "gzip"}
        )
        assert resp.status_code == 200, name
        assert resp.headers["content-type"] == "application/javascript"
        assert resp.headers["access-control-allow-origin"] == "https://shop.test"
        assert resp.headers["cache-control"] == "public, max-age=300"
        assert resp.headers["content-encoding"] == "gzip"
        etag = resp.headers["etag"]
        again = env.client.get(f"/static/{name}", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert (
            env.client.get(f"/static/{name}", headers={"If-None-Match": '"x"'}).status_code == 200
        )
    core = env.client.get("/static/userlens.js").text
    assert "userlens" in core and len(core) < 40_000  # minified


def test_privacy_and_scope_settings_reach_the_config(env: Env) -> None:
    meta = env.app.services.meta
    project = meta.create_project("Scoped")
    meta.set_recording(
        project.id,
        dataclasses.replace(
            project.recording, mask_inputs=False, url_allow=("/app/",), url_deny=("/admin",)
        ),
    )
    meta.set_respect_dnt(project.id, True)
    config = env.client.get(f"/array/{project.api_token}/config").json()
    recording = config["sessionRecording"]
    assert recording["maskAllInputs"] is False
    assert recording["urlAllow"] == ["/app/"] and recording["urlDeny"] == ["/admin"]
    assert config["respectDnt"] is True
    default = env.client.get(f"/array/{env.project.api_token}/config").json()
    assert default["respectDnt"] is False and default["sessionRecording"]["maskAllInputs"] is True
