"""The benchmark's ``serve_http`` server: "Hello, World!" written the plain way a user would.

    python benchmarks/http_hello/serve_http_server.py 8080
    wrk -t2 -c64 -d10s http://127.0.0.1:8080/

``run.py`` measures it as ``serve_http`` beside the tuned ``dsexec_server.py`` (see README.md).
Nothing here is tuned: the handler builds its ``Response`` for every request and
``serve_http`` does the rest (parsing with httptools, keep-alive, pipelining, the limits and
timeouts of ``Limits()``, the ``Date`` header). Its answer is the tuned server's bytes plus a
``Date`` header (``serve_http`` always sends one, as RFC 9110 asks of an origin server with a
clock). SIGINT or SIGTERM drains the server (requests in flight finish, idle connections
close) and it exits.
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Sequence

import dsexec as ex
from dsexec.http import Request, Response, serve_http
from dsexec.net import create_acceptor


def hello(request: Request) -> ex.Sender[Response]:
    """The handler: the same answer to every request."""
    return ex.just(Response(200, [(b"Content-Type", b"text/plain")], b"Hello, World!"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int, nargs="?", default=8080, help="port (0: any)")
    parser.add_argument("--host", default="::", help="address to listen on (default: ::)")
    args = parser.parse_args(argv)

    with create_acceptor(args.port, args.host) as acceptor, ex.IoContext() as ctx:
        sch = ctx.get_scheduler()
        print(f"listening on {acceptor.local_endpoint}", flush=True)
        server = serve_http(sch, acceptor, hello) | ex.stop_when(
            ex.on_signals(sch, signal.SIGINT, signal.SIGTERM)
        )
        ex.sync_wait(server, context=ctx)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
