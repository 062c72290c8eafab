"""Fixtures of the ASGI tests: the anyio backends, IPv6 probing, captured ``dsexec.http`` logs.

``@pytest.mark.anyio`` tests here run on asyncio, trio and (when installed) uvloop;
``@pytest.mark.ipv6`` tests are skipped where ``::1`` cannot be bound.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator

import pytest
from tests.http.asgi._support import Records, has_ipv6_loopback

_BACKENDS = [pytest.param("asyncio", id="asyncio"), pytest.param("trio", id="trio")]
if importlib.util.find_spec("uvloop") is not None:
    _BACKENDS.append(pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"))


@pytest.fixture(params=_BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> object:
    """The anyio backend (name, or name and options) of an ``@pytest.mark.anyio`` test."""
    return request.param


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("ipv6") is not None and not has_ipv6_loopback():
        pytest.skip("needs an IPv6 loopback (::1 cannot be bound here)")


@pytest.fixture
def http_log() -> Iterator[Records]:
    """The ``dsexec.http`` log records of the test."""
    records = Records()
    logger = logging.getLogger("dsexec.http")
    logger.addHandler(records)
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        logger.removeHandler(records)
        logger.setLevel(previous)
