"""Fixtures of the scheduler tests: the anyio backends ``AnyioScheduler`` runs on.

``@pytest.mark.anyio`` tests in this directory run on asyncio, trio and (when installed)
uvloop, through anyio's pytest plugin.
"""

from __future__ import annotations

import importlib.util

import pytest

_BACKENDS = [pytest.param("asyncio", id="asyncio"), pytest.param("trio", id="trio")]
if importlib.util.find_spec("uvloop") is not None:
    _BACKENDS.append(pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"))


@pytest.fixture(params=_BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> object:
    """The anyio backend (name, or name and options) of an ``@pytest.mark.anyio`` test."""
    return request.param
