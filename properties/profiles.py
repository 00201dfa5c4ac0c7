"""Hypothesis profiles for replicheck's own properties.

Three profiles, registered with Hypothesis under prefixed names so they never clash
with a user's: ``replicheck-quick`` (the local edit loop), ``replicheck-ci``
(derandomized, no example database, no deadline) and ``replicheck-thorough``
(overnight). They are applied to replicheck's properties only, through
:func:`settings_for`; nothing here calls ``settings.load_profile``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping

from hypothesis import HealthCheck, settings

PROFILES: tuple[str, ...] = ("quick", "ci", "thorough")
"""The profile names a user may choose, weakest first."""

PREFIX = "replicheck-"
ENV_VAR = "REPLICHECK_PROFILE"


class UnknownProfile(ValueError):
    """A profile name that is not one of :data:`PROFILES`."""

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        super().__init__(
            f"unknown replicheck profile {name!r} (from {source}); "
            f"choose one of: {', '.join(PROFILES)}"
        )


def register_profiles() -> None:
    """Register the three profiles with Hypothesis (idempotent, no other effect)."""
    common: dict[str, object] = {
        "deadline": None,
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    }
    settings.register_profile(f"{PREFIX}quick", max_examples=50, **common)  # type: ignore[arg-type]
    settings.register_profile(
        f"{PREFIX}ci",
        max_examples=100,
        derandomize=True,
        database=None,
        print_blob=True,
        **common,  # type: ignore[arg-type]
    )
    settings.register_profile(
        f"{PREFIX}thorough",
        max_examples=2000,
        **common,  # type: ignore[arg-type]
    )


def choose_profile(option: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The profile in force: the command-line option if given, else
    ``REPLICHECK_PROFILE``, else ``ci`` when ``CI`` is set, else ``quick``.

    Raises :class:`UnknownProfile` for a name that is not a profile."""
    env = os.environ if environ is None else environ
    if option:
        name, source = option, "--replicheck-profile"
    elif env.get(ENV_VAR):
        name, source = env[ENV_VAR], ENV_VAR
    elif env.get("CI"):
        name, source = "ci", "CI"
    else:
        name, source = "quick", "default"
    if name not in PROFILES:
        raise UnknownProfile(name, source)
    return name


def settings_for(name: str) -> settings:
    """The Hypothesis settings object of profile ``name`` (registering it if needed)."""
    if name not in PROFILES:
        raise UnknownProfile(name, "settings_for")
    try:
        return settings.get_profile(f"{PREFIX}{name}")
    except Exception:
        register_profiles()
        return settings.get_profile(f"{PREFIX}{name}")


SUBPACKAGES: tuple[str, ...] = ("models", "implementation", "properties", "histories",
                                "reports")
"""The top-level subpackages of the ``replicheck`` namespace package (one source folder
each; pyproject.toml's ``packages`` lists them and their subpackages)."""


def every_module() -> tuple[str, ...]:
    """The names of every module and package of replicheck, sorted, found the same way
    under every install: a wheel, a strict editable install and setuptools' default
    editable install.

    Each of :data:`SUBPACKAGES` is walked through its own ``__path__`` (a real folder
    under every install). Walking the namespace package's ``replicheck.__path__``
    finds nothing under the default editable install, whose path entry is a
    placeholder its import hook answers (pkgutil cannot list it). A subpackage that
    cannot be imported is passed over, as are its modules that cannot be (their
    names are still listed when pkgutil finds them)."""
    import importlib
    import pkgutil

    names: set[str] = set()
    for sub in SUBPACKAGES:
        try:
            package = importlib.import_module(f"replicheck.{sub}")
        except Exception:  # an optional part that cannot load
            continue
        names.add(package.__name__)
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".",
                                          onerror=lambda name: None):
            names.add(info.name)
    return tuple(sorted(names))


def import_every_module() -> None:
    """Import every module of replicheck (:func:`every_module`) once (idempotent; a
    module that cannot be imported, e.g. for a missing optional dependency, is passed
    over).

    Hypothesis draws some text values from the string literals of the modules
    imported so far, so without this a derandomized search would depend on what ran
    earlier in the process: ``replicheck mutants`` would find another first failure
    for a mutant run after the others than for the same mutant run alone. With every
    module imported first, each run sees the same literals, whichever way replicheck
    was installed (README's ``pip install -e .`` as the tests' strict install)."""
    import importlib

    for name in every_module():
        try:
            importlib.import_module(name)
        except Exception:  # an optional part that cannot load
            continue


@contextlib.contextmanager
def source_independent() -> Iterator[None]:
    """Within the block, Hypothesis draws no values from the literals of the loaded
    modules' source.

    Hypothesis draws about one value in twenty from a pool of the constants written
    in the source of every local module loaded (not those in site-packages), so a
    derandomized run's path would move with any integer literal edited anywhere in
    replicheck, with the modules imported so far, and with the install (an editable
    install is local, a regular one is not). replicheck's properties run with that
    pool empty: the ``ci`` profile's search is then fixed by the properties alone,
    the same for ``pip install -e .`` and ``pip install .``. Hypothesis's own
    built-in constants still apply. A Hypothesis without the pool: no effect."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a Hypothesis laid out differently
        yield
        return
    original = getattr(providers, "_get_local_constants", None)
    empty = getattr(providers, "Constants", None)
    cache = getattr(providers, "CONSTANTS_CACHE", None)
    if original is None or empty is None or cache is None:  # pragma: no cover
        yield
        return
    none = empty()
    cache.cache.clear()
    providers._get_local_constants = lambda: none
    try:
        yield
    finally:
        providers._get_local_constants = original
        cache.cache.clear()
