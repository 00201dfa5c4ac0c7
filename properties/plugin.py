"""The pytest plugin (entry point ``pytest11``): options and profile choice.

Importing this module is cheap: it imports neither z3, networkx nor boto3. It is
loaded in every pytest run of an environment where replicheck is installed, so it
changes nothing for tests that are not replicheck's: the chosen Hypothesis profile
is only *registered* here, never loaded globally.
"""

from __future__ import annotations

import pytest

from replicheck.properties.profiles import PROFILES, UnknownProfile, choose_profile

_PROFILE_KEY = pytest.StashKey[str]()


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


def pytest_configure(config: pytest.Config) -> None:
    """Choose and register the profile; an unknown name is a usage error."""
    try:
        name = choose_profile(config.getoption("--replicheck-profile"))
    except UnknownProfile as error:
        raise pytest.UsageError(str(error)) from None
    from replicheck.properties.profiles import register_profiles

    register_profiles()
    config.stash[_PROFILE_KEY] = name


def active_profile(config: pytest.Config) -> str:
    """The replicheck profile chosen for this pytest run."""
    return config.stash.get(_PROFILE_KEY, "quick")


def pytest_report_header(config: pytest.Config) -> str:
    """Say which replicheck profile is in force."""
    return f"replicheck profile: {active_profile(config)}"
