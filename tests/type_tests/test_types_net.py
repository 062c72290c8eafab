"""Static type tests of dsexec.net: mypy checks these ``assert_type`` lines; pytest runs them
cheaply (building senders does no I/O)."""

from __future__ import annotations

import socket
from typing import assert_type

import dsexec as ex
from dsexec.net import (
    Endpoint,
    IPAddress,
    Socket,
    async_accept,
    async_connect,
    async_read,
    async_resolve,
    async_sendfile,
    async_write,
    create_acceptor,
)
from dsexec.perf import MemoryPool


def test_net_senders_carry_their_value_types() -> None:
    with ex.IoContext() as ctx, create_acceptor(0, "127.0.0.1") as acceptor:
        sch = ctx.get_scheduler()
        sock = Socket(socket.create_connection(("127.0.0.1", acceptor.port)))
        assert_type(async_accept(sch, acceptor), ex.Sender[Socket])
        assert_type(async_read(sch, sock, 10), ex.Sender[bytes])
        assert_type(async_read(sch, sock, 10, pool=MemoryPool(16, 1)), ex.Sender[memoryview])
        assert_type(async_write(sch, sock, b"data"), ex.Sender[int])
        assert_type(async_sendfile(sch, sock, 0, 0, 0), ex.Sender[int])
        assert_type(async_connect(sch, "127.0.0.1", 80), ex.Sender[Socket])
        assert_type(async_resolve(sch, "127.0.0.1", 80), ex.Sender[list[Endpoint]])
        assert_type(async_read(sch, sock, 10) | ex.then(len), ex.Sender[int])
        assert_type(sock.get_local_endpoint(), Endpoint)
        sock.close()


def test_endpoint_fields_are_typed() -> None:
    endpoint = Endpoint("::1", 80)
    assert_type(endpoint.address, IPAddress)
    assert_type(endpoint.port, int)
    assert_type(endpoint.unmapped().address, IPAddress)
