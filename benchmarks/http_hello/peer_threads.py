"""Thread-per-connection peer for the http_hello benchmark: blocking sockets, no event loop.

The main thread accepts; each accepted connection gets its own daemon thread that loops
``recv`` / ``sendall``, answering every complete request head (``\\r\\n\\r\\n``) with the same
bytes as ``dsexec_server.py`` (pipelined requests: one ``sendall`` for all complete
heads in a ``recv``). Keep-alive until the client closes. Threads use the default stack size.

Run: ``.venv/bin/python benchmarks/http_hello/peer_threads.py PORT``. SIGINT or SIGTERM stops
it (the connection threads are daemons and die with the process).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import threading
from types import FrameType

BODY = b"Hello, World!"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n" + BODY
TERMINATOR = b"\r\n\r\n"
MAX_PENDING = 64 * 1024  # an unterminated request head longer than this closes the connection
RECV_SIZE = 64 * 1024


def handle(conn: socket.socket) -> None:
    """Serve one connection until EOF, an error or an oversized request head."""
    with conn:
        pending = b""
        while True:
            try:
                data = conn.recv(RECV_SIZE)
            except OSError:
                return
            if not data:
                return
            pending = pending + data if pending else data
            count = pending.count(TERMINATOR)
            if count:
                try:
                    conn.sendall(RESPONSE if count == 1 else RESPONSE * count)
                except OSError:
                    return
                pending = pending[pending.rindex(TERMINATOR) + len(TERMINATOR) :]
            if len(pending) > MAX_PENDING:
                return


class _Shutdown(Exception):
    """Raised in the main thread by the SIGTERM handler."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Shutdown


def serve(host: str, port: int, backlog: int) -> None:
    listener = socket.create_server((host, port), backlog=backlog)
    with listener:
        bound = listener.getsockname()
        print(f"listening on {bound[0]}:{bound[1]}", flush=True)
        with contextlib.suppress(KeyboardInterrupt, _Shutdown):
            while True:
                conn, _ = listener.accept()
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                threading.Thread(target=handle, args=(conn,), daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("port", type=int)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--backlog", type=int, default=4096)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _on_sigterm)
    serve(args.host, args.port, args.backlog)


if __name__ == "__main__":
    main()
