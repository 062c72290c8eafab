"""A multi-port dual-stack echo server: the classic accept loop, as a sender pipeline.

    python examples/echo_server.py                   # ports 8080, 8060, 8070, 8666
    python examples/echo_server.py --port 0 --port 9000

Per port: ``async_accept | then(spawn the echo into a CountingScope) | upon_error(log) |
repeat()``. Each connection is ``async_read | let_value(async_write) | repeat_until(EOF)``,
closed on every path by ``finally_``. Ctrl-C (SIGINT) or SIGTERM stops accepting, stops every
connection and exits: ``on_signals`` is a sender like any other, spawned into the same scope.
"""

from __future__ import annotations

import argparse
import logging
import signal
from collections.abc import Sequence

import dsexec as ex
from dsexec.net import (
    Acceptor,
    Socket,
    async_accept,
    async_read,
    async_write,
    create_acceptor,
)

DEFAULT_PORTS = (8080, 8060, 8070, 8666)
READ_SIZE = 65536

log = logging.getLogger("echo_server")


def echo(sch: ex.IoScheduler, sock: Socket) -> ex.Sender[object]:
    """Echo everything ``sock`` sends until EOF, then close it (on every path)."""

    def write_back(data: bytes) -> ex.Sender[int]:
        return async_write(sch, sock, data) if data else ex.just(0)

    def connection_failed(error: BaseException) -> None:
        log.info("connection %r ended: %s", sock, error)

    return (
        async_read(sch, sock, READ_SIZE)
        | ex.let_value(write_back)
        | ex.repeat_until(lambda written: written == 0)
        | ex.upon_error(connection_failed)
        | ex.finally_(ex.just(sock) | ex.then(Socket.close))
    )


def serve(sch: ex.IoScheduler, acceptor: Acceptor, scope: ex.CountingScope) -> ex.Sender[object]:
    """The accept loop: accept, spawn the handler, log accept errors, repeat; it ends when the
    acceptor closes."""

    def spawn(sock: Socket) -> None:
        scope.spawn(echo(sch, sock))

    def accept_failed(error: BaseException) -> None:
        if isinstance(error, ex.ClosedResourceError):
            raise error  # the acceptor was closed: end the loop
        log.warning("accept on %r failed: %s", acceptor, error)

    def stopped_listening(error: BaseException) -> None:
        if not isinstance(error, ex.ClosedResourceError):
            raise error

    return (
        async_accept(sch, acceptor)
        | ex.then(spawn)
        | ex.upon_error(accept_failed)
        | ex.repeat()
        | ex.upon_error(stopped_listening)
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port", type=int, action="append", help="port to listen on (repeatable; 0: any)"
    )
    parser.add_argument("--host", default="::", help="address to listen on (default: ::)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    ports: list[int] = args.port or list(DEFAULT_PORTS)
    acceptors = []
    for port in ports:
        try:
            acceptors.append(create_acceptor(port, args.host))
        except (ex.NetError, ValueError) as exc:
            for acceptor in acceptors:
                acceptor.close()
            parser.exit(1, f"echo_server: {exc}\n")
    with ex.IoContext() as ctx:
        sch = ctx.get_scheduler()
        scope = ex.CountingScope("echo_server", scheduler=sch)
        for acceptor in acceptors:
            kind = "dual-stack" if acceptor.dual_stack else "single-stack"
            print(f"listening on {acceptor.local_endpoint} ({kind})", flush=True)
            scope.spawn(serve(sch, acceptor, scope))

        def shutdown(signum: int) -> None:
            print(f"{signal.Signals(signum).name}: shutting down", flush=True)
            scope.request_stop()  # stops the accept loops and every connection

        scope.spawn(ex.on_signals(sch, signal.SIGINT, signal.SIGTERM) | ex.then(shutdown))
        try:
            ex.sync_wait(scope.join(), context=ctx)
        finally:
            for acceptor in acceptors:
                acceptor.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
