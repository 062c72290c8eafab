"""Closing a socket or acceptor from a thread that is not its context's loop thread: the fd is
closed at once when no thread runs the loop, and by the loop when one does (never leaked)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any

import dsexec as ex
from dsexec.net import Socket, async_accept, async_read, create_acceptor


def on_another_thread(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on a fresh thread and return its result: the context it drives then counts
    that thread, not this one, as its loop thread while idle."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(fn()))
    thread.start()
    thread.join()
    assert result, "the thread raised"
    return result[0]


def read_elsewhere(ctx: ex.IoContext, server: Socket, client: Socket) -> None:
    client.socket.sendall(b"x")
    data = on_another_thread(
        lambda: ex.sync_wait(async_read(ctx.get_scheduler(), server, 10), context=ctx)
    )
    assert data == b"x"
    assert ctx.statistics().registered_fds == 1  # kept registered between reads


def test_closing_from_another_thread_while_the_context_is_idle_closes_at_once(
    ctx: ex.IoContext, tcp_pair: tuple[Socket, Socket]
) -> None:
    server, client = tcp_pair
    read_elsewhere(ctx, server, client)
    server.close()
    assert server.socket.fileno() == -1
    assert ctx.statistics().registered_fds == 0  # told before the number was freed


def test_closing_after_the_context_was_closed_still_closes_the_fd(
    tcp_pair: tuple[Socket, Socket],
) -> None:
    server, client = tcp_pair
    ctx = ex.IoContext()
    read_elsewhere(ctx, server, client)
    ctx.close()
    server.close()
    assert server.socket.fileno() == -1


def test_closing_an_acceptor_from_another_thread_closes_its_listening_socket(
    ctx: ex.IoContext, cleanup: contextlib.ExitStack
) -> None:
    acceptor = cleanup.enter_context(create_acceptor(0, "127.0.0.1"))
    cleanup.enter_context(socket.create_connection(("127.0.0.1", acceptor.port), timeout=10))
    accepted = on_another_thread(
        lambda: ex.sync_wait(async_accept(ctx.get_scheduler(), acceptor), context=ctx)
    )
    cleanup.enter_context(accepted)
    listener = acceptor.sockets[0]
    acceptor.close()
    assert listener.fileno() == -1


def test_closing_while_the_loop_runs_on_another_thread_lets_the_loop_close_it(
    ctx: ex.IoContext, tcp_pair: tuple[Socket, Socket]
) -> None:
    server, client = tcp_pair
    read_elsewhere(ctx, server, client)
    running = threading.Event()
    told = threading.Event()
    loop = threading.Thread(target=ctx.run)
    with ctx.work_guard():  # keeps run() going until the guard is released
        ctx.post(running.set)
        loop.start()
        try:
            assert running.wait(10)
            server.close()  # the loop runs elsewhere: notify_closing is posted to it, then close
            ctx.post(told.set)  # FIFO: runs after the posted notice
            assert told.wait(10)
            assert server.socket.fileno() == -1
        finally:
            ctx.stop()
    loop.join(10)
    assert not loop.is_alive()
