"""asyncio ``Protocol`` peer for the http_hello benchmark (``--uvloop`` runs it on uvloop).

Answers every request with the same bytes as ``dsexec_server.py``; a request is
anything ending in a blank line (``\\r\\n\\r\\n``), so pipelined requests are answered by
counting terminators in the buffered bytes, with one ``write`` per ``data_received``.
Connections are kept alive until the client closes (EOF closes the transport). No parsing, no
timeouts: the cheapest honest asyncio server, the baseline dsexec has to beat.

Run: ``.venv/bin/python benchmarks/http_hello/peer_asyncio.py PORT [--uvloop]``. SIGINT or
SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import cast, final

BODY = b"Hello, World!"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n" + BODY
TERMINATOR = b"\r\n\r\n"
MAX_PENDING = 64 * 1024  # an unterminated request head longer than this closes the connection


@final
class HelloProtocol(asyncio.Protocol):
    """One connection: answer each complete request head, keep the unterminated tail."""

    __slots__ = ("_pending", "_transport")

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._pending = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        assert transport is not None
        pending = self._pending + data if self._pending else data
        count = pending.count(TERMINATOR)
        if count:
            transport.write(RESPONSE if count == 1 else RESPONSE * count)
            pending = pending[pending.rindex(TERMINATOR) + len(TERMINATOR) :]
        if len(pending) > MAX_PENDING:
            transport.close()
            pending = b""
        self._pending = pending

    def eof_received(self) -> bool:
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None


async def serve(host: str, port: int, backlog: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        HelloProtocol, host, port, backlog=backlog, reuse_address=True
    )
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    bound = server.sockets[0].getsockname()
    print(f"listening on {bound[0]}:{bound[1]}", flush=True)
    try:
        await stop.wait()
    finally:
        server.close()  # stop listening; open connections die with the process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("port", type=int)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--backlog", type=int, default=4096)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop's event loop")
    args = parser.parse_args()
    if args.uvloop:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve(args.host, args.port, args.backlog))
    else:
        asyncio.run(serve(args.host, args.port, args.backlog))


if __name__ == "__main__":
    main()
