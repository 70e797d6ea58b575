"""The README's quick start stays true: its commands exist and its settings are real."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import REPO, USERLENS, Env
from userlens.config import Settings

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_the_two_commands_are_make_targets() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    for target in ("run", "test"):
        assert f"make {target}" in README
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert "make test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_every_userlens_command_in_the_readme_exists() -> None:
    known = {"serve", "project", "create", "list", "user", "token", "demo", "backup"}
    commands = {
        tuple(w for w in found.split() if w in known)
        for found in re.findall(r"userlens ((?:[a-z]+ )*[a-z]+)", README)
    }
    commands.discard(())
    assert {("project", "create"), ("user", "create"), ("token", "create"), ("demo",)} <= commands
    for words in sorted(commands):
        result = subprocess.run(
            [str(USERLENS), *words, "--help"], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, f"userlens {' '.join(words)}: {result.stderr}"


def test_every_documented_setting_exists_and_every_setting_is_documented() -> None:
    documented = set(re.findall(r"`USERLENS_([A-Z_]+)`", README)) - {"CONFIG"}
    fields = {f.upper() for f in Settings.__dataclass_fields__}
    assert documented == fields


def test_capture_paths_in_the_readme_are_served(env: Env) -> None:
    for path in re.findall(r"`(/[a-z0-9/]+/)`", README):
        if path.startswith("/api"):
            continue
        assert env.app.capture.handles(path) or env.app.sdk.handles(path), path
