"""A tiny static server for the Lensware Shop fixture (``tests/e2e/shop``).

Every extensionless GET path gets ``index.html`` with its ``<!--ANALYTICS-->`` placeholder
replaced by the snippet a test supplies, so any route of the single-page app loads directly.
``/api/stock`` answers JSON; the paths (with query strings) of ``/api/*`` requests are kept in
``ShopServer.requests``.
"""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path, PurePosixPath
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

SHOP_DIR = Path(__file__).resolve().parent / "shop"
PLACEHOLDER = "<!--ANALYTICS-->"

_CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}


class _ShopHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, shop: ShopServer) -> None:
        self.shop = shop
        super().__init__(("127.0.0.1", 0), _ShopHandler)


class _ShopHandler(http.server.BaseHTTPRequestHandler):
    server: _ShopHTTPServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        if path.startswith("/api/"):
            self.server.shop._record(self.path)
            if path == "/api/stock":
                sku = parse_qs(parts.query).get("sku", [""])[0]
                body = json.dumps({"sku": sku, "in_stock": True}).encode()
                self._send(200, "application/json", body)
            else:
                self._send(404, "application/json", b'{"error": "not found"}')
            return
        name = PurePosixPath(path).name
        if path == "/index.html" or "." not in name:
            self._send(200, _CONTENT_TYPES[".html"], self.server.shop.index_html().encode())
            return
        file = SHOP_DIR / name
        content_type = _CONTENT_TYPES.get(file.suffix)
        if path != f"/{name}" or name.startswith(".") or content_type is None or not file.is_file():
            self._send(404, "text/plain; charset=utf-8", b"not found")
            return
        self._send(200, content_type, file.read_bytes())

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


class ShopServer:
    """Serves the shop fixture on 127.0.0.1, on a free port, from a daemon thread."""

    def __init__(self, snippet_html: str) -> None:
        self.snippet_html = snippet_html
        self.requests: list[str] = []
        self.base_url = ""
        self._lock = threading.Lock()
        self._httpd: _ShopHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def index_html(self) -> str:
        page = (SHOP_DIR / "index.html").read_text(encoding="utf-8")
        return page.replace(PLACEHOLDER, self.snippet_html)

    def _record(self, path: str) -> None:
        with self._lock:
            self.requests.append(path)

    def start(self) -> str:
        """Start serving; return the base URL, e.g. ``http://127.0.0.1:PORT``."""
        if self._httpd is not None:
            raise RuntimeError("ShopServer already started")
        httpd = _ShopHTTPServer(self)
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="shop-server", daemon=True)
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
        return self.base_url

    def stop(self) -> None:
        """Stop serving (safe to call twice)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ShopServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
