"""A multi-port dual-stack echo server: the seed's accept loop, as a sender pipeline.

    python examples/echo_server.py                   # ports 8080, 8060, 8070, 8666
    python examples/echo_server.py --port 0 --port 9000

Per port: ``async_accept | then(spawn the echo into a CountingScope) | upon_error(log) |
repeat()``. Each connection is ``async_read | let_value(async_write) | repeat_until(EOF)``,
closed on every path by ``finally_``. Ctrl-C (SIGINT) or SIGTERM stops accepting, stops every
connection and exits; the signal reaches the loop through ``signal.set_wakeup_fd`` and an
ordinary ``wait_readable`` sender, so shutdown runs on the loop thread like everything else.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
from collections.abc import Callable, Sequence

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
    """The seed's accept loop: accept, spawn the handler, log accept errors, repeat."""

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


def on_signals(sch: ex.IoScheduler, shutdown: Callable[[], None]) -> Callable[[], None]:
    """Call ``shutdown`` on the loop thread at the first SIGINT/SIGTERM; a second SIGINT
    interrupts at once. Returns a function that uninstalls everything."""
    wake_read, wake_write = socket.socketpair()
    wake_read.setblocking(False)
    wake_write.setblocking(False)
    previous_fd = signal.set_wakeup_fd(wake_write.fileno())
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda _signum, _frame: None) for sig in handled}
    watcher = ex.CountingScope("signals")

    def got_signal(_: None) -> None:
        wake_read.recv(64)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second ^C: at once
        shutdown()

    watcher.spawn(sch.wait_readable(wake_read.fileno()) | ex.then(got_signal))

    def uninstall() -> None:
        watcher.request_stop()
        signal.set_wakeup_fd(previous_fd)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        wake_read.close()
        wake_write.close()

    return uninstall


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port", type=int, action="append", help="port to listen on (repeatable; 0: any)"
    )
    parser.add_argument("--host", default="::", help="address to listen on (default: ::)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    ports: list[int] = args.port or list(DEFAULT_PORTS)
    acceptors = [create_acceptor(port, args.host) for port in ports]
    with ex.IoContext() as ctx:
        sch = ctx.get_scheduler()
        scope = ex.CountingScope("echo_server")
        for acceptor in acceptors:
            acceptor.enable_dual_stack(True)  # as the seed does; a no-op here
            kind = "dual-stack" if acceptor.dual_stack else "single-stack"
            print(f"listening on {acceptor.local_endpoint} ({kind})", flush=True)
            scope.spawn(serve(sch, acceptor, scope))

        def shutdown() -> None:
            print("shutting down", flush=True)
            scope.request_stop()  # stops the accept loops and every connection

        uninstall = on_signals(sch, shutdown)
        try:
            ex.sync_wait(scope.join(), context=ctx)
        finally:
            uninstall()
            for acceptor in acceptors:
                acceptor.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
