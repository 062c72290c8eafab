"""What TLS costs a read and a write: a ``SecureSocket`` beside a plain ``Socket``, same run.

Run: ``.venv/bin/python benchmarks/bench_tls.py`` (``--quick`` for a smoke run). Each figure is
the best of several repetitions, and ratios compare figures measured in the same run (this
machine is shared and noisy: only paired ratios mean anything).

* ``send+recv``: one message sent by one end and received by the other, through what the
  socket operations call (``sock.raw.send`` / ``sock.raw.recv``): the system calls, plus for TLS
  the encryption, the decryption and the ``ssl`` module's Python layer. No loop, no sender.
* ``round trip``: ``async_write`` on one end, ``async_read`` on the other and back, each pair
  run with ``when_all`` under ``sync_wait`` on one ``IoContext``: what a request/response
  exchange costs end to end (``sync_wait`` included, the same for both).

Sizes: 64 bytes (a small request) and 16 KiB (one full TLS record). Both ends are dsexec
sockets over a loopback TCP connection; the certificate is a throwaway one from ``trustme``.
"""

from __future__ import annotations

import argparse
import socket
import ssl
import time
from collections.abc import Callable

import trustme

import dsexec as ex
from dsexec.net import Socket, async_read, async_write
from dsexec.security import async_tls_handshake


def best_time(run: Callable[[], None], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def tcp_pair() -> tuple[Socket, Socket]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    return Socket(server), Socket(client)


def tls_pair(context: ex.IoContext) -> tuple[Socket, Socket]:
    authority = trustme.CA()
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("localhost").configure_cert(server_ctx)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    authority.configure_trust(client_ctx)
    server, client = tcp_pair()
    sch = context.get_scheduler()
    return ex.sync_wait(
        ex.when_all(
            async_tls_handshake(sch, server, server_ctx, server_side=True),
            async_tls_handshake(
                sch, client, client_ctx, server_side=False, server_hostname="localhost"
            ),
        ),
        context=context,
    )


def send_recv(server: Socket, client: Socket, message: bytes, count: int) -> Callable[[], None]:
    def run() -> None:
        send = client.raw.send
        for _ in range(count):
            send(message)
            received = 0
            while received < len(message):
                try:
                    received += len(server.raw.recv(65536))
                except BlockingIOError:  # a record split across two kernel reads
                    continue

    return run


def round_trips(
    context: ex.IoContext, server: Socket, client: Socket, message: bytes, count: int
) -> Callable[[], None]:
    sch = context.get_scheduler()

    def exchange(writer: Socket, reader: Socket) -> None:
        _, data = ex.sync_wait(
            ex.when_all(async_write(sch, writer, message), async_read(sch, reader, 65536)),
            context=context,
        )
        while len(data) < len(message):  # a large message may come in pieces
            data += ex.sync_wait(async_read(sch, reader, 65536), context=context)

    def run() -> None:
        for _ in range(count):
            exchange(client, server)
            exchange(server, client)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few iterations, for a smoke run")
    args = parser.parse_args()
    count = 50 if args.quick else 2000
    repeats = 1 if args.quick else 5
    print(f"{'measure':<24} {'plain us':>10} {'TLS us':>10} {'TLS/plain':>10}")
    with ex.IoContext() as context:
        plain = tcp_pair()
        secure = tls_pair(context)
        try:
            for size in (64, 16384):
                message = bytes(size)
                rows = [
                    ("send+recv", send_recv(*plain, message, count),
                     send_recv(*secure, message, count)),
                    ("round trip", round_trips(context, *plain, message, count),
                     round_trips(context, *secure, message, count)),
                ]
                for name, plain_run, tls_run in rows:
                    plain_s = best_time(plain_run, repeats) / count
                    tls_s = best_time(tls_run, repeats) / count
                    print(
                        f"{f'{name} {size} B':<24} {plain_s * 1e6:>10.2f} {tls_s * 1e6:>10.2f} "
                        f"{tls_s / plain_s:>9.1f}x"
                    )
        finally:
            for sock in (*plain, *secure):
                sock.close()


if __name__ == "__main__":
    main()
