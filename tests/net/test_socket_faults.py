"""dsexec.testing's fault-injecting socket factory, through dsexec.net's factory seam."""

from __future__ import annotations

import errno
import select
import socket
from collections.abc import Callable

import pytest

from dsexec.net import get_socket_factory, set_socket_factory
from dsexec.net._factory import SYSTEM_SOCKET_FACTORY
from dsexec.testing import FaultySocketFactory, inject_socket_faults


def test_inject_socket_faults_installs_and_restores_the_factory() -> None:
    assert get_socket_factory() is SYSTEM_SOCKET_FACTORY
    with inject_socket_faults() as faults:
        assert get_socket_factory() is faults
    assert get_socket_factory() is SYSTEM_SOCKET_FACTORY


def test_set_socket_factory_returns_the_previous_one() -> None:
    faults = FaultySocketFactory()
    previous = set_socket_factory(faults)
    try:
        assert previous is SYSTEM_SOCKET_FACTORY
        assert get_socket_factory() is faults
    finally:
        assert set_socket_factory(None) is faults
    assert get_socket_factory() is SYSTEM_SOCKET_FACTORY


def test_faults_fire_a_bounded_number_of_times_and_calls_are_counted() -> None:
    faults = FaultySocketFactory().fail("socket", errno.EMFILE, times=2)
    for _ in range(2):
        with pytest.raises(OSError, match="Too many open files") as info:
            faults.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
        assert info.value.errno == errno.EMFILE
    with faults.socket(socket.AF_INET, socket.SOCK_STREAM, 0) as sock:
        assert isinstance(sock, socket.socket)
    assert faults.calls["socket"] == 3


def test_faults_can_be_limited_to_one_family_and_be_permanent() -> None:
    faults = FaultySocketFactory().fail(
        "socket", errno.EAFNOSUPPORT, family=socket.AF_INET6, times=None
    )
    for _ in range(3):
        with pytest.raises(OSError, match="not supported") as info:
            faults.socket(socket.AF_INET6, socket.SOCK_STREAM, 0)
        assert info.value.errno == errno.EAFNOSUPPORT
    faults.socket(socket.AF_INET, socket.SOCK_STREAM, 0).close()


def test_connection_reset_faults_raise_the_matching_oserror_subclass() -> None:
    faults = FaultySocketFactory().fail("recv", errno.ECONNRESET)
    with faults.socket(socket.AF_INET, socket.SOCK_STREAM, 0) as sock:
        with pytest.raises(ConnectionResetError):
            sock.recv(1)
        assert faults.calls["recv"] == 1


def test_a_black_holed_connect_never_becomes_writable_and_closes_cleanly(
    open_fds: Callable[[], int],
) -> None:
    faults = FaultySocketFactory().blackhole("192.0.2.1", 80)
    before = open_fds()
    sock = faults.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
    sock.setblocking(False)
    assert sock.connect_ex(("192.0.2.1", 80)) == errno.EINPROGRESS
    _, writable, _ = select.select([], [sock.fileno()], [], 0)
    assert writable == []
    with pytest.raises(OSError, match="in progress") as info:
        sock.connect(("192.0.2.1", 80))
    assert info.value.errno == errno.EINPROGRESS
    sock.close()
    assert open_fds() == before
    assert faults.calls["connect"] == 2


def test_fail_rejects_unknown_operations_and_bad_counts() -> None:
    faults = FaultySocketFactory()
    with pytest.raises(ValueError, match="unknown operation"):
        faults.fail("listen", errno.EMFILE)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="times must be >= 1"):
        faults.fail("accept", errno.EMFILE, times=0)
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        faults.add_host("bad.test", ["not-an-ip"])


def test_fake_hosts_resolve_and_other_names_go_to_the_base_factory() -> None:
    faults = FaultySocketFactory().add_host("two.test", ["::1", "127.0.0.1"])
    infos = faults.getaddrinfo("two.test", 80, 0, socket.SOCK_STREAM, 0, 0)
    assert [info[4] for info in infos] == [("::1", 80, 0, 0), ("127.0.0.1", 80)]
    literal = faults.getaddrinfo("127.0.0.1", 80, 0, socket.SOCK_STREAM, 0, 0)
    assert literal[0][4] == ("127.0.0.1", 80)
    assert faults.calls["resolve"] == 2
