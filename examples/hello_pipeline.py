"""A keep-alive HTTP/1.1 "Hello, World!" server: the accept loop of docs/tutorial.md section 4.

    python examples/hello_pipeline.py 8080      # then: curl http://[::1]:8080/

Per port: ``async_accept | then(spawn) | upon_error(log) | repeat()``; per connection:
``async_read_until(end of head) | timeout | let_value(answer) | repeat_until(done)``, with
``finally_`` closing the socket on every path. Bytes past a head stay with the socket, so
pipelined requests work. Ctrl-C or SIGTERM stops the scope, and with it every connection.

Just enough HTTP for an example (the real layer is coming in ``dsexec.http``): bodies are not
read; a connection ends on EOF, ``Connection: close``, HTTP/1.0 without keep-alive, 30 s idle
or a head over 16 KB.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

import dsexec as ex
from dsexec import net

BODY = b"Hello, World!"
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n" % len(BODY)
KEEP_ALIVE = HEAD + b"\r\n" + BODY
CLOSE = HEAD + b"Connection: close\r\n\r\n" + BODY
END_OF_HEAD = b"\r\n\r\n"


def wants_close(head: bytes) -> bool:
    """``Connection: close``, or HTTP/1.0 without keep-alive (a simple check, not a parser)."""
    head = head.lower().replace(b" ", b"")
    http_1_0 = head.split(b"\r\n", 1)[0].endswith(b"http/1.0")
    return b"\r\nconnection:close" in head or (http_1_0 and b"connection:keep-alive" not in head)


def connection(sch: ex.IoScheduler, sock: net.Socket) -> ex.Sender[object]:
    """Answer every request head on ``sock`` until the client is done; then close it."""

    def respond(head: bytes) -> ex.Sender[bool]:  # True: the connection is done
        if not head.endswith(END_OF_HEAD):  # EOF: b"", or a head cut short
            return ex.just(True)
        done = wants_close(head)
        return net.async_write(sch, sock, CLOSE if done else KEEP_ALIVE) | ex.then(lambda _: done)

    return (
        net.async_read_until(sch, sock, END_OF_HEAD, 16384)
        | ex.timeout(30)  # an idle client
        | ex.let_value(respond)
        | ex.repeat_until(lambda done: done)
        | ex.upon_error(lambda _error: None)  # timed out, head too large, reset: just close
        | ex.finally_(ex.just(sock) | ex.then(net.Socket.close))
    )


def log_accept_error(error: BaseException) -> None:
    if isinstance(error, ex.ClosedResourceError):
        raise error  # the acceptor was closed: let the error end the loop
    print("accept failed:", error, file=sys.stderr)


def serve(sch: ex.IoScheduler, acceptor: net.Acceptor, scope: ex.CountingScope) -> ex.Sender[None]:
    return (
        net.async_accept(sch, acceptor)
        | ex.then(lambda sock: scope.spawn(connection(sch, sock)))
        | ex.upon_error(log_accept_error)
        | ex.repeat()  # until log_accept_error re-raises...
        | ex.upon_error(lambda _closed: None)  # ...which means the server is done
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description='A keep-alive HTTP/1.1 "Hello, World!" server.')
    parser.add_argument("port", type=int, nargs="?", default=8080, help="port (0: any free one)")
    parser.add_argument("--host", default="::", help="address to listen on (default: ::)")
    args = parser.parse_args(argv)
    try:
        acceptor = net.create_acceptor(args.port, args.host)
    except (ex.NetError, ValueError) as exc:
        parser.exit(1, f"hello_pipeline: {exc}\n")

    with ex.IoContext() as io, acceptor:
        sch: ex.IoScheduler = io.get_scheduler()
        scope = ex.CountingScope("hello", scheduler=sch)
        scope.spawn(serve(sch, acceptor, scope))
        print(f"listening on {acceptor.local_endpoint}", flush=True)
        ctrl_c = ex.on_signals(sch, signal.SIGINT, signal.SIGTERM)  # a sender like any other
        scope.spawn(ctrl_c | ex.then(lambda _signum: scope.request_stop()))
        ex.sync_wait(scope.join(), context=io)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
