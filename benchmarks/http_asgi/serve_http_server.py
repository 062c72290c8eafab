"""A plain ``serve_http`` hello handler (no ASGI): the pipeline underneath the ASGI server,
measured on its own.

    python benchmarks/http_asgi/serve_http_server.py PORT [--host H] [--loop io_context|uvloop]

``io_context`` (the default) runs ``serve_http`` on dsexec's own ``IoContext``; ``uvloop`` on
an ``AnyioScheduler`` inside uvloop, which is what ``python -m dsexec.http.asgi`` runs on, so the
difference between this and the ASGI server is the ASGI layer. SIGINT/SIGTERM stop it.
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Sequence

import anyio

import dsexec as ex
from dsexec.http import Request, Response, serve_http
from dsexec.net import Acceptor, create_acceptor

HELLO = ex.just(Response(200, [(b"content-type", b"text/plain")], b"Hello, World!"))


def hello(request: Request) -> ex.Sender[Response]:
    """The handler: the same response sender every time."""
    return HELLO


def _serve_until_signal(sch: ex.IoScheduler, acceptor: Acceptor) -> ex.Sender[object]:
    return ex.when_any(
        serve_http(sch, acceptor, hello, drain_timeout=1.0),
        ex.on_signals(sch, signal.SIGINT, signal.SIGTERM) | ex.then(lambda _: None),
    )


async def _on_uvloop(acceptor: Acceptor) -> None:
    await _serve_until_signal(ex.AnyioScheduler(), acceptor)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--loop", choices=("io_context", "uvloop"), default="io_context")
    args = parser.parse_args(argv)
    with create_acceptor(args.port, args.host) as acceptor:
        print(f"listening on {acceptor.local_endpoint}", flush=True)
        if args.loop == "uvloop":
            anyio.run(_on_uvloop, acceptor, backend_options={"use_uvloop": True})
        else:
            with ex.IoContext() as context:
                serving = _serve_until_signal(context.get_scheduler(), acceptor)
                ex.sync_wait(serving, context=context)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
