"""What SDKs fetch besides capture: remote config, flags, and posthog-js's own bundles."""

from __future__ import annotations

import gzip
import hashlib
import re
import uuid
from pathlib import Path
from typing import Any

import orjson

from userlens.capture.app import (
    Receive,
    Scope,
    Send,
    cors_headers,
    normalize_path,
    read_body,
    respond,
)
from userlens.capture.decode import decode_body, query_params
from userlens.capture.envelope import check_token
from userlens.capture.tokens import TokenCache
from userlens.errors import CaptureError
from userlens.model.project import Project

# posthog-js's bundles, installed from the pinned npm package by `make`, and our own snippet
# and recorder, built from `sdk/src` by `make`.
SDK_DIR = Path(__file__).resolve().parents[3] / "sdk"
POSTHOG_DIST = SDK_DIR / "node_modules" / "posthog-js" / "dist"
USERLENS_DIST = SDK_DIR / "dist"
USERLENS_BUNDLES = frozenset({"userlens.js", "userlens.esm.js", "userlens-recorder.js"})
_CONFIG_PATH = re.compile(r"/array/([^/]{1,64})/config(\.js)?")
_STATIC_PATH = re.compile(r"/static/(?:[0-9A-Za-z.+-]{1,40}/)?([a-z0-9][a-z0-9.-]{0,80}\.js)")
FLAG_PATHS = frozenset({"/flags", "/decide"})
MAX_FLAGS_BODY = 1024 * 1024


def remote_config(project: Project) -> dict[str, Any]:
    """The config posthog-js asks for, with every feature the project allows turned on."""
    recording: dict[str, Any] | bool = False
    if project.recording.enabled:
        rate = project.recording.sample_rate
        recording = {
            "endpoint": "/s/",
            "consoleLogRecordingEnabled": True,
            "recordCanvas": False,
            "sampleRate": None if rate >= 1 else f"{rate:.2f}",
            "minimumDurationMilliseconds": project.recording.min_duration_ms or None,
            "linkedFlag": None,
            "networkPayloadCapture": None,
            # Read by the Userlens snippet; posthog-js ignores them.
            "maskAllInputs": project.recording.mask_inputs,
            "urlAllow": list(project.recording.url_allow),
            "urlDeny": list(project.recording.url_deny),
            "captureNetwork": True,
        }
    return {
        "token": project.api_token,
        "supportedCompression": ["gzip", "gzip-js"],
        "hasFeatureFlags": False,
        "autocapture_opt_out": False,
        "autocaptureExceptions": True,
        "errorTracking": {"autocaptureExceptions": True, "suppressionRules": []},
        "captureDeadClicks": True,
        "heatmaps": False,
        "surveys": False,
        "capturePerformance": {"network_timing": True, "web_vitals": False},
        "sessionRecording": recording,
        "analytics": {"endpoint": "/i/v0/e/"},
        "elementsChainAsString": True,
        "siteApps": [],
        "respectDnt": project.respect_dnt,
    }


class RemoteConfigApp:
    """`/array/<token>/config[.js]`, `/flags/`, `/decide/` and `/static/<bundle>.js`."""

    def __init__(
        self, tokens: TokenCache, *, dist: Path = POSTHOG_DIST, own_dist: Path = USERLENS_DIST
    ) -> None:
        self._tokens = tokens
        self._dist = dist
        self._own_dist = own_dist
        self._bundles: dict[str, tuple[bytes, bytes, bytes]] = {}

    @staticmethod
    def handles(path: str) -> bool:
        path = normalize_path(path)
        return bool(
            path in FLAG_PATHS or _CONFIG_PATH.fullmatch(path) or _STATIC_PATH.fullmatch(path)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        cors = cors_headers(headers)
        path = normalize_path(scope["path"])
        if scope["method"] == "OPTIONS":
            await respond(send, 200, {"status": 1}, cors)
            return
        try:
            if static := _STATIC_PATH.fullmatch(path):
                await self._static(send, static.group(1), headers, cors)
            elif config := _CONFIG_PATH.fullmatch(path):
                await self._config(send, config.group(1), bool(config.group(2)), cors)
            else:
                await self._flags(scope, receive, headers, send, cors)
        except CaptureError as exc:
            await respond(send, exc.status, {"error": exc.code, "detail": exc.detail}, cors)

    async def _project(self, token: str) -> Project:
        project = await self._tokens.project(check_token(token))
        if project is None:
            raise CaptureError(401, "unknown_token", "no project has this token")
        return project

    async def _config(
        self, send: Send, token: str, as_script: bool, cors: list[tuple[bytes, bytes]]
    ) -> None:
        config = remote_config(await self._project(token))
        if not as_script:
            await respond(send, 200, config, cors)
            return
        script = (
            "(function(){window._POSTHOG_REMOTE_CONFIG=window._POSTHOG_REMOTE_CONFIG||{};"
            f"window._POSTHOG_REMOTE_CONFIG[{orjson.dumps(token).decode()}]="
            f"{orjson.dumps({'config': config, 'siteApps': []}).decode()};}})();"
        )
        await _send_bytes(send, script.encode(), b"application/javascript", cors)

    async def _flags(
        self,
        scope: Scope,
        receive: Receive,
        headers: dict[str, str],
        send: Send,
        cors: list[tuple[bytes, bytes]],
    ) -> None:
        query = query_params(scope.get("query_string", b""))
        body = (
            await read_body(receive, headers, MAX_FLAGS_BODY) if scope["method"] == "POST" else b""
        )
        payload = decode_body(
            body or b"{}",
            method="POST",
            content_type=headers.get("content-type", ""),
            content_encoding=headers.get("content-encoding", ""),
            query=query,
            max_size=MAX_FLAGS_BODY,
        )
        token = (
            payload.get("token") or payload.get("api_key") if isinstance(payload, dict) else None
        )
        project = await self._project(token or query.get("token", ""))
        answer: dict[str, Any] = {
            "flags": {},
            "featureFlags": {},
            "featureFlagPayloads": {},
            "errorsWhileComputingFlags": False,
            "requestId": str(uuid.uuid4()),
            "quotaLimited": [],
            **remote_config(project),
        }
        await respond(send, 200, answer, cors)

    def _bundle(self, name: str) -> tuple[bytes, bytes, bytes]:
        """A bundle's bytes, plain and gzipped, and its ETag, read and compressed once."""
        cached = self._bundles.get(name)
        if cached is None:
            path = (self._own_dist if name in USERLENS_BUNDLES else self._dist) / name
            if not path.is_file():
                raise CaptureError(
                    404, "not_found", f"no bundle {name} (run `make` to build and install them)"
                )
            plain = path.read_bytes()
            etag = b'"' + hashlib.sha256(plain).hexdigest()[:20].encode() + b'"'
            packed = gzip.compress(plain, compresslevel=9, mtime=0)
            cached = self._bundles[name] = (plain, packed, etag)
        return cached

    async def _static(
        self, send: Send, name: str, headers: dict[str, str], cors: list[tuple[bytes, bytes]]
    ) -> None:
        plain, packed, etag = self._bundle(name)
        # The snippet's own path is stable, so browsers check back within minutes for a new
        # build; the ETag makes that check a 304.
        max_age = b"300" if name in USERLENS_BUNDLES else b"3600"
        extra = [
            (b"cache-control", b"public, max-age=" + max_age),
            (b"vary", b"Accept-Encoding"),
            (b"etag", etag),
        ]
        if etag.decode() in headers.get("if-none-match", ""):
            await send({"type": "http.response.start", "status": 304, "headers": [*cors, *extra]})
            await send({"type": "http.response.body", "body": b""})
            return
        gzip_ok = "gzip" in headers.get("accept-encoding", "")
        if gzip_ok:
            extra.append((b"content-encoding", b"gzip"))
        await _send_bytes(
            send, packed if gzip_ok else plain, b"application/javascript", cors, extra=extra
        )


async def _send_bytes(
    send: Send,
    data: bytes,
    content_type: bytes,
    headers: list[tuple[bytes, bytes]],
    *,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(data)).encode()),
                *headers,
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
