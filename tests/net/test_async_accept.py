"""async_accept: inline accept, waits, stop, close, back-off on EMFILE, silent retries."""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest

import dsexec as ex
from dsexec import repeat, timeout
from dsexec.net import ACCEPT_BACKOFF, Socket, async_accept, create_acceptor
from dsexec.testing import (
    ExpectErrorReceiver,
    ExpectStoppedReceiver,
    ExpectValueReceiver,
    RecordingReceiver,
    inject_socket_faults,
)

Client = Callable[[str, int], socket.socket]


def start(sender: ex.Sender[Any], receiver: RecordingReceiver[Any]) -> ex.OperationState:
    op = ex.connect(sender, receiver)
    op.start()
    return op


def test_accept_completes_inline_when_a_connection_is_queued(
    ctx: ex.IoContext, client: Client, cleanup: contextlib.ExitStack
) -> None:
    acceptor = cleanup.enter_context(create_acceptor(0, "127.0.0.1"))
    peer = client("127.0.0.1", acceptor.port)
    receiver: ExpectValueReceiver[Socket] = ExpectValueReceiver()
    start(async_accept(ctx.get_scheduler(), acceptor), receiver)
    assert receiver.completed  # no loop turn needed
    assert receiver.value is not None
    server = cleanup.enter_context(receiver.value)
    assert server.get_remote_endpoint().port == peer.getsockname()[1]
    assert server.socket.getblocking() is False
    assert server.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


def test_accept_waits_for_a_connection(
    ctx: ex.IoContext, client: Client, cleanup: contextlib.ExitStack
) -> None:
    acceptor = cleanup.enter_context(create_acceptor(0, "127.0.0.1"))
    receiver: ExpectValueReceiver[Socket] = ExpectValueReceiver()
    start(async_accept(ctx.get_scheduler(), acceptor), receiver)
    assert receiver.completion is None
    assert ctx.statistics().readers == 1
    client("127.0.0.1", acceptor.port)
    ctx.run()
    assert receiver.value is not None
    cleanup.enter_context(receiver.value)
    assert ctx.statistics().readers == 0


def test_accept_stopped_while_waiting_completes_at_once_and_leaks_nothing(
    ctx: ex.IoContext, open_fds: Callable[[], int]
) -> None:
    with create_acceptor(0, "127.0.0.1") as acceptor:
        before = open_fds()
        source = ex.StopSource()
        receiver = ExpectStoppedReceiver(stop_token=source.token)
        start(async_accept(ctx.get_scheduler(), acceptor), receiver)
        assert receiver.completion is None
        source.request_stop()
        assert receiver.completed
        assert ctx.statistics().readers == 0
        assert open_fds() == before


def test_accept_stopped_from_another_thread_while_the_loop_runs(ctx: ex.IoContext) -> None:
    with create_acceptor(0, "127.0.0.1") as acceptor:
        source = ex.StopSource()
        receiver = ExpectStoppedReceiver(stop_token=source.token)
        start(async_accept(ctx.get_scheduler(), acceptor), receiver)
        stopper = threading.Thread(target=source.request_stop)
        ctx.post(stopper.start)  # once the loop runs: a foreign thread, really
        ctx.run()
        stopper.join()
        assert receiver.completed


def test_accept_already_stopped_does_not_accept(
    ctx: ex.IoContext, client: Client, cleanup: contextlib.ExitStack
) -> None:
    acceptor = cleanup.enter_context(create_acceptor(0, "127.0.0.1"))
    client("127.0.0.1", acceptor.port)
    source = ex.StopSource()
    source.request_stop()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    start(async_accept(ctx.get_scheduler(), acceptor), receiver)
    assert receiver.completed
    # the connection is still queued for the next accept
    second: ExpectValueReceiver[Socket] = ExpectValueReceiver()
    start(async_accept(ctx.get_scheduler(), acceptor), second)
    assert second.value is not None
    cleanup.enter_context(second.value)


def test_accept_with_timeout_fails_with_timeout_error_in_virtual_time(
    vts: ex.VirtualTimeScheduler, open_fds: Callable[[], int]
) -> None:
    with create_acceptor(0, "127.0.0.1") as acceptor:
        before = open_fds()
        with pytest.raises(TimeoutError):
            ex.sync_wait(async_accept(vts.get_scheduler(), acceptor) | timeout(30.0), context=vts)
        assert vts.now() == 30.0
        assert vts.statistics().readers == 0
        assert open_fds() == before


@pytest.mark.parametrize("code", [errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM])
def test_accept_backs_off_on_capacity_errors_without_spinning(
    code: int,
    vts: ex.VirtualTimeScheduler,
    client: Client,
    cleanup: contextlib.ExitStack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="dsexec.net")
    with inject_socket_faults() as faults:
        acceptor = cleanup.enter_context(create_acceptor(0, "127.0.0.1"))
        client("127.0.0.1", acceptor.port)
        faults.fail("accept", code, times=3)
        server = ex.sync_wait(async_accept(vts, acceptor), context=vts)
        cleanup.enter_context(server)
    assert vts.now() == pytest.approx(3 * ACCEPT_BACKOFF)
    assert faults.calls["accept"] == 4  # 3 failures, 1 success: no spinning in between
    records = [r for r in caplog.records if r.name == "dsexec.net"]
    assert len(records) == 1  # logged once, not once per retry
    assert errno.errorcode[code] in records[0].getMessage()


def test_accept_logs_again_after_a_success(
    vts: ex.VirtualTimeScheduler,
    client: Client,
    cleanup: contextlib.ExitStack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="dsexec.net")
    with inject_socket_faults() as faults:
        acceptor = cleanup.enter_context(create_acceptor(0, "127.0.0.1"))
        for _ in range(2):
            client("127.0.0.1", acceptor.port)
            faults.fail("accept", errno.EMFILE, times=2)
            cleanup.enter_context(ex.sync_wait(async_accept(vts, acceptor), context=vts))
    assert len([r for r in caplog.records if r.name == "dsexec.net"]) == 2


@pytest.mark.parametrize(
    "code", [errno.ECONNABORTED, errno.EPROTO, errno.EPERM, errno.ENETUNREACH]
)
def test_accept_retries_per_connection_errors_silently(
    code: int,
    vts: ex.VirtualTimeScheduler,
    client: Client,
    cleanup: contextlib.ExitStack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="dsexec")
    with inject_socket_faults() as faults:
        acceptor = cleanup.enter_context(create_acceptor(0, "127.0.0.1"))
        client("127.0.0.1", acceptor.port)
        faults.fail("accept", code, times=5)
        server = ex.sync_wait(async_accept(vts, acceptor), context=vts)
        cleanup.enter_context(server)
    assert faults.calls["accept"] == 6
    assert vts.now() == 0.0
    assert not caplog.records


def test_accept_reports_other_errors_as_net_error(
    vts: ex.VirtualTimeScheduler, cleanup: contextlib.ExitStack
) -> None:
    with inject_socket_faults() as faults:
        acceptor = cleanup.enter_context(create_acceptor(0, "127.0.0.1"))
        faults.fail("accept", errno.EFAULT)
        with pytest.raises(ex.NetError, match=r"accept on <Acceptor 127\.0\.0\.1") as info:
            ex.sync_wait(async_accept(vts, acceptor), context=vts)
    assert info.value.errno == errno.EFAULT


def test_closing_the_acceptor_wakes_a_pending_accept(
    ctx: ex.IoContext, open_fds: Callable[[], int]
) -> None:
    before = open_fds()
    acceptor = create_acceptor(0, "127.0.0.1")
    receiver = ExpectErrorReceiver(ex.ClosedResourceError, match="closed")
    start(async_accept(ctx.get_scheduler(), acceptor), receiver)
    assert receiver.completion is None
    acceptor.close()
    ctx.run()
    assert receiver.completed
    assert ctx.statistics().readers == 0
    assert open_fds() == before


def test_closing_the_acceptor_from_another_thread_wakes_a_pending_accept(
    ctx: ex.IoContext, open_fds: Callable[[], int]
) -> None:
    before = open_fds()
    acceptor = create_acceptor(0, "127.0.0.1")
    receiver = ExpectErrorReceiver(ex.ClosedResourceError)
    start(async_accept(ctx.get_scheduler(), acceptor), receiver)
    closer = threading.Thread(target=acceptor.close)
    ctx.post(closer.start)  # once the loop runs: a foreign thread, really
    ctx.run()
    closer.join()
    assert receiver.completed
    assert open_fds() == before


def test_closing_the_acceptor_during_back_off_cancels_the_retry(
    vts: ex.VirtualTimeScheduler, client: Client
) -> None:
    with inject_socket_faults() as faults:
        acceptor = create_acceptor(0, "127.0.0.1")
        client("127.0.0.1", acceptor.port)
        faults.fail("accept", errno.EMFILE, times=None)
        receiver = ExpectErrorReceiver(ex.ClosedResourceError)
        start(async_accept(vts, acceptor), receiver)
        assert vts.statistics().timers == 1
        acceptor.close()
        assert receiver.completed
        assert vts.statistics().timers == 0


def test_accept_on_a_closed_acceptor_fails_with_closed_resource_error(
    ctx: ex.IoContext,
) -> None:
    acceptor = create_acceptor(0, "127.0.0.1")
    acceptor.close()
    receiver = ExpectErrorReceiver(ex.ClosedResourceError)
    start(async_accept(ctx.get_scheduler(), acceptor), receiver)
    assert receiver.completed


def test_second_pending_accept_fails_with_busy_resource_error(ctx: ex.IoContext) -> None:
    with create_acceptor(0, "127.0.0.1") as acceptor:
        source = ex.StopSource()
        first = ExpectStoppedReceiver(stop_token=source.token)
        start(async_accept(ctx.get_scheduler(), acceptor), first)
        second = ExpectErrorReceiver(ex.BusyResourceError)
        start(async_accept(ctx.get_scheduler(), acceptor), second)
        assert second.completed
        source.request_stop()
        assert first.completed


@pytest.mark.ipv6
def test_pending_accept_moves_to_the_new_socket_of_enable_dual_stack(
    ctx: ex.IoContext, client: Client, cleanup: contextlib.ExitStack
) -> None:
    acceptor = cleanup.enter_context(create_acceptor(0))
    receiver: ExpectValueReceiver[Socket] = ExpectValueReceiver()
    start(async_accept(ctx.get_scheduler(), acceptor), receiver)
    acceptor.enable_dual_stack(False)
    client("::1", acceptor.port)
    ctx.run()
    assert receiver.value is not None
    server = cleanup.enter_context(receiver.value)
    assert server.get_remote_address() == ipaddress.IPv6Address("::1")


def test_accept_loop_with_repeat_accepts_every_queued_client(
    ctx: ex.IoContext, client: Client, cleanup: contextlib.ExitStack
) -> None:
    acceptor = cleanup.enter_context(create_acceptor(0, "127.0.0.1"))
    for _ in range(5):
        client("127.0.0.1", acceptor.port)
    source = ex.StopSource()
    accepted: list[Socket] = []

    def handle(sock: Socket) -> None:
        accepted.append(cleanup.enter_context(sock))
        if len(accepted) == 5:
            source.request_stop()

    receiver = ExpectStoppedReceiver(stop_token=source.token)
    start(async_accept(ctx.get_scheduler(), acceptor) | ex.then(handle) | repeat(), receiver)
    ctx.run()
    assert receiver.completed
    assert len(accepted) == 5


def test_async_accept_rejects_bad_arguments(ctx: ex.IoContext) -> None:
    with create_acceptor(0, "127.0.0.1") as acceptor:
        with pytest.raises(TypeError, match="async_accept: needs a scheduler with an I/O"):
            async_accept(object(), acceptor)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"async_accept: expected a dsexec\.net\.Acceptor"):
            async_accept(ctx.get_scheduler(), object())  # type: ignore[arg-type]


def test_accept_stopped_after_its_wake_up_was_queued_takes_no_connection(
    ctx: ex.IoContext, client: Client, cleanup: contextlib.ExitStack
) -> None:
    acceptor = cleanup.enter_context(create_acceptor(0, "127.0.0.1"))
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    start(async_accept(ctx.get_scheduler(), acceptor), receiver)
    client("127.0.0.1", acceptor.port)
    ctx.post(source.request_stop)
    while ctx.run_one():  # run_one queues the fd wake-up behind the posted stop
        pass
    assert receiver.completed
    second: ExpectValueReceiver[Socket] = ExpectValueReceiver()
    start(async_accept(ctx.get_scheduler(), acceptor), second)
    assert second.value is not None  # the connection is still queued
    cleanup.enter_context(second.value)
