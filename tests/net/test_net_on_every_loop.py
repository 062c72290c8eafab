"""The dsexec.net senders on every loop: IoContext, virtual time, asyncio, trio, uvloop."""

from __future__ import annotations

import contextlib
import ipaddress
from typing import Any

import pytest

import dsexec as ex
from dsexec import let_value, timeout, when_all
from dsexec.net import (
    Socket,
    async_accept,
    async_connect,
    async_read,
    async_sendfile,
    async_write,
    create_acceptor,
)
from dsexec.schedulers import IoScheduler
from dsexec.testing import SchedulerRunner


@pytest.mark.parametrize(
    "host", ["127.0.0.1", pytest.param("::1", marks=pytest.mark.ipv6)]
)
def test_accept_connect_write_read_on_every_loop(
    host: str, scheduler_runner: SchedulerRunner, cleanup: contextlib.ExitStack
) -> None:
    acceptor = cleanup.enter_context(create_acceptor(0, "::" if ":" in host else "0.0.0.0"))

    def build(sch: IoScheduler) -> ex.Sender[Any]:
        def talk(pair: tuple[Socket, Socket]) -> ex.Sender[Any]:
            server, client = (cleanup.enter_context(sock) for sock in pair)
            exchange = when_all(
                async_write(sch, client, b"ping"), async_read(sch, server, 100)
            ) | let_value(
                lambda got: when_all(async_write(sch, server, got[1] + b"/pong"),
                                     async_read(sch, client, 100))
            )
            return exchange | ex.then(
                lambda result: (server.get_remote_address(), result[1])
            )

        return when_all(
            async_accept(sch, acceptor), async_connect(sch, host, acceptor.port)
        ) | let_value(talk)

    peer, reply = scheduler_runner.run(build)
    assert peer == ipaddress.ip_address(host)
    assert reply == b"ping/pong"


def test_stopping_a_pending_read_on_every_loop(
    scheduler_runner: SchedulerRunner, cleanup: contextlib.ExitStack
) -> None:
    acceptor = cleanup.enter_context(create_acceptor(0, "127.0.0.1"))

    def build(sch: IoScheduler) -> ex.Sender[Any]:
        def wait(pair: tuple[Socket, Socket]) -> ex.Sender[Any]:
            server, _client = (cleanup.enter_context(sock) for sock in pair)
            return async_read(sch, server, 10) | timeout(0.01)

        return when_all(
            async_accept(sch, acceptor), async_connect(sch, "127.0.0.1", acceptor.port)
        ) | let_value(wait)

    with pytest.raises(TimeoutError):
        scheduler_runner.run(build)


def test_sendfile_on_every_loop(
    scheduler_runner: SchedulerRunner, cleanup: contextlib.ExitStack, tmp_path: Any
) -> None:
    acceptor = cleanup.enter_context(create_acceptor(0, "127.0.0.1"))
    path = tmp_path / "file.txt"
    path.write_bytes(b"file contents")
    file = cleanup.enter_context(path.open("rb"))

    def build(sch: IoScheduler) -> ex.Sender[Any]:
        def send(pair: tuple[Socket, Socket]) -> ex.Sender[Any]:
            server, client = (cleanup.enter_context(sock) for sock in pair)
            return when_all(async_sendfile(sch, server, file), async_read(sch, client, 100))

        return when_all(
            async_accept(sch, acceptor), async_connect(sch, "127.0.0.1", acceptor.port)
        ) | let_value(send)

    assert scheduler_runner.run(build) == (13, b"file contents")
