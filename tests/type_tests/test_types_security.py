"""Static type tests of dsexec.security's TLS: mypy checks these ``assert_type`` lines; pytest
runs them cheaply (building senders does no I/O)."""

from __future__ import annotations

import socket
import ssl
from typing import assert_type

import dsexec as ex
from dsexec.net import Socket, async_read, async_read_until, async_write
from dsexec.security import SecureSocket, async_tls_handshake


def test_the_handshake_delivers_a_secure_socket_the_net_senders_take() -> None:
    left, right = socket.socketpair()
    with ex.IoContext() as ctx, Socket(left) as sock, right:
        sch = ctx.get_scheduler()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        handshake = async_tls_handshake(sch, sock, context, server_side=True)
        assert_type(handshake, ex.Sender[SecureSocket])

        def talk(tls: SecureSocket) -> ex.Sender[bytes]:
            assert_type(async_write(sch, tls, b"data"), ex.Sender[int])
            assert_type(async_read_until(sch, tls, b"\n", 100), ex.Sender[bytes])
            assert_type(tls.version(), str | None)
            assert_type(tls.getpeercert(binary_form=True), bytes | None)
            return async_read(sch, tls, 100)

        assert_type(handshake | ex.let_value(talk), ex.Sender[bytes])
