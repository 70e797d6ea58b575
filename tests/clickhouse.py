"""ClickHouse stores for tests. chDB runs one ClickHouse engine per process, on one folder:
every store of a test run lives in that folder, each in a database of its own. The HTTP
transport is tested against a small stand-in for a ClickHouse server's HTTP interface that
runs the same engine (a ClickHouse server cannot run here)."""

from __future__ import annotations

import atexit
import gzip
import itertools
import re
import shutil
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import lz4.frame
import pyarrow as pa
import zstandard

from userlens.store.clickhouse import ChdbTransport, ClickHouseEventStore, HttpTransport
from userlens.store.clickhouse.transport import QueryFailed

CHDB_DIR = Path(tempfile.mkdtemp(prefix="userlens-chdb-"))
atexit.register(shutil.rmtree, CHDB_DIR, ignore_errors=True)
_numbers = itertools.count()


def clickhouse_store(database: str | None = None) -> ClickHouseEventStore:
    """The store in `database` (opened again if it exists), or in a new database."""
    return ClickHouseEventStore(ChdbTransport(CHDB_DIR), database or f"t{next(_numbers)}")


class _Handler(BaseHTTPRequestHandler):
    """The part of ClickHouse's HTTP interface a client uses: the query in the body or the
    `query` argument (data in the body for an INSERT), `param_<name>` values, `FORMAT` at the
    end; errors as 500 with ClickHouse's message. Runs on the process's chDB engine."""

    transport: ChdbTransport

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read answers, not access logs."""

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            body = b"".join(parts)
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = self.headers.get("Content-Encoding", "").lower()
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "lz4":
            body = lz4.frame.decompress(body)
        elif encoding == "zstd":
            body = zstandard.ZstdDecompressor().decompressobj().decompress(body)
        elif encoding:
            raise ValueError(f"unknown Content-Encoding {encoding}")
        return body

    def _answer(self) -> None:
        args = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query, True).items()}
        body = self._body()
        kind, _, rest = self.headers.get("Content-Type", "").partition(";")
        if kind.strip() == "multipart/form-data":  # the query and long values as form fields
            args.update(_form_fields(body, rest.split("boundary=")[1].strip().strip('"')))
            body = b""
        params = {k.removeprefix("param_"): v for k, v in args.items() if k.startswith("param_")}
        sql = args.get("query", "")
        try:
            if re.match(r"\s*INSERT\b", sql, re.IGNORECASE):
                self._insert(sql, body)
                out, fmt = b"", "TabSeparated"
            else:
                sql = f"{sql}\n{body.decode()}" if sql else body.decode()
                sql, fmt = _split_format(sql, args.get("default_format", "TabSeparated"))
                out = self.transport.output(sql, fmt, params)
        except QueryFailed as exc:
            message = f"Code: 0. DB::Exception: {exc}".encode()
            self._send(500, message, {"X-ClickHouse-Exception-Code": "0"})
            return
        self._send(200, out, {"X-ClickHouse-Format": fmt, "X-ClickHouse-Timezone": "UTC"})

    def _insert(self, sql: str, body: bytes) -> None:
        found = _INSERT.match(sql)
        if found is None:
            raise QueryFailed(f"this stand-in takes INSERT ... FORMAT Arrow, not {sql[:80]!r}")
        table = pa.ipc.open_file(pa.BufferReader(body)).read_all()
        if found.group(2):
            names = [c.strip().strip('`"') for c in found.group(2).split(",")]
            table = table.rename_columns(names)
        self.transport.insert(found.group(1), table)

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


_INSERT = re.compile(r"\s*INSERT\s+INTO\s+(\S+)\s*(?:\(([^)]*)\))?\s*FORMAT\s+Arrow\s*$", re.I)


def _form_fields(body: bytes, boundary: str) -> dict[str, str]:
    fields = {}
    for part in body.split(b"--" + boundary.encode())[1:-1]:
        part = part.removeprefix(b"\r\n").removesuffix(b"\r\n")
        head, _, value = part.partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"', head)
        if name is not None:
            fields[name.group(1).decode()] = value.decode()
    return fields


def _split_format(sql: str, default: str) -> tuple[str, str]:
    found = re.search(r"\bFORMAT\s+(\w+)\s*;?\s*$", sql, re.IGNORECASE)
    if found is None:
        return sql, default
    return sql[: found.start()], found.group(1)


_SERVER: list[str] = []


def clickhouse_http_url() -> str:
    """A ClickHouse HTTP endpoint on loopback for this test run, answered by chDB (a real
    ClickHouse server is not available here; the SQL is executed by ClickHouse's engine)."""
    if not _SERVER:
        handler = type("Handler", (_Handler,), {"transport": ChdbTransport(CHDB_DIR)})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        atexit.register(server.server_close)
        atexit.register(server.shutdown)
        _SERVER.append(f"http://127.0.0.1:{server.server_address[1]}")
    return _SERVER[0]


def clickhouse_http_store(database: str | None = None) -> ClickHouseEventStore:
    """Like `clickhouse_store`, through the HTTP transport."""
    transport = HttpTransport(clickhouse_http_url())
    return ClickHouseEventStore(transport, database or f"h{next(_numbers)}")
