"""Profile choice and registration (CONTRACTS.md section 7)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import settings

from replicheck.properties.profiles import (
    PROFILES,
    UnknownProfile,
    choose_profile,
    register_profiles,
    settings_for,
)


@pytest.mark.parametrize(
    ("option", "environ", "expected"),
    [
        ("thorough", {"REPLICHECK_PROFILE": "quick", "CI": "true"}, "thorough"),
        (None, {"REPLICHECK_PROFILE": "thorough", "CI": "true"}, "thorough"),
        (None, {"CI": "true"}, "ci"),
        (None, {}, "quick"),
        (None, {"CI": ""}, "quick"),
    ],
)
def test_choice_order(option: str | None, environ: dict[str, str], expected: str) -> None:
    assert choose_profile(option, environ) == expected


@pytest.mark.parametrize(("option", "environ"), [("fast", {}), (None, {"REPLICHECK_PROFILE": "x"})])
def test_unknown_profile_is_refused_with_the_choices(
    option: str | None, environ: dict[str, str]
) -> None:
    with pytest.raises(UnknownProfile) as info:
        choose_profile(option, environ)
    for name in PROFILES:
        assert name in str(info.value)


def test_profiles_are_registered_under_prefixed_names() -> None:
    register_profiles()
    ci = settings.get_profile("replicheck-ci")
    assert ci.derandomize is True
    assert ci.database is None
    assert ci.deadline is None
    assert settings.get_profile("replicheck-thorough").max_examples > settings.get_profile(
        "replicheck-quick"
    ).max_examples
    assert settings_for("ci").derandomize is True


def _run_pytest(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )


def test_plugin_never_loads_a_profile_globally(tmp_path: Path) -> None:
    """A user's own test in a venv with replicheck keeps Hypothesis's own settings,
    even when replicheck's ci profile is chosen."""
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            from hypothesis import settings
            def test_default_untouched():
                assert settings._current_profile == "default"
                assert settings().derandomize is False
            """
        )
    )
    result = _run_pytest(tmp_path, "--replicheck-profile=ci")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "replicheck profile: ci" in result.stdout


def test_with_ci_set_hypothesis_keeps_its_own_ci_profile(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(
        "from hypothesis import settings\n"
        "def test_profile():\n"
        "    assert not settings._current_profile.startswith('replicheck-')\n"
    )
    result = _run_pytest(tmp_path, env={"CI": "true"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "replicheck profile: ci" in result.stdout


def test_unknown_profile_option_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n")
    result = _run_pytest(tmp_path, "--replicheck-profile=bogus")
    assert result.returncode == 4  # pytest's usage-error status
    assert "unknown replicheck profile 'bogus'" in result.stderr


def test_import_every_module_imports_every_module_of_the_package() -> None:
    """So that a derandomized search sees the same literals whatever ran before it."""
    script = textwrap.dedent("""
        import pkgutil, sys
        import replicheck
        from replicheck.properties.profiles import import_every_module
        names = [i.name for i in pkgutil.walk_packages(replicheck.__path__, "replicheck.")]
        assert "replicheck.reports.html" not in sys.modules
        import_every_module()
        import_every_module()  # idempotent
        missing = [n for n in names if n not in sys.modules]
        assert not missing, missing
        print(len(names))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 50


PROBE = """
import importlib, json, sys
from hypothesis import given, settings, strategies as st
from replicheck.properties.profiles import source_independent

folder, load, pinned = sys.argv[1], sys.argv[2] == "1", sys.argv[3] == "1"
if load:  # a local module whose source holds literals no other module has
    sys.path.insert(0, folder)
    importlib.import_module("replicheck_literals_probe")
seen = []

@settings(derandomize=True, max_examples=300, database=None)
@given(st.integers(0, 255))
def probe(x):
    seen.append(x)

if pinned:
    with source_independent():
        probe()
else:
    probe()
print(json.dumps(seen))
"""


def _draws(folder: Path, *, load: bool, pinned: bool) -> list[int]:
    """What a derandomized search draws from ``integers(0, 255)`` in a fresh
    interpreter, with or without a module of new literals loaded, with or without
    :func:`source_independent`."""
    import json

    out = subprocess.run([sys.executable, "-c", PROBE, str(folder), str(int(load)),
                          str(int(pinned))], capture_output=True, text=True, check=True,
                         timeout=120)
    return list(json.loads(out.stdout))


def test_a_derandomized_search_ignores_the_literals_of_loaded_modules(tmp_path: Path) -> None:
    values = ", ".join(str(v) for v in range(131, 255, 3))
    (tmp_path / "replicheck_literals_probe.py").write_text(f"LITERALS = ({values})\n")
    # without it, new literals move the search
    assert _draws(tmp_path, load=False, pinned=False) != _draws(tmp_path, load=True,
                                                                pinned=False)
    assert _draws(tmp_path, load=False, pinned=True) == _draws(tmp_path, load=True,
                                                               pinned=True)
