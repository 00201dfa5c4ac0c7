"""The pytest plugin (entry point ``pytest11``): options, markers, the store fixtures,
profile choice and the observations summary (CONTRACTS.md section 7).

Importing this module is cheap: it imports neither z3, networkx nor boto3 (nor the
checkers). It is loaded in every pytest run of an environment where replicheck is
installed, so it changes nothing for tests that are not replicheck's: the chosen
Hypothesis profile is only *registered* here, never loaded globally, and the
observations section appears only when replicheck's machines ran.

Options
    ``--store TARGET``: a preset name, ``mutant:NAME`` (a mutant of the reference
    store) or ``package.module:factory`` (default: the ``dynamodb`` preset). A
    TARGET that cannot be resolved, or whose factory raises, returns something
    that is not a store or does not return within the call timeout, is a usage
    error (exit status 4) with one line: what was looked up, what was found (the
    presets, or what the factory did).
    ``--replicheck-call-timeout S``: seconds a store call may take (default 30, a
    finite number > 0); a call that does not return within S fails its property
    with one line naming the call.
    ``--replicheck-profile NAME``: the Hypothesis profile of replicheck's properties.

Environment
    ``REPLICHECK_MAX_EXAMPLES``: an upper bound on the examples per property (a
    positive integer), on top of the profile; for smoke runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from replicheck.properties.profiles import PROFILES, UnknownProfile, choose_profile

_PROFILE_KEY = pytest.StashKey[str]()
_FACTORY_KEY = pytest.StashKey[Callable[[], Any]]()
_TARGET_KEY = pytest.StashKey[str]()
_CALL_TIMEOUT_KEY = pytest.StashKey[float]()

MUTANT_PREFIX = "mutant:"
"""How a ``--store`` target names a mutant of the reference store (``mutant:NAME``)."""

MAX_EXAMPLES_ENV = "REPLICHECK_MAX_EXAMPLES"
"""Environment variable capping the examples per replicheck property."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add replicheck's command-line options."""
    group = parser.getgroup("replicheck", "replicheck consistency verification")
    group.addoption(
        "--replicheck-profile",
        action="store",
        default=None,
        metavar="NAME",
        help=f"Hypothesis profile for replicheck's properties: {', '.join(PROFILES)} "
        "(default: $REPLICHECK_PROFILE, else ci when $CI is set, else quick)",
    )
    group.addoption(
        "--store",
        action="store",
        default=None,
        metavar="TARGET",
        help="store under test: a preset (dynamodb, dynamo-lww, dynamo-quorum, "
        "global-tables), mutant:NAME or package.module:factory (default: dynamodb)",
    )
    group.addoption(
        "--replicheck-call-timeout",
        action="store",
        default=None,
        metavar="S",
        help="seconds a store call may take, a finite number > 0 (default 30): a call "
        "that does not return within S fails its property, naming the call",
    )


def _guarantee_ids() -> tuple[str, ...]:
    from replicheck.models.guarantees import GUARANTEES, MECHANISM_PROMISES

    return GUARANTEES + MECHANISM_PROMISES


def pytest_configure(config: pytest.Config) -> None:
    """Choose and register the profile, register the guarantee markers, and resolve
    an explicit ``--store``; an unknown profile or store is a usage error."""
    try:
        name = choose_profile(config.getoption("--replicheck-profile"))
    except UnknownProfile as error:
        raise pytest.UsageError(str(error)) from None
    from replicheck.properties.profiles import register_profiles

    register_profiles()
    config.stash[_PROFILE_KEY] = name
    for guarantee in _guarantee_ids():
        config.addinivalue_line(
            "markers", f"{guarantee.replace('-', '_')}: checks the guarantee {guarantee}")
    config.stash[_CALL_TIMEOUT_KEY] = _call_timeout(
        config.getoption("--replicheck-call-timeout"))
    target = config.getoption("--store")
    if target is not None:
        config.stash[_FACTORY_KEY] = _resolve(target)
        config.stash[_TARGET_KEY] = target
        _check_factory(target, config.stash[_CALL_TIMEOUT_KEY])


def _call_timeout(raw: str | None) -> float:
    import math

    if raw is None:
        return 30.0
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise pytest.UsageError(f"--replicheck-call-timeout={raw!r}: expected a finite "
                                "number of seconds > 0")
    return seconds


def _check_factory(target: str, call_timeout: float) -> None:
    """A usage error (one line) when the factory of ``target`` raises, returns
    something that is not a store, or does not return within ``call_timeout``."""
    from replicheck.properties.engine import BadStore, check_target

    try:
        check_target(target, call_timeout=call_timeout)
    except BadStore as error:
        raise pytest.UsageError(error.line) from None


def call_timeout(config: pytest.Config) -> float:
    """The ``--replicheck-call-timeout`` of this run (seconds)."""
    return config.stash.get(_CALL_TIMEOUT_KEY, 30.0)


def _resolve(target: str | None) -> Callable[[], Any]:
    """The factory of ``target``: a preset, ``mutant:NAME`` (a mutant of the reference
    store, as ``replicheck verify --store`` takes it) or ``package.module:factory``."""
    from replicheck.implementation.presets import UnknownStore, resolve_target

    try:
        if target is not None and target.startswith(MUTANT_PREFIX):
            from replicheck.implementation.mutants import mutant

            try:
                found = mutant(target[len(MUTANT_PREFIX):])
            except KeyError as error:
                raise UnknownStore(str(error.args[0])) from None
            return lambda: found.build(0)
        return resolve_target(target)
    except UnknownStore as error:
        raise pytest.UsageError(str(error)) from None


def active_profile(config: pytest.Config) -> str:
    """The replicheck profile chosen for this pytest run."""
    return config.stash.get(_PROFILE_KEY, "quick")


def store_target(config: pytest.Config) -> str:
    """The ``--store`` target of this run (the default preset when not given)."""
    from replicheck.implementation.presets import DEFAULT_PRESET

    return config.stash.get(_TARGET_KEY, DEFAULT_PRESET)


def max_examples_cap(environ: dict[str, str] | None = None) -> int | None:
    """The ``REPLICHECK_MAX_EXAMPLES`` cap, or None; a usage error when it is not a
    positive integer."""
    raw = (os.environ if environ is None else environ).get(MAX_EXAMPLES_ENV)
    if not raw:
        return None
    try:
        cap = int(raw)
    except ValueError:
        cap = 0
    if cap < 1:
        raise pytest.UsageError(f"{MAX_EXAMPLES_ENV}={raw!r}: expected a positive integer")
    return cap


def pytest_report_header(config: pytest.Config) -> str:
    """Say which replicheck profile is in force."""
    return f"replicheck profile: {active_profile(config)}"


@pytest.fixture(scope="session")
def store_factory(pytestconfig: pytest.Config) -> Callable[[], Any]:
    """The zero-argument factory of the store under test (``--store``): the suite
    calls it once per Hypothesis example."""
    factory = pytestconfig.stash.get(_FACTORY_KEY, None)
    if factory is None:
        factory = _resolve(None)
        pytestconfig.stash[_FACTORY_KEY] = factory
    return factory


@pytest.fixture
def store(store_factory: Callable[[], Any]) -> Iterator[Any]:
    """One fresh store from the factory, closed after the test."""
    made = store_factory()
    try:
        yield made
    finally:
        close = getattr(made, "close", None)
        if callable(close):
            close()


@pytest.fixture
def replicheck_settings(pytestconfig: pytest.Config) -> Any:
    """The Hypothesis settings of the chosen profile, capped by
    ``REPLICHECK_MAX_EXAMPLES`` when set."""
    from hypothesis import settings

    from replicheck.properties.profiles import settings_for

    chosen = settings_for(active_profile(pytestconfig))
    cap = max_examples_cap()
    if cap is not None and cap < chosen.max_examples:
        chosen = settings(chosen, max_examples=cap)
    return chosen


def require(descriptor: Any, *capabilities: str) -> None:
    """Skip the calling test, naming what is missing, unless the store described by
    ``descriptor`` declares every capability."""
    missing = [c for c in capabilities if not descriptor.has(c)]
    if missing:
        pytest.skip(f"not applicable: {descriptor.name} lacks the capabilit"
                    f"{'y' if len(missing) == 1 else 'ies'} {', '.join(missing)}")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int,
                            config: pytest.Config) -> None:
    """List the observations (anomalies the store does not claim to prevent) made by
    replicheck's properties in this run, under "replicheck observations"."""
    verdicts = sys.modules.get("replicheck.properties.verdicts")
    if verdicts is None:
        return
    observations = list(getattr(verdicts, "OBSERVATIONS", ()))
    if not observations:
        return
    terminalreporter.section("replicheck observations")
    groups: dict[tuple[str, str], list[str]] = {}
    for observation in observations:
        lines = observation.explanation.splitlines()
        detail = lines[1].strip() if len(lines) > 1 else lines[0] if lines else ""
        groups.setdefault((observation.store, observation.guarantee), []).append(detail)
    for (store_name, guarantee), details in groups.items():
        terminalreporter.write_line(
            f"{store_name}: {guarantee} observed (not claimed) in {len(details)} "
            f"example(s); first: {details[0][:160]}")
