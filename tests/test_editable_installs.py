"""replicheck finds the same modules whichever way it is installed: the tests' strict
editable install and README's ``pip install -e .`` (setuptools' default editable
install, whose namespace package ``replicheck`` has no folder pkgutil can list).
``import_every_module`` must import the same modules under both, or a derandomized
Hypothesis search of the main job would differ from the tests'."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_LIST = textwrap.dedent("""
    import json, os, pkgutil, sys
    import replicheck
    from replicheck.properties.profiles import every_module, import_every_module
    import_every_module()
    names = list(every_module())
    print(json.dumps({
        "modules": names,
        "imported": [n for n in names if n in sys.modules],
        "namespace_walk": [i.name for i in pkgutil.walk_packages(replicheck.__path__,
                                                                 "replicheck.")],
        "namespace_folders": [p for p in replicheck.__path__ if os.path.isdir(p)],
        "properties": os.path.dirname(sys.modules["replicheck.properties"].__file__),
    }))
""")


def _listed(python: Path | str, cwd: Path) -> dict[str, list[str]]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(python), "-c", _LIST], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    listed: dict[str, list[str]] = json.loads(done.stdout)
    return listed


@pytest.mark.install
def test_the_default_editable_install_finds_the_same_modules(tmp_path: Path) -> None:
    here = _listed(sys.executable, tmp_path)
    assert len(here["modules"]) > 50
    assert here["imported"] == here["modules"]

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=60)
    python = venv / "bin" / "python"
    purelib = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=60).stdout.strip())
    # this environment's packages (hypothesis, z3...) as a plain path: its .pth files,
    # the strict install's among them, are not processed there
    (purelib / "parent-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
         "--no-deps", "-e", str(ROOT)],
        capture_output=True, text=True, timeout=300, check=False)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    # setuptools' default (non-strict) editable install: an import hook, no folder
    assert list(purelib.glob("__editable___replicheck*_finder.py"))

    there = _listed(python, tmp_path)
    assert there["properties"] == str(ROOT / "properties")  # the source tree itself
    assert there["namespace_folders"] == []  # the path pkgutil cannot list...
    assert there["namespace_walk"] == []  # ...so walking the namespace finds nothing
    assert there["modules"] == here["modules"]
    assert there["imported"] == there["modules"]
