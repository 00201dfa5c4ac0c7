"""The package layout rules of CONTRACTS.md section 1, checked on the source tree."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("models", "implementation", "properties", "histories", "reports")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _packages_on_disk() -> set[str]:
    found = set()
    for folder in FOLDERS:
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join(("replicheck", folder, *rel.parts)))
    return found


def _shipped_modules() -> list[Path]:
    return [p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py")]


def test_every_package_folder_is_listed_in_pyproject() -> None:
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    on_disk = _packages_on_disk()
    assert on_disk - listed == set(), "add these packages to pyproject.toml"
    assert listed - on_disk == set(), "these listed packages have no folder"


def test_package_dir_maps_each_top_folder() -> None:
    mapping = _pyproject()["tool"]["setuptools"]["package-dir"]
    assert mapping == {f"replicheck.{f}": f for f in FOLDERS}


def test_each_top_folder_ships_py_typed() -> None:
    for folder in FOLDERS:
        assert (ROOT / folder / "py.typed").is_file(), folder


@pytest.mark.parametrize("path", _shipped_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_modules_use_absolute_imports(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    relative = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level]
    assert relative == [], f"relative imports at lines {relative}"


@pytest.mark.parametrize(
    "path",
    [p for p in _shipped_modules() if p.name == "__init__.py"],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_package_inits_have_no_side_effects(path: Path) -> None:
    """An __init__ may hold a docstring, imports and __all__; no calls, no I/O."""
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.Assign) and all(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            continue
        raise AssertionError(f"{path.name}: line {node.lineno} is not side-effect free")


def test_models_import_nothing_else_of_replicheck() -> None:
    for path in (ROOT / "models").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if name.startswith("replicheck."):
                    assert name.startswith("replicheck.models"), f"{path}: imports {name}"


def test_histories_never_import_implementation() -> None:
    for path in (ROOT / "histories").rglob("*.py"):
        assert "replicheck.implementation" not in path.read_text(), path


def test_plugin_import_is_cheap() -> None:
    code = (
        "import sys, replicheck.properties.plugin\n"
        "heavy = sorted(m for m in ('z3', 'networkx', 'boto3') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
