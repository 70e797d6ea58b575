"""The web app: one HTML page for every app path, and its built script and style sheet.

The pages themselves are drawn in the browser (`ui/`, built by `make` into `ui/dist`) from
the JSON API; the server only hands out the same shell for each path, with headers that keep
the app's pages from loading anything but its own files.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

UI_DIST = Path(__file__).resolve().parents[3] / "ui" / "dist"
ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}

SHELL = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Userlens</title>
<link rel="stylesheet" href="/assets/app.css">
<script src="/assets/app.js" defer></script>
</head>
<body><div id="app"></div>
<noscript>Userlens needs JavaScript in the browser.</noscript>
</body>
</html>
"""

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


def _shell() -> HTMLResponse:
    return HTMLResponse(SHELL, headers=SECURITY_HEADERS)


@router.get("/")
def home() -> HTMLResponse:
    return _shell()


@router.get("/setup")
@router.get("/signin")
@router.get("/projects")
def top_page() -> HTMLResponse:
    return _shell()


@router.get("/projects/{rest:path}")
def project_page(rest: str) -> HTMLResponse:
    del rest  # the app reads the path itself
    return _shell()


@router.get("/assets/{name}")
def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise HTTPException(404, detail={"error": "not_found", "detail": "no such file"})
    path = UI_DIST / name
    if not path.is_file():
        raise HTTPException(
            404, detail={"error": "not_built", "detail": "the web app is not built: run make"}
        )
    return FileResponse(
        path,
        media_type=ASSETS[name],
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )
