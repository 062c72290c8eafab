"""create_acceptor / Acceptor: dual-stack listening, fallbacks, errors, enable_dual_stack."""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
import warnings
from collections.abc import Callable

import pytest

import dsexec as ex
from dsexec.net import (
    MAX_BACKLOG,
    Acceptor,
    DualStackWarning,
    Endpoint,
    Socket,
    async_accept,
    create_acceptor,
)
from dsexec.testing import inject_socket_faults

Client = Callable[[str, int], socket.socket]

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address


def accept(ctx: ex.IoContext, acceptor: Acceptor) -> Socket:
    return ex.sync_wait(async_accept(ctx.get_scheduler(), acceptor), context=ctx)


def v6only(acceptor: Acceptor) -> int:
    return acceptor.sockets[0].getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)


def refused(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        return probe.connect_ex((host, port)) == errno.ECONNREFUSED


# -- dual-stack -------------------------------------------------------------------------------


@pytest.mark.ipv6
def test_acceptor_serves_ipv4_and_ipv6_clients_on_one_socket(
    ctx: ex.IoContext, client: Client, cleanup: contextlib.ExitStack
) -> None:
    acceptor = cleanup.enter_context(create_acceptor(0))
    assert acceptor.dual_stack
    assert len(acceptor.sockets) == 1
    assert acceptor.sockets[0].family == socket.AF_INET6
    assert v6only(acceptor) == 0
    client("127.0.0.1", acceptor.port)
    client("::1", acceptor.port)
    first = cleanup.enter_context(accept(ctx, acceptor))
    second = cleanup.enter_context(accept(ctx, acceptor))
    assert first.get_remote_address() == V4("127.0.0.1")
    assert second.get_remote_address() == V6("::1")


@pytest.mark.ipv6
def test_ipv4_client_of_dual_stack_acceptor_is_reported_as_ipv4(
    ctx: ex.IoContext, client: Client, cleanup: contextlib.ExitStack
) -> None:
    acceptor = cleanup.enter_context(create_acceptor(0))
    peer = client("127.0.0.1", acceptor.port)
    server = cleanup.enter_context(accept(ctx, acceptor))
    assert server.socket.getpeername()[0] == "::ffff:127.0.0.1"  # what the OS says
    address = server.get_remote_address()
    assert isinstance(address, ipaddress.IPv4Address)
    assert address == V4("127.0.0.1")
    assert server.get_remote_endpoint() == Endpoint("127.0.0.1", peer.getsockname()[1])
    assert server.get_local_endpoint() == Endpoint("127.0.0.1", acceptor.port)


@pytest.mark.ipv6
def test_acceptors_on_several_ports_each_accept_their_clients(
    ctx: ex.IoContext, client: Client, cleanup: contextlib.ExitStack
) -> None:
    acceptors = [cleanup.enter_context(create_acceptor(0)) for _ in range(4)]
    ports = {acceptor.port for acceptor in acceptors}
    assert len(ports) == 4
    for acceptor in acceptors:
        peer = client("127.0.0.1", acceptor.port)
        server = cleanup.enter_context(accept(ctx, acceptor))
        assert server.get_remote_endpoint().port == peer.getsockname()[1]
        assert server.get_local_endpoint().port == acceptor.port


@pytest.mark.ipv6
def test_acceptor_port_zero_reports_the_real_port(cleanup: contextlib.ExitStack) -> None:
    acceptor = cleanup.enter_context(create_acceptor(0))
    assert acceptor.port > 0
    assert acceptor.local_endpoint == Endpoint("::", acceptor.port)
    assert acceptor.local_endpoints == (acceptor.local_endpoint,)
    assert repr(acceptor) == f"<Acceptor [::]:{acceptor.port} dual-stack>"


def test_acceptor_on_ipv4_host_is_plain_ipv4(
    ctx: ex.IoContext, client: Client, cleanup: contextlib.ExitStack
) -> None:
    acceptor = cleanup.enter_context(create_acceptor(0, "127.0.0.1"))
    assert not acceptor.dual_stack
    assert acceptor.sockets[0].family == socket.AF_INET
    assert acceptor.host == V4("127.0.0.1")
    client("127.0.0.1", acceptor.port)
    server = cleanup.enter_context(accept(ctx, acceptor))
    assert server.get_remote_address() == V4("127.0.0.1")
    acceptor.enable_dual_stack(False)  # nothing to turn off
    with pytest.raises(ValueError, match="dual-stack needs an IPv6 address"):
        acceptor.enable_dual_stack(True)


@pytest.mark.ipv6
def test_acceptor_without_dual_stack_refuses_ipv4_clients(cleanup: contextlib.ExitStack) -> None:
    acceptor = cleanup.enter_context(create_acceptor(0, dual_stack=False))
    assert not acceptor.dual_stack
    assert v6only(acceptor) == 1
    assert refused("127.0.0.1", acceptor.port)


# -- enable_dual_stack ------------------------------------------------------------------------


@pytest.mark.ipv6
def test_enable_dual_stack_is_a_no_op_on_a_dual_stack_acceptor(
    cleanup: contextlib.ExitStack,
) -> None:
    acceptor = cleanup.enter_context(create_acceptor(0))
    listener = acceptor.sockets[0]
    acceptor.enable_dual_stack(True)
    assert acceptor.sockets[0] is listener


@pytest.mark.ipv6
def test_enable_dual_stack_toggles_by_rebinding_the_same_port(
    ctx: ex.IoContext, client: Client, cleanup: contextlib.ExitStack
) -> None:
    acceptor = cleanup.enter_context(create_acceptor(0, dual_stack=False))
    port = acceptor.port
    assert refused("127.0.0.1", port)
    states = []

    acceptor.enable_dual_stack(True)
    states.append(acceptor.dual_stack)
    assert v6only(acceptor) == 0
    assert acceptor.port == port
    client("127.0.0.1", port)
    server = cleanup.enter_context(accept(ctx, acceptor))
    assert server.get_remote_address() == V4("127.0.0.1")

    acceptor.enable_dual_stack(False)
    states.append(acceptor.dual_stack)
    assert states == [True, False]
    assert v6only(acceptor) == 1
    assert acceptor.port == port
    assert refused("127.0.0.1", port)
    client("::1", port)
    server6 = cleanup.enter_context(accept(ctx, acceptor))
    assert server6.get_remote_address() == V6("::1")


@pytest.mark.ipv6
def test_enable_dual_stack_failure_restores_the_old_socket(
    cleanup: contextlib.ExitStack,
) -> None:
    acceptor = cleanup.enter_context(create_acceptor(0, dual_stack=False))
    port = acceptor.port
    with inject_socket_faults() as faults:
        faults.fail("bind", errno.EACCES, family=socket.AF_INET6)
        with pytest.raises(ex.NetError, match=f"no permission to listen on port {port}"):
            acceptor.enable_dual_stack(True)
    assert not acceptor.closed
    assert not acceptor.dual_stack
    assert acceptor.port == port
    assert v6only(acceptor) == 1


def test_enable_dual_stack_on_closed_acceptor_raises() -> None:
    acceptor = create_acceptor(0, "127.0.0.1")
    acceptor.close()
    with pytest.raises(ex.ClosedResourceError, match="closed"):
        acceptor.enable_dual_stack(True)


# -- fallbacks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "fallback"), [("::", "0.0.0.0"), ("::1", "127.0.0.1")]
)
@pytest.mark.parametrize("code", [errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT])
def test_acceptor_falls_back_to_ipv4_without_ipv6(  # noqa: PLR0917
    host: str,
    fallback: str,
    code: int,
    ctx: ex.IoContext,
    client: Client,
    cleanup: contextlib.ExitStack,
) -> None:
    with inject_socket_faults() as faults:
        faults.fail("socket", code, family=socket.AF_INET6, times=None)
        with pytest.warns(DualStackWarning, match="IPv6 is not available") as record:
            acceptor = cleanup.enter_context(create_acceptor(0, host))
        assert record[0].filename == __file__
        assert acceptor.local_endpoint == Endpoint(fallback, acceptor.port)
        assert not acceptor.dual_stack
        assert acceptor.host == ipaddress.ip_address(host)
        acceptor.enable_dual_stack(True)  # nothing changes: still no IPv6
        assert "IPv4 only (no IPv6)" in repr(acceptor)
    client("127.0.0.1", acceptor.port)
    server = cleanup.enter_context(accept(ctx, acceptor))
    assert server.get_remote_address() == V4("127.0.0.1")


@pytest.mark.ipv6
def test_acceptor_falls_back_to_ipv4_when_ipv6_bind_is_unavailable(
    cleanup: contextlib.ExitStack,
) -> None:
    with inject_socket_faults() as faults:
        faults.fail("bind", errno.EADDRNOTAVAIL, family=socket.AF_INET6)
        with pytest.warns(DualStackWarning, match="listening on 127.0.0.1"):
            acceptor = cleanup.enter_context(create_acceptor(0, "::1"))
    assert acceptor.local_endpoint.address == V4("127.0.0.1")


def test_acceptor_on_a_specific_ipv6_address_does_not_fall_back() -> None:
    with inject_socket_faults() as faults:
        faults.fail("socket", errno.EAFNOSUPPORT, family=socket.AF_INET6)
        with pytest.raises(ex.NetError) as info:
            create_acceptor(0, "2001:db8::1")
    assert info.value.errno == errno.EAFNOSUPPORT
    assert "[2001:db8::1]:0" in str(info.value)


@pytest.mark.ipv6
def test_acceptor_uses_two_sockets_where_v6only_cannot_be_cleared(
    ctx: ex.IoContext, client: Client, cleanup: contextlib.ExitStack
) -> None:
    with inject_socket_faults() as faults:
        faults.fail("dual_stack", errno.EINVAL, times=None)
        with pytest.warns(DualStackWarning, match="served by two sockets") as record:
            acceptor = cleanup.enter_context(create_acceptor(0))
        assert record[0].filename == __file__
    assert acceptor.dual_stack
    assert [sock.family for sock in acceptor.sockets] == [socket.AF_INET6, socket.AF_INET]
    assert v6only(acceptor) == 1
    port = acceptor.port
    assert acceptor.local_endpoints == (Endpoint("::", port), Endpoint("0.0.0.0", port))
    assert "two sockets" in repr(acceptor)
    client("::1", port)
    client("127.0.0.1", port)
    servers = [cleanup.enter_context(accept(ctx, acceptor)) for _ in range(2)]
    addresses = {server.get_remote_address() for server in servers}
    assert addresses == {V6("::1"), V4("127.0.0.1")}
    # nothing to do: it already serves both families
    acceptor.enable_dual_stack(True)
    assert len(acceptor.sockets) == 2


@pytest.mark.ipv6
def test_two_socket_acceptor_drops_ipv4_when_dual_stack_is_disabled(
    cleanup: contextlib.ExitStack,
) -> None:
    with inject_socket_faults() as faults:
        faults.fail("dual_stack", errno.EINVAL, times=None)
        with pytest.warns(DualStackWarning):
            acceptor = cleanup.enter_context(create_acceptor(0))
        acceptor.enable_dual_stack(False)
    assert len(acceptor.sockets) == 1
    assert not acceptor.dual_stack
    assert refused("127.0.0.1", acceptor.port)


# -- errors and arguments -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "where"),
    [
        pytest.param("::", r"\[::\]", marks=pytest.mark.ipv6),
        pytest.param("127.0.0.1", r"127\.0\.0\.1"),
    ],
)
def test_port_in_use_raises_net_error_naming_port_and_address(
    host: str, where: str, cleanup: contextlib.ExitStack
) -> None:
    taken = cleanup.enter_context(create_acceptor(0, host))
    expected = rf"port {taken.port} on {where} is already in use"
    with pytest.raises(ex.NetError, match=expected) as info:
        create_acceptor(taken.port, host)
    assert info.value.errno == errno.EADDRINUSE
    assert isinstance(info.value, OSError)
    assert isinstance(info.value.__cause__, OSError)


def test_backlog_is_capped(cleanup: contextlib.ExitStack) -> None:
    acceptor = cleanup.enter_context(create_acceptor(0, "127.0.0.1", backlog=1_000_000))
    assert acceptor.backlog == MAX_BACKLOG
    assert cleanup.enter_context(create_acceptor(0, "127.0.0.1", backlog=0)).backlog == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"port": -1}, ValueError, r"port must be in 0\.\.65535"),
        ({"port": 70000}, ValueError, r"port must be in 0\.\.65535"),
        ({"port": "80"}, TypeError, "port must be an int"),
        ({"port": 0, "host": "localhost"}, ValueError, "host must be an IP address"),
        ({"port": 0, "backlog": -1}, ValueError, "backlog must be >= 0"),
    ],
)
def test_create_acceptor_rejects_bad_arguments(
    kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        create_acceptor(**kwargs)  # type: ignore[arg-type]


def test_reuse_port_lets_two_acceptors_share_a_port(cleanup: contextlib.ExitStack) -> None:
    if not hasattr(socket, "SO_REUSEPORT"):
        pytest.skip("no SO_REUSEPORT on this OS")
    first = cleanup.enter_context(create_acceptor(0, "127.0.0.1", reuse_port=True))
    second = cleanup.enter_context(create_acceptor(first.port, "127.0.0.1", reuse_port=True))
    assert second.port == first.port


def reuse_addr(sock: socket.socket) -> int:
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)


@pytest.mark.parametrize(
    ("host", "dual_stack", "no_v6only_0"),
    [
        pytest.param("127.0.0.1", True, False, id="ipv4"),
        pytest.param("::", True, False, id="dual", marks=pytest.mark.ipv6),
        pytest.param("::", False, False, id="v6only", marks=pytest.mark.ipv6),
        pytest.param("::", True, True, id="two-sockets", marks=pytest.mark.ipv6),
    ],
)
def test_every_acceptor_socket_has_so_reuseaddr(
    host: str, dual_stack: bool, no_v6only_0: bool, cleanup: contextlib.ExitStack
) -> None:
    # A restarted server must bind its port again while old connections sit in TIME_WAIT.
    with inject_socket_faults() as faults, warnings.catch_warnings():
        warnings.simplefilter("ignore", DualStackWarning)
        if no_v6only_0:
            faults.fail("dual_stack", errno.EINVAL, times=None)
        acceptor = cleanup.enter_context(create_acceptor(0, host, dual_stack=dual_stack))
    assert len(acceptor.sockets) == (2 if no_v6only_0 else 1)
    assert all(reuse_addr(sock) for sock in acceptor.sockets)


@pytest.mark.ipv6
def test_so_reuseaddr_is_set_again_on_the_sockets_enable_dual_stack_rebinds(
    cleanup: contextlib.ExitStack,
) -> None:
    acceptor = cleanup.enter_context(create_acceptor(0, dual_stack=False))
    acceptor.enable_dual_stack(True)
    assert v6only(acceptor) == 0
    assert reuse_addr(acceptor.sockets[0])


@pytest.mark.parametrize(
    "host", [pytest.param("127.0.0.1", id="ipv4"), pytest.param("::", marks=pytest.mark.ipv6)]
)
def test_so_reuseaddr_is_not_set_on_windows(
    host: str, monkeypatch: pytest.MonkeyPatch, cleanup: contextlib.ExitStack
) -> None:
    # On Windows SO_REUSEADDR lets another process bind (steal) a port in use.
    with monkeypatch.context() as patch:
        patch.setattr(os, "name", "nt")  # what _acceptor._configure checks
        acceptor = cleanup.enter_context(create_acceptor(0, host))
    assert reuse_addr(acceptor.sockets[0]) == 0


def test_acceptor_close_is_idempotent_and_closes_the_sockets(open_fds: Callable[[], int]) -> None:
    before = open_fds()
    with create_acceptor(0, "127.0.0.1") as acceptor:
        listener = acceptor.sockets[0]
        assert open_fds() == before + 1
    assert acceptor.closed
    assert listener.fileno() == -1
    acceptor.close()
    assert open_fds() == before
    assert repr(acceptor) == "<Acceptor closed>"
    with pytest.raises(ex.ClosedResourceError):
        _ = acceptor.port
