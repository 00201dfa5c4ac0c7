"""Fixtures for the history tests: the shared porcupine corpus, and record strategies."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def porcupine_root() -> Path | None:
    """The porcupine corpus: $REPLICHECK_CORPUS/porcupine, else ../shared/corpus/porcupine
    next to the repository; None when absent."""
    env = os.environ.get("REPLICHECK_CORPUS")
    base = Path(env) if env else ROOT.parent / "shared" / "corpus"
    root = base / "porcupine"
    return root if (root / "manifest.json").is_file() else None


SKIP_REASON = ("the shared porcupine corpus is absent (expected ../shared/corpus/porcupine "
               "next to the repository, or set REPLICHECK_CORPUS)")


def porcupine_files() -> list[str]:
    """The histories of the corpus, relative to its root: every file the manifest lists,
    plus jepsen/etcd_095.log (empty, left out of the manifest)."""
    root = porcupine_root()
    if root is None:
        return []
    manifest = json.loads((root / "manifest.json").read_text())
    files = [entry["file"] for entry in manifest["histories"]]
    if (root / "jepsen" / "etcd_095.log").is_file():
        files.append("jepsen/etcd_095.log")
    return files


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "porcupine_file" in metafunc.fixturenames:
        files: list[object] = list(porcupine_files())
        params = files or [pytest.param(None, marks=pytest.mark.skip(reason=SKIP_REASON))]
        metafunc.parametrize("porcupine_file", params)


@pytest.fixture
def porcupine() -> Path:
    """The porcupine corpus root; skips the test when the corpus is absent."""
    root = porcupine_root()
    if root is None:
        pytest.skip(SKIP_REASON)
    return root
