"""async_connect (Happy Eyeballs, RFC 8305) and async_resolve."""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import dsexec as ex
from dsexec import timeout
from dsexec.net import (
    DEFAULT_HAPPY_EYEBALLS_DELAY,
    Acceptor,
    Endpoint,
    Socket,
    async_accept,
    async_connect,
    async_resolve,
    create_acceptor,
)
from dsexec.net._connect import interleave_families
from dsexec.net._resolve import RESOLVER_THREAD_NAME
from dsexec.testing import ExpectStoppedReceiver, FaultySocketFactory, RecordingReceiver

V4 = ipaddress.IPv4Address


def start(sender: ex.Sender[Any], receiver: RecordingReceiver[Any]) -> ex.OperationState:
    op = ex.connect(sender, receiver)
    op.start()
    return op


def join_resolver_threads() -> None:
    for thread in threading.enumerate():
        if thread.name == RESOLVER_THREAD_NAME:
            thread.join(10)
            assert not thread.is_alive()


@pytest.fixture
def acceptor() -> Iterator[Acceptor]:
    """An IPv4 acceptor on 127.0.0.1 only: 127.0.0.2 on the same port refuses."""
    with create_acceptor(0, "127.0.0.1") as acceptor:
        yield acceptor


def accept_peer(ctx: ex.IoContext, acceptor: Acceptor, cleanup: contextlib.ExitStack) -> Socket:
    sock = ex.sync_wait(async_accept(ctx.get_scheduler(), acceptor), context=ctx)
    return cleanup.enter_context(sock)


# -- plain connects -----------------------------------------------------------------------------


def test_connect_to_an_ipv4_literal(
    vts: ex.VirtualTimeScheduler, acceptor: Acceptor, cleanup: contextlib.ExitStack
) -> None:
    sock = cleanup.enter_context(
        ex.sync_wait(async_connect(vts, "127.0.0.1", acceptor.port), context=vts)
    )
    assert sock.get_remote_endpoint() == Endpoint("127.0.0.1", acceptor.port)
    assert sock.socket.getblocking() is False
    assert sock.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    server = accept_peer(vts, acceptor, cleanup)
    assert server.get_remote_endpoint() == sock.get_local_endpoint()


@pytest.mark.ipv6
def test_connect_to_an_ipv6_address_object(
    ctx: ex.IoContext, cleanup: contextlib.ExitStack
) -> None:
    dual = cleanup.enter_context(create_acceptor(0, "::1"))
    sock = cleanup.enter_context(
        ex.sync_wait(
            async_connect(ctx.get_scheduler(), ipaddress.IPv6Address("::1"), dual.port),
            context=ctx,
        )
    )
    assert sock.get_remote_address() == ipaddress.IPv6Address("::1")
    accept_peer(ctx, dual, cleanup)


def test_connect_resolves_names_off_the_loop_thread(
    ctx: ex.IoContext,
    acceptor: Acceptor,
    faults: FaultySocketFactory,
    cleanup: contextlib.ExitStack,
) -> None:
    faults.add_host("service.test", ["127.0.0.1"])
    resolver_threads: list[str] = []
    original = faults.getaddrinfo

    def recording(*args: Any) -> Any:
        resolver_threads.append(threading.current_thread().name)
        return original(*args)

    faults.getaddrinfo = recording  # type: ignore[method-assign]
    sock = cleanup.enter_context(
        ex.sync_wait(async_connect(ctx.get_scheduler(), "service.test", acceptor.port), context=ctx)
    )
    assert resolver_threads == [RESOLVER_THREAD_NAME]
    assert sock.get_remote_address() == V4("127.0.0.1")
    accept_peer(ctx, acceptor, cleanup)
    join_resolver_threads()


def test_connect_refused_names_the_address(
    vts: ex.VirtualTimeScheduler, acceptor: Acceptor
) -> None:
    port = acceptor.port
    acceptor.close()
    with pytest.raises(ex.NetError) as info:
        ex.sync_wait(async_connect(vts, "127.0.0.1", port), context=vts)
    assert info.value.errno == errno.ECONNREFUSED
    assert str(info.value) == (
        f"[Errno {errno.ECONNREFUSED}] cannot connect to 127.0.0.1 port {port}: the only "
        f"address failed: 127.0.0.1:{port}: [Errno {errno.ECONNREFUSED}] Connection refused"
    )
    assert isinstance(info.value.__cause__, ExceptionGroup)


# -- Happy Eyeballs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "black_hole", ["192.0.2.1", pytest.param("2001:db8::1", marks=pytest.mark.ipv6)]
)
def test_second_address_wins_after_the_delay_when_the_first_is_black_holed(  # noqa: PLR0917
    black_hole: str,
    vts: ex.VirtualTimeScheduler,
    acceptor: Acceptor,
    faults: FaultySocketFactory,
    open_fds: Callable[[], int],
    cleanup: contextlib.ExitStack,
) -> None:
    faults.add_host("he.test", [black_hole, "127.0.0.1"])
    faults.blackhole(black_hole)
    before = open_fds()
    sock = ex.sync_wait(async_connect(vts, "he.test", acceptor.port), context=vts)
    assert vts.now() == DEFAULT_HAPPY_EYEBALLS_DELAY  # virtual: no real wait
    assert sock.get_remote_address() == V4("127.0.0.1")
    assert faults.calls["connect"] == 2
    join_resolver_threads()
    assert open_fds() == before + 1  # the winner only: the black-holed loser was closed
    cleanup.enter_context(sock)
    accept_peer(vts, acceptor, cleanup)


def test_a_failed_attempt_starts_the_next_one_at_once(
    vts: ex.VirtualTimeScheduler,
    acceptor: Acceptor,
    faults: FaultySocketFactory,
    cleanup: contextlib.ExitStack,
) -> None:
    # 127.0.0.2 refuses (the acceptor listens on 127.0.0.1 only): no need to wait 250 ms
    faults.add_host("he.test", ["127.0.0.2", "127.0.0.1"])
    sock = cleanup.enter_context(
        ex.sync_wait(async_connect(vts, "he.test", acceptor.port), context=vts)
    )
    assert vts.now() == 0.0
    assert sock.get_remote_address() == V4("127.0.0.1")
    accept_peer(vts, acceptor, cleanup)
    join_resolver_threads()


def test_an_immediate_connect_failure_starts_the_next_one_at_once(
    vts: ex.VirtualTimeScheduler,
    acceptor: Acceptor,
    faults: FaultySocketFactory,
    cleanup: contextlib.ExitStack,
) -> None:
    faults.add_host("he.test", ["127.0.0.2", "127.0.0.1"])
    faults.fail("connect", errno.ENETUNREACH)  # fails inside connect_ex, not later
    cleanup.enter_context(ex.sync_wait(async_connect(vts, "he.test", acceptor.port), context=vts))
    assert vts.now() == 0.0
    assert faults.calls["connect"] == 2
    accept_peer(vts, acceptor, cleanup)
    join_resolver_threads()


def test_all_addresses_failing_lists_each_address(
    vts: ex.VirtualTimeScheduler,
    acceptor: Acceptor,
    faults: FaultySocketFactory,
    open_fds: Callable[[], int],
) -> None:
    port = acceptor.port
    faults.add_host("down.test", ["127.0.0.2", "127.0.0.3"])
    faults.fail("socket", errno.EMFILE, family=socket.AF_INET6)
    before = open_fds()
    with pytest.raises(ex.NetError) as info:
        ex.sync_wait(async_connect(vts, "down.test", port), context=vts)
    join_resolver_threads()
    message = str(info.value)
    assert f"cannot connect to down.test port {port}: all 2 addresses failed" in message
    assert f"127.0.0.2:{port}: [Errno {errno.ECONNREFUSED}]" in message
    assert f"127.0.0.3:{port}: [Errno {errno.ECONNREFUSED}]" in message
    assert info.value.errno == errno.ECONNREFUSED
    group = info.value.__cause__
    assert isinstance(group, ExceptionGroup)
    assert len(group.exceptions) == 2
    assert open_fds() == before


def test_mixed_failures_report_the_first_attempts_errno(
    vts: ex.VirtualTimeScheduler, acceptor: Acceptor, faults: FaultySocketFactory
) -> None:
    faults.add_host("down.test", ["127.0.0.2", "127.0.0.3"])
    faults.fail("connect", errno.ENETUNREACH)
    with pytest.raises(ex.NetError) as info:
        ex.sync_wait(async_connect(vts, "down.test", acceptor.port), context=vts)
    join_resolver_threads()
    assert info.value.errno == errno.ENETUNREACH


@pytest.mark.ipv6
def test_attempts_alternate_families_one_delay_apart(
    vts: ex.VirtualTimeScheduler, faults: FaultySocketFactory, open_fds: Callable[[], int]
) -> None:
    # The resolver answers both IPv6 addresses first; RFC 8305 tries v6, v4, v6, v4.
    holes = ["2001:db8::a", "2001:db8::b", "192.0.2.1", "192.0.2.2"]
    faults.add_host("four.test", holes)
    for hole in holes:
        faults.blackhole(hole)
    attempts: list[tuple[str, float]] = []
    make_socket = faults.socket

    def recording_socket(family: int, type: int, proto: int, /) -> socket.socket:
        sock = make_socket(family, type, proto)
        connect_ex = sock.connect_ex

        def recording_connect_ex(address: Any, /) -> int:
            attempts.append((address[0], vts.now()))
            return connect_ex(address)

        sock.connect_ex = recording_connect_ex  # type: ignore[method-assign]
        return sock

    faults.socket = recording_socket  # type: ignore[method-assign]
    before = open_fds()
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    start(async_connect(vts, "four.test", 80), receiver)
    while len(attempts) < 4:  # no timer runs while resolving: the clock cannot jump early
        vts.run_one()
    source.request_stop()
    assert receiver.completed
    delay = DEFAULT_HAPPY_EYEBALLS_DELAY
    assert attempts == [
        ("2001:db8::a", 0.0),
        ("192.0.2.1", delay),
        ("2001:db8::b", 2 * delay),
        ("192.0.2.2", 3 * delay),
    ]
    join_resolver_threads()
    assert open_fds() == before


_WRITABLE_EVENT = 0x004  # the IoContext's "writable" event bit (EPOLLOUT's value on every poller)


def test_a_failure_in_the_turn_the_delay_falls_due_still_waits_a_delay_for_the_next(
    vts: ex.VirtualTimeScheduler, faults: FaultySocketFactory, open_fds: Callable[[], int]
) -> None:
    # The first attempt fails in the very loop turn its delay timer falls due, with both
    # callbacks queued (run_one): the failure starts the second attempt and arms a new delay;
    # the old timer's queued callback must not start the third attempt early.
    holes = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    faults.add_host("three.test", holes)
    for hole in holes:
        faults.blackhole(hole)
    attempts: list[tuple[str, float]] = []
    sockets: list[socket.socket] = []
    make_socket = faults.socket

    def recording_socket(family: int, type: int, proto: int, /) -> socket.socket:
        sock = make_socket(family, type, proto)
        connect_ex = sock.connect_ex

        def recording_connect_ex(address: Any, /) -> int:
            attempts.append((address[0], vts.now()))
            return connect_ex(address)

        sock.connect_ex = recording_connect_ex  # type: ignore[method-assign]
        sockets.append(sock)
        return sock

    faults.socket = recording_socket  # type: ignore[method-assign]
    select = vts._select
    refused: list[socket.socket] = []

    def select_refusing_the_first_as_the_clock_jumps(
        timeout: float | None,
    ) -> list[tuple[int, int]]:
        events = select(timeout)
        if timeout not in (0.0, None) and not refused and sockets:
            first = sockets[0]  # its connect is refused, reported with the jump to its delay
            first.getsockopt = lambda *_: errno.ECONNREFUSED  # type: ignore[method-assign,assignment]
            refused.append(first)
            return [*events, (first.fileno(), _WRITABLE_EVENT)]
        return events

    vts._select = select_refusing_the_first_as_the_clock_jumps  # type: ignore[method-assign]
    before = open_fds()
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    start(async_connect(vts, "three.test", 80), receiver)
    while len(attempts) < 3:
        vts.run_one()
    source.request_stop()
    assert receiver.completed
    delay = DEFAULT_HAPPY_EYEBALLS_DELAY
    assert refused
    assert attempts == [("192.0.2.1", 0.0), ("192.0.2.2", delay), ("192.0.2.3", 2 * delay)]
    join_resolver_threads()
    assert open_fds() == before


@pytest.mark.ipv6
def test_only_one_of_two_attempts_that_both_connect_is_delivered(
    vts: ex.VirtualTimeScheduler,
    faults: FaultySocketFactory,
    open_fds: Callable[[], int],
    cleanup: contextlib.ExitStack,
) -> None:
    # Two listening addresses on one port. The first attempt (127.0.0.2) is refused; handling
    # that starts the ::1 attempt, and the zero attempt delay, due in the same loop turn,
    # starts the 127.0.0.1 one: both connect before the loop sees either become writable.
    v4 = cleanup.enter_context(create_acceptor(0, "127.0.0.1"))
    v6 = cleanup.enter_context(create_acceptor(v4.port, "::1"))
    faults.add_host("two.test", ["127.0.0.2", "::1", "127.0.0.1"])
    before = open_fds()
    receiver: RecordingReceiver[Socket] = RecordingReceiver()
    start(async_connect(vts, "two.test", v4.port, happy_eyeballs_delay=0.0), receiver)
    vts.run()
    join_resolver_threads()
    assert faults.calls["connect"] == 3
    winner = receiver.value
    assert isinstance(winner, Socket)  # exactly one value: the receiver checks the contract
    cleanup.enter_context(winner)
    assert vts.statistics().writers == 0
    assert open_fds() == before + 1  # the winner only: the loser was closed
    # Both handshakes completed: each acceptor has a connection; the loser's peer sees EOF.
    peers = {}
    for acceptor in (v4, v6):
        conn, address = acceptor.sockets[0].accept()
        cleanup.enter_context(conn)
        conn.settimeout(10)
        peers[ipaddress.ip_address(address[0])] = conn
    assert set(peers) == {V4("127.0.0.1"), ipaddress.IPv6Address("::1")}
    winner_peer = peers.pop(winner.get_remote_address())
    (loser_peer,) = peers.values()
    assert loser_peer.recv(10) == b""
    winner.socket.send(b"ping")
    assert winner_peer.recv(10) == b"ping"


def test_without_happy_eyeballs_the_next_attempt_waits_for_a_failure(
    vts: ex.VirtualTimeScheduler, acceptor: Acceptor, faults: FaultySocketFactory
) -> None:
    faults.add_host("he.test", ["192.0.2.1", "127.0.0.1"])
    faults.blackhole("192.0.2.1")
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    start(async_connect(vts, "he.test", acceptor.port, happy_eyeballs_delay=None), receiver)
    while faults.calls["connect"] < 1:
        vts.run_one()
    assert vts.statistics().timers == 0  # no attempt delay armed
    vts.advance(3600.0)
    vts.poll()
    assert faults.calls["connect"] == 1
    source.request_stop()
    assert receiver.completed
    join_resolver_threads()


def test_connect_to_a_black_hole_times_out_and_leaks_nothing(
    vts: ex.VirtualTimeScheduler, faults: FaultySocketFactory, open_fds: Callable[[], int]
) -> None:
    faults.blackhole("192.0.2.1")
    before = open_fds()
    with pytest.raises(TimeoutError):
        ex.sync_wait(async_connect(vts, "192.0.2.1", 80) | timeout(5.0), context=vts)
    assert vts.now() == 5.0
    assert vts.statistics().writers == 0
    assert open_fds() == before


def test_connect_stopped_while_attempts_are_in_flight_closes_them(
    ctx: ex.IoContext, faults: FaultySocketFactory, open_fds: Callable[[], int]
) -> None:
    faults.blackhole("192.0.2.1")
    faults.blackhole("192.0.2.2")
    faults.add_host("holes.test", ["192.0.2.1", "192.0.2.2"])
    before = open_fds()
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    start(async_connect(ctx.get_scheduler(), "holes.test", 80, happy_eyeballs_delay=0.0), receiver)
    while faults.calls["connect"] < 2:
        ctx.run_one()
    assert ctx.statistics().writers == 2
    source.request_stop()
    assert receiver.completed
    assert ctx.statistics().writers == 0
    join_resolver_threads()
    assert open_fds() == before


def test_connect_stopped_while_resolving_completes_at_once(
    ctx: ex.IoContext, faults: FaultySocketFactory, open_fds: Callable[[], int]
) -> None:
    faults.add_host("slow.test", ["127.0.0.1"], block=True)
    before = open_fds()
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    start(async_connect(ctx.get_scheduler(), "slow.test", 80), receiver)
    assert ctx.statistics().readers == 1  # waiting for the resolver thread
    source.request_stop()
    assert receiver.completed  # at once, the resolver still blocked
    assert ctx.statistics().readers == 0
    faults.release_resolution()
    join_resolver_threads()  # its late answer goes nowhere
    assert faults.calls["connect"] == 0
    assert open_fds() == before


def test_resolution_failure_is_a_net_error_naming_the_host(
    ctx: ex.IoContext, faults: FaultySocketFactory
) -> None:
    faults.fail("resolve", socket.EAI_NONAME)
    with pytest.raises(ex.NetError, match=r"cannot resolve 'nowhere\.test'") as info:
        ex.sync_wait(async_connect(ctx.get_scheduler(), "nowhere.test", 80), context=ctx)
    assert info.value.errno == socket.EAI_NONAME
    assert isinstance(info.value.__cause__, socket.gaierror)
    join_resolver_threads()


def test_a_name_without_addresses_is_a_net_error(
    ctx: ex.IoContext, faults: FaultySocketFactory
) -> None:
    faults.add_host("empty.test", [])
    with pytest.raises(ex.NetError, match="resolved to no TCP address"):
        ex.sync_wait(async_connect(ctx.get_scheduler(), "empty.test", 80), context=ctx)
    join_resolver_threads()


@pytest.mark.parametrize(
    ("resolved", "expected"),
    [
        ([], []),
        (["::1", "::2", "10.0.0.1"], ["::1", "10.0.0.1", "::2"]),
        (["10.0.0.1", "10.0.0.2", "::1", "::2"], ["10.0.0.1", "::1", "10.0.0.2", "::2"]),
        (["10.0.0.1", "::1", "::2", "::3"], ["10.0.0.1", "::1", "::2", "::3"]),
    ],
)
def test_interleave_families_alternates_starting_with_the_first(
    resolved: list[str], expected: list[str]
) -> None:
    addresses = [
        (socket.AF_INET6 if ":" in host else socket.AF_INET, (host, 80)) for host in resolved
    ]
    assert [addr[0] for _family, addr in interleave_families(addresses)] == expected


def test_async_connect_rejects_bad_arguments(ctx: ex.IoContext) -> None:
    with pytest.raises(TypeError, match="async_connect: needs a scheduler"):
        async_connect(object(), "127.0.0.1", 80)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"port must be in 1\.\.65535"):
        async_connect(ctx.get_scheduler(), "127.0.0.1", 0)
    with pytest.raises(ValueError, match="happy_eyeballs_delay must be >= 0"):
        async_connect(ctx.get_scheduler(), "127.0.0.1", 80, happy_eyeballs_delay=-1)
    with pytest.raises(TypeError, match="host must be a str"):
        async_connect(ctx.get_scheduler(), 127, 80)  # type: ignore[arg-type]


# -- async_resolve ------------------------------------------------------------------------------


def test_resolve_answers_literals_inline(ctx: ex.IoContext) -> None:
    receiver: RecordingReceiver[list[Endpoint]] = RecordingReceiver()
    start(async_resolve(ctx.get_scheduler(), "::ffff:10.0.0.1", 80), receiver)
    assert receiver.value == [Endpoint("10.0.0.1", 80)]


def test_resolve_names_in_resolver_order(ctx: ex.IoContext, faults: FaultySocketFactory) -> None:
    faults.add_host("two.test", ["::1", "127.0.0.1", "::1"])
    endpoints = ex.sync_wait(async_resolve(ctx.get_scheduler(), "two.test", 443), context=ctx)
    assert endpoints == [Endpoint("::1", 443), Endpoint("127.0.0.1", 443)]
    join_resolver_threads()


def test_resolve_stopped_while_resolving_completes_at_once(
    ctx: ex.IoContext, faults: FaultySocketFactory
) -> None:
    faults.add_host("slow.test", ["127.0.0.1"], block=True)
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    start(async_resolve(ctx.get_scheduler(), "slow.test", 80), receiver)
    source.request_stop()
    assert receiver.completed
    faults.release_resolution()
    join_resolver_threads()
