"""Download size of the Userlens browser snippet and recorder, against posthog-js and rrweb.

Run it with `.venv/bin/python bench/sdk_size.py` (part of `make bench`). It is a benchmark, not
a test: it prints a table and, as its last line, one JSON object with every figure.

What it does:

1. Rebuilds `sdk/dist/` with `node build.mjs` (esbuild, minified), so the figures are of the
   current source (`--no-build` measures what is there).
2. Measures each bundle minified (as served), gzipped (Python's gzip, level 9) and
   brotli-compressed (quality 11, the `brotli` package), in bytes:
   - our core snippet, `userlens.js`;
   - our recorder, `userlens-recorder.js` (loaded lazily by the core when a session is
     recorded);
   - core + recorder: the sum of the two, since they are two separate downloads;
   - posthog-js: `array.js` + `lazy-recorder.js` (the script-tag bundle and its lazily loaded
     recorder), summed the same way;
   - bare `@rrweb/record` (`rrweb-record.js`), the recording library both recorders embed.
3. Checks the targets: core <= 8 KiB gzip, core + recorder <= 30 KiB gzip (1 KiB = 1024 B).
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import brotli

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
SDK = REPO / "sdk"
DIST = SDK / "dist"
POSTHOG_DIST = SDK / "node_modules" / "posthog-js" / "dist"
KIB = 1024
TARGET_CORE_GZIP = 8 * KIB
TARGET_TOTAL_GZIP = 30 * KIB


@dataclass(frozen=True)
class Size:
    """Bytes of one bundle (or of several downloaded separately, summed)."""

    name: str
    files: tuple[str, ...]
    min: int
    gzip: int
    brotli: int

    def __add__(self, other: Size) -> Size:
        return Size(
            f"{self.name} + {other.name}",
            self.files + other.files,
            self.min + other.min,
            self.gzip + other.gzip,
            self.brotli + other.brotli,
        )

    def named(self, name: str) -> Size:
        return Size(name, self.files, self.min, self.gzip, self.brotli)


def measure(name: str, path: Path) -> Size:
    raw = path.read_bytes()
    return Size(
        name,
        (str(path.relative_to(REPO)),),
        len(raw),
        len(gzip.compress(raw, compresslevel=9, mtime=0)),
        len(brotli.compress(raw, quality=11)),
    )


def build() -> None:
    print("building sdk/dist with `node build.mjs`", flush=True)
    subprocess.run(["node", "build.mjs"], cwd=SDK, check=True, timeout=300)


def _kib(n: int) -> str:
    return f"{n / KIB:.1f} KiB"


def _print_table(rows: list[Size], posthog: Size) -> None:
    print(f"{'bundle':<34} {'min':>10} {'min+gzip':>10} {'min+brotli':>11} {'gzip vs posthog':>16}")
    for row in rows:
        ratio = row.gzip / posthog.gzip if posthog.gzip else 0.0
        print(
            f"{row.name:<34} {_kib(row.min):>10} {_kib(row.gzip):>10} {_kib(row.brotli):>11} "
            f"{ratio:>15.3f}x"
        )
    print("(1 KiB = 1024 bytes; gzip level 9, brotli quality 11; sums are separate downloads)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Min, gzip and brotli sizes of the Userlens snippet against posthog-js."
    )
    parser.add_argument(
        "--no-build", action="store_true", help="Measure sdk/dist as it is, without rebuilding."
    )
    args = parser.parse_args(argv)
    if not args.no_build:
        build()

    core = measure("userlens core (userlens.js)", DIST / "userlens.js")
    recorder = measure("userlens recorder", DIST / "userlens-recorder.js")
    total = (core + recorder).named("userlens core + recorder")
    ph_array = measure("posthog-js array.js", POSTHOG_DIST / "array.js")
    ph_recorder = measure("posthog-js lazy-recorder.js", POSTHOG_DIST / "lazy-recorder.js")
    posthog = (ph_array + ph_recorder).named("posthog-js array + lazy-recorder")
    rrweb = measure("bare @rrweb/record", DIST / "rrweb-record.js")

    _print_table([core, recorder, total, ph_array, ph_recorder, posthog, rrweb], posthog)

    core_ok = core.gzip <= TARGET_CORE_GZIP
    total_ok = total.gzip <= TARGET_TOTAL_GZIP
    ratio = round(total.gzip / posthog.gzip, 3) if posthog.gzip else 0.0
    print(f"core + recorder vs posthog-js (gzip): {ratio:.3f}x")
    print(f"recorder over bare @rrweb/record (gzip): {recorder.gzip - rrweb.gzip:+,} bytes")
    print("targets:")
    print(
        f"  core <= {_kib(TARGET_CORE_GZIP)} gzip: {_kib(core.gzip)} "
        f"{'met' if core_ok else 'NOT MET'}"
    )
    print(
        f"  core + recorder <= {_kib(TARGET_TOTAL_GZIP)} gzip: {_kib(total.gzip)} "
        f"{'met' if total_ok else 'NOT MET'}",
        flush=True,
    )

    result: dict[str, object] = {"date": date.today().isoformat()}
    for key, size in (
        ("core", core),
        ("recorder", recorder),
        ("core_plus_recorder", total),
        ("posthog_array", ph_array),
        ("posthog_lazy_recorder", ph_recorder),
        ("posthog_total", posthog),
        ("rrweb_record", rrweb),
    ):
        result[f"{key}_min_bytes"] = size.min
        result[f"{key}_gzip_bytes"] = size.gzip
        result[f"{key}_brotli_bytes"] = size.brotli
    result["ratio_vs_posthog"] = ratio
    result["ratio_vs_posthog_brotli"] = (
        round(total.brotli / posthog.brotli, 3) if posthog.brotli else 0.0
    )
    result["target_core_gzip_bytes"] = TARGET_CORE_GZIP
    result["target_core_plus_recorder_gzip_bytes"] = TARGET_TOTAL_GZIP
    result["core_target_met"] = core_ok
    result["core_plus_recorder_target_met"] = total_ok
    result["targets_met"] = {"core": core_ok, "core_plus_recorder": total_ok}
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
