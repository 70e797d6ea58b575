"""What the benchmarks share for running our server: a free port and the `userlens` command."""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def userlens_exe() -> Path:
    for candidate in (
        Path(sys.executable).parent / "userlens",
        REPO / ".venv" / "bin" / "userlens",
    ):
        if candidate.exists():
            return candidate
    found = shutil.which("userlens")
    if found is None:
        raise SystemExit("cannot find the `userlens` command; run `make setup` first")
    return Path(found)
