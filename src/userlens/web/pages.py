"""The web app: one HTML page for every app path, and its built script and style sheet.

The pages themselves are drawn in the browser (`ui/`, built by `make` into `ui/dist`) from
the JSON API; the server only hands out the same shell for each path, with headers that keep
the app's pages from loading anything but its own files.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

UI_DIST = Path(__file__).resolve().parents[3] / "ui" / "dist"
_ASSET = re.compile(r"[A-Za-z0-9_-]{1,64}\.(js|css)")
# esbuild names the chunks it splits off after their content: `chunk-<8 capitals/digits>`.
_HASHED = re.compile(r"chunk-[A-Z0-9]{8}\.js")
TYPES = {"js": "text/javascript", "css": "text/css"}

# The brand's mark, drawn inline so that browsers asking for an icon get one.
ICON = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E"
    "%3Ccircle cx='16' cy='16' r='12.5' fill='none' stroke='%234f46e5' stroke-width='3'/%3E"
    "%3Ccircle cx='16' cy='16' r='5' fill='%234f46e5'/%3E%3C/svg%3E"
)

SHELL = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Userlens</title>
<link rel="icon" href="{ICON}">
<link rel="stylesheet" href="/assets/app.css">
<script type="module" src="/assets/main.js"></script>
</head>
<body><div id="app"></div>
<noscript>Userlens needs JavaScript in the browser.</noscript>
</body>
</html>
"""

SECURITY_HEADERS = {
    # Scripts only from this server. The replay player rebuilds recorded pages in a
    # sandboxed frame (no scripts there, ever) with their own styles, images and fonts.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline' https: http:; "
        "img-src 'self' data: blob: https: http:; font-src 'self' data: https: http:; "
        "media-src 'self' data: blob: https: http:; connect-src 'self'; frame-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
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
@router.get("/account")
def top_page() -> HTMLResponse:
    return _shell()


@router.get("/replay/{rest:path}")
@router.get("/projects/{rest:path}")
def project_page(rest: str) -> HTMLResponse:
    del rest  # the app reads the path itself
    return _shell()


@router.get("/assets/{name}")
def asset(name: str, request: Request) -> Response:
    """A built file. Chunks are named by their content's hash, so a browser keeps them for
    good; `main.js` and `app.css` keep their names and are checked again (a 304 when the
    browser's copy is current)."""
    found = _ASSET.fullmatch(name)
    if found is None:
        raise HTTPException(404, detail={"error": "not_found", "detail": "no such file"})
    path = UI_DIST / name
    if not path.is_file():
        raise HTTPException(
            404, detail={"error": "not_built", "detail": "the web app is not built: run make"}
        )
    stat = path.stat()
    tag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
    cache = "public, max-age=31536000, immutable" if _HASHED.fullmatch(name) else "no-cache"
    headers = {"Cache-Control": cache, "ETag": tag, "X-Content-Type-Options": "nosniff"}
    if tag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return FileResponse(path, media_type=TYPES[found.group(1)], headers=headers)
