"""Imports point one way: cli -> web -> capture/demo -> replay -> store -> model (errors and
config are leaves)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "userlens"

# Higher layers may import lower ones, never the reverse. Features do not import each other.
LAYER = {
    "model": 0,
    "errors": 0,
    "config": 0,
    "store": 1,
    "replay": 2,
    "query": 2,
    "capture": 3,
    "demo": 3,
    "web": 4,
    "cli": 5,
    "__main__": 6,
    "__init__": 0,
}
FEATURES = {"capture", "demo"}


def _package_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return [m for m in found if m == "userlens" or m.startswith("userlens.")]


def test_every_package_has_a_layer() -> None:
    packages = {_package_of(p) for p in SRC.rglob("*.py")}
    assert packages <= set(LAYER), packages - set(LAYER)


def test_imports_point_down() -> None:
    wrong: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        source = _package_of(path)
        for module in _imports(path):
            parts = module.split(".")
            if len(parts) < 2:
                continue  # `import userlens` for __version__ only
            target = parts[1]
            if target == source:
                continue
            if target == "__init__" or (target not in LAYER):
                continue
            same_tier_features = source in FEATURES and target in FEATURES
            if (LAYER[target] >= LAYER[source] and target not in {"errors", "config", "model"}) or (
                same_tier_features
            ):
                wrong.append(f"{path.relative_to(SRC)} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_model_imports_nothing_of_ours_but_itself() -> None:
    for path in (SRC / "model").rglob("*.py"):
        outside = [m for m in _imports(path) if not m.startswith("userlens.model.")]
        assert outside == [], path
