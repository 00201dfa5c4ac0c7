"""replicheck's own test suite runs under the replicheck Hypothesis profile chosen by
``--replicheck-profile`` / ``REPLICHECK_PROFILE`` / ``CI`` (properties/profiles.py).

Loading it here is confined to this repository's tests; the plugin itself never loads
a profile globally.
"""

from __future__ import annotations

import pytest
from hypothesis import settings

from replicheck.properties.plugin import active_profile
from replicheck.properties.profiles import PREFIX


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    settings.load_profile(f"{PREFIX}{active_profile(config)}")
