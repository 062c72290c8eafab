"""``@pytest.mark.ipv6`` example tests are skipped where ``::1`` cannot be bound (no IPv6
loopback), probed as tests/net/conftest.py does."""

from __future__ import annotations

import functools
import socket

import pytest


@functools.cache
def _has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("ipv6") is not None and not _has_ipv6_loopback():
        pytest.skip("needs an IPv6 loopback (::1 cannot be bound here)")
