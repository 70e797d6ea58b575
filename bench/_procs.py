"""What the benchmarks share for running a server: a free port, the `userlens` command and
the server process itself."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
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


def clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    """A server subprocess on 127.0.0.1, its log in a file."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(cls, name: str, argv: list[str], env: dict[str, str], log_path: Path) -> Server:
        port = free_port()
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [*argv, "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )
        return cls(name, port, proc, log_path)

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        url = f"http://127.0.0.1:{self.port}/_health"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer /_health in {timeout_s:.0f} s")

    def _proc_status(self, key: str) -> int:
        """A `kB` value of /proc/<pid>/status, 0 if unknown."""
        try:
            text = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        return 0

    def peak_rss_mb(self) -> float:
        return self._proc_status("VmHWM") / 1024

    def rss_mb(self) -> float:
        return self._proc_status("VmRSS") / 1024

    def cpu_s(self) -> float:
        """User + system CPU time of the process, all its threads, so far."""
        try:
            stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        except OSError:
            return 0.0
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / clock_ticks()

    def stop(self, timeout_s: float = 90.0) -> int | None:
        """SIGTERM and wait for a graceful exit; kill if it takes longer. The exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
                return None
        return self.proc.returncode

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
