"""Fixtures of the reliability suites: the document root the server under test serves."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.reliability._harness import make_site


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example site plus a 6 MB ``big.bin``, shared by the whole run (read-only)."""
    return make_site(tmp_path_factory.mktemp("site"))
