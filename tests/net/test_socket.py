"""Socket and create_tcp_socket: options, addresses, close."""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
from collections.abc import Callable

import pytest

import dsexec as ex
from dsexec.net import (
    DualStackWarning,
    Endpoint,
    Socket,
    async_accept,
    async_read,
    async_write,
    create_acceptor,
    create_tcp_socket,
)
from dsexec.testing import ExpectErrorReceiver, inject_socket_faults


@pytest.mark.ipv6
def test_create_tcp_socket_is_ipv6_with_v6only_cleared_explicitly() -> None:
    with create_tcp_socket() as sock:
        raw = sock.socket
        assert sock.family == socket.AF_INET6
        assert raw.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 0
        assert raw.getblocking() is False
        assert raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


@pytest.mark.ipv6
def test_create_tcp_socket_without_dual_stack_sets_v6only() -> None:
    with create_tcp_socket(dual_stack=False) as sock:
        assert sock.socket.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1


def test_create_tcp_socket_falls_back_to_ipv4_with_a_warning() -> None:
    with inject_socket_faults() as faults:
        faults.fail("socket", errno.EAFNOSUPPORT, family=socket.AF_INET6)
        with pytest.warns(DualStackWarning, match="IPv4-only") as record:
            sock = create_tcp_socket()
    with sock:
        assert record[0].filename == __file__
        assert sock.family == socket.AF_INET


@pytest.mark.ipv6
def test_create_tcp_socket_warns_where_v6only_cannot_be_cleared() -> None:
    with inject_socket_faults() as faults:
        faults.fail("dual_stack", errno.EINVAL)
        with pytest.warns(DualStackWarning, match="IPv6-only"):
            sock = create_tcp_socket()
    with sock:
        assert sock.family == socket.AF_INET6


def test_create_tcp_socket_other_errors_are_net_errors() -> None:
    with inject_socket_faults() as faults:
        faults.fail("socket", errno.EMFILE)
        with pytest.raises(ex.NetError, match="cannot create an IPv6 TCP socket") as info:
            create_tcp_socket()
    assert info.value.errno == errno.EMFILE


def test_socket_adopts_a_socket_non_blocking_with_nodelay() -> None:
    left, right = socket.socketpair()
    with right, Socket(left) as sock:
        assert left.getblocking() is False
        assert sock.fileno() == left.fileno()
        assert not sock.closed
        assert sock.family == socket.AF_UNIX  # not TCP: no TCP_NODELAY attempted
        with pytest.raises(ex.NetError, match="AF_UNIX socket: it has no IP endpoints"):
            sock.get_local_endpoint()
        with pytest.raises(ex.NetError, match="AF_UNIX socket"):
            sock.get_remote_address()


def test_socket_reports_endpoints_of_a_tcp_connection(
    client: Callable[[str, int], socket.socket], cleanup: contextlib.ExitStack
) -> None:
    listener = cleanup.enter_context(socket.create_server(("127.0.0.1", 0)))
    port = listener.getsockname()[1]
    peer = client("127.0.0.1", port)
    conn, _ = listener.accept()
    sock = cleanup.enter_context(Socket(conn))
    assert sock.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    assert sock.get_remote_address() == ipaddress.IPv4Address("127.0.0.1")
    assert sock.get_remote_endpoint() == Endpoint("127.0.0.1", peer.getsockname()[1])
    assert sock.get_local_endpoint() == Endpoint("127.0.0.1", port)
    assert repr(sock) == f"<Socket fd={sock.fileno()} peer={sock.get_remote_endpoint()}>"
    sock.shutdown_write()
    assert peer.recv(1) == b""


def test_socket_without_peer_raises_net_error() -> None:
    with create_tcp_socket() as sock:
        with pytest.raises(ex.NetError) as info:
            sock.get_remote_address()
        assert info.value.errno == errno.ENOTCONN


def test_socket_close_is_idempotent(open_fds: Callable[[], int]) -> None:
    before = open_fds()
    sock = create_tcp_socket()
    assert open_fds() == before + 1
    sock.close()
    sock.close()
    assert open_fds() == before
    assert sock.closed
    assert sock.fileno() == -1
    assert repr(sock) == "<Socket closed>"
    with pytest.raises(ex.ClosedResourceError):
        sock.get_local_endpoint()
    with pytest.raises(ex.ClosedResourceError):
        sock.get_remote_address()
    with pytest.raises(ex.ClosedResourceError):
        sock.shutdown_write()



def test_close_wakes_the_waiters_of_every_reactor_the_socket_was_used_on(
    tcp_pair: tuple[Socket, Socket],
) -> None:
    server, _client = tcp_pair
    with ex.IoContext() as first, ex.IoContext() as second, ex.VirtualTimeScheduler() as third:
        loops = (first, second, third)
        receivers = [ExpectErrorReceiver(ex.ClosedResourceError) for _ in loops]
        for loop, receiver in zip(loops, receivers, strict=True):
            ex.connect(async_read(loop.get_scheduler(), server, 10), receiver).start()
        again = ExpectErrorReceiver(ex.ClosedResourceError)  # and back on the first one
        ex.connect(async_write(first.get_scheduler(), server, b"x" * 10_000_000), again).start()
        server.close()
        for loop in loops:
            loop.run()
            assert loop.statistics().readers == 0
        assert all(r.completed for r in [*receivers, again])


def test_an_accepted_sockets_peer_host_is_interned(ctx: ex.IoContext) -> None:
    with create_acceptor(0, "127.0.0.1") as acceptor:
        clients = [socket.create_connection(("127.0.0.1", acceptor.port)) for _ in range(2)]
        sch = ctx.get_scheduler()
        accepted = [ex.sync_wait(async_accept(sch, acceptor), context=ctx) for _ in clients]
        try:
            hosts = [str(sock.get_remote_address()) for sock in accepted]
            assert hosts == ["127.0.0.1", "127.0.0.1"]
            assert accepted[0]._peer[0] is accepted[1]._peer[0]  # one string for both
        finally:
            for sock in accepted:
                sock.close()
            for client in clients:
                client.close()
