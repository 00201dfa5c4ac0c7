"""replicheck's own test suite runs under the replicheck Hypothesis profile chosen by
``--replicheck-profile`` / ``REPLICHECK_PROFILE`` / ``CI`` (properties/profiles.py).

Loading it here is confined to this repository's tests; the plugin itself never loads
a profile globally.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from replicheck.properties.plugin import active_profile
from replicheck.properties.profiles import PREFIX


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    settings.load_profile(f"{PREFIX}{active_profile(config)}")


def corpus_root() -> Path | None:
    """Where the shared corpora are: $REPLICHECK_CORPUS, else ../shared/corpus."""
    env = os.environ.get("REPLICHECK_CORPUS")
    root = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
    return root if root.is_dir() else None
