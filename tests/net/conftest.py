"""Fixtures of the dsexec.net tests: loops, fd counting, client sockets, IPv6 probing.

``@pytest.mark.ipv6`` tests are skipped where ``::1`` cannot be bound (no IPv6 loopback).
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
from collections.abc import Callable, Iterator

import pytest

import dsexec as ex
from dsexec.net import Socket, create_acceptor, get_socket_factory
from dsexec.testing import FaultySocketFactory, inject_socket_faults


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


@pytest.fixture
def ctx() -> Iterator[ex.IoContext]:
    """A fresh IoContext, closed after the test."""
    with ex.IoContext() as context:
        yield context


@pytest.fixture
def open_fds() -> Callable[[], int]:
    """Count this process's open fds (``/proc/self/fd``)."""
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd to count open fds")

    def count() -> int:
        return len(os.listdir("/proc/self/fd"))

    return count


@pytest.fixture
def cleanup() -> Iterator[contextlib.ExitStack]:
    """An ExitStack closed at teardown: ``cleanup.enter_context(acceptor)``."""
    with contextlib.ExitStack() as stack:
        yield stack


@pytest.fixture
def client(cleanup: contextlib.ExitStack) -> Callable[[str, int], socket.socket]:
    """``client(host, port)``: a connected blocking client socket (closed at teardown)."""

    def connect(host: str, port: int) -> socket.socket:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        cleanup.enter_context(sock)
        sock.settimeout(10)
        sock.connect((host, port))
        return sock

    return connect


def _make_pair(cleanup: contextlib.ExitStack) -> tuple[Socket, Socket]:
    acceptor = cleanup.enter_context(create_acceptor(0, "127.0.0.1"))
    raw_client = get_socket_factory().socket(socket.AF_INET, socket.SOCK_STREAM, 0)
    raw_client.connect(("127.0.0.1", acceptor.port))
    client = cleanup.enter_context(Socket(raw_client))
    conn, _address = acceptor.sockets[0].accept()
    server = cleanup.enter_context(Socket(conn))
    acceptor.close()
    return server, client


@pytest.fixture
def tcp_pair(cleanup: contextlib.ExitStack) -> tuple[Socket, Socket]:
    """A connected (server, client) pair of dsexec Sockets over 127.0.0.1 (closed at
    teardown)."""
    return _make_pair(cleanup)


@pytest.fixture
def faults() -> Iterator[FaultySocketFactory]:
    """A FaultySocketFactory installed for the test."""
    with inject_socket_faults() as factory:
        yield factory


@pytest.fixture
def faulty_pair(
    faults: FaultySocketFactory, cleanup: contextlib.ExitStack
) -> tuple[Socket, Socket]:
    """Like ``tcp_pair``, but both sockets consult ``faults`` before recv/send."""
    return _make_pair(cleanup)
