"""The server the reliability suites drive: ``serve_http`` (``HttpServer``) in its own process.

    python tests/reliability/_server.py --port 0 --root DIR [--header-timeout S] ...

It takes the command line of ``examples/medusa_serv.py`` where the two overlap (``--port`` and
``--tls-port`` (any number of them, the latter with ``--certfile``/``--keyfile``), ``--host``,
``--root``, ``--max-connections``, ``--header-timeout``,
``--request-timeout``, ``--keepalive-timeout``, ``--drain-timeout``, and ``--config FILE.toml``
of which it reads the ``[limits]`` table, flags overriding it) and prints what MedusaServ
prints, one line ``listening on [::]:PORT (dual-stack)`` per listening socket (the real port
where 0 was asked), so the suites can be pointed at MedusaServ by changing the command in
``_harness.py``.

Routes:

* ``/hello``: ``Hello, World!`` (13 bytes, from memory; the suites' site also holds a file
  ``hello`` with those bytes, so a static server answers the same);
* ``/echo``: reads the whole request body and answers its length (``"%d bytes\n"``);
* ``/slow``: 6 MB (``SLOW_BYTES``) streamed chunked in 64 KiB pieces, one every 10 ms: about one
  second in flight whatever the client does (``curl`` it and press Ctrl-C to watch a drain; the
  suites use a 6 MB static file that the client does not read yet, which works on any server);
* anything else: static files under ``--root`` (``GET``/``HEAD``, ``index.html`` for
  directories), sent with ``sendfile``.

SIGINT or SIGTERM drains the server (``draining`` on stderr): it closes its listening sockets
(new clients are refused at once instead of waiting in a backlog nobody reads), lets requests
in flight finish, and exits 0 when every connection is done (or ``--drain-timeout`` later). A
second SIGINT while draining exits at once with status 130.
"""

from __future__ import annotations

import argparse
import os
import signal
import ssl
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import dsexec as ex
from dsexec.http import FileBody, Handler, HttpServer, Request, Response, StreamBody
from dsexec.http._static_files import plan_static_response
from dsexec.net import Acceptor, create_acceptor
from dsexec.security import Limits

HELLO: Final = Response(200, [(b"content-type", b"text/plain")], b"Hello, World!")
SLOW_PIECE: Final = 64 * 1024
SLOW_PIECES: Final = 96
SLOW_BYTES: Final = SLOW_PIECE * SLOW_PIECES  # 6 MiB
SLOW_INTERVAL: Final = 0.01
DEFAULT_ROOT: Final = Path(__file__).resolve().parents[2] / "examples" / "www"
INTERRUPTED: Final = 130


def slow_download(sch: ex.IoScheduler) -> Response:
    """``SLOW_BYTES`` in ``SLOW_PIECES`` pieces, each ``SLOW_INTERVAL`` after the last."""
    piece = b"x" * SLOW_PIECE
    sent = 0

    def next_chunk() -> ex.Sender[bytes]:
        nonlocal sent
        if sent == SLOW_PIECES:
            return ex.just(b"")
        sent += 1
        return sch.schedule_after(SLOW_INTERVAL) | ex.then(lambda _: piece)

    return Response(200, [(b"content-type", b"application/octet-stream")], StreamBody(next_chunk))


def echo(body: bytes) -> Response:
    """The answer of ``/echo``: how many bytes the body held."""
    return Response(200, [(b"content-type", b"text/plain")], b"%d bytes\n" % len(body))


def static_file(root: Path, request: Request) -> Response:
    """The file ``request`` names under ``root`` (or the 3xx/4xx answer about it)."""
    plan = plan_static_response(root, request.method, request.target, request.headers)
    body: bytes | FileBody = plan.body
    if plan.path is not None and plan.send_body:
        body = FileBody(plan.path, plan.offset, plan.count)
    return Response(plan.status, plan.headers, body)


def make_handler(sch: ex.IoScheduler, root: Path) -> Handler:
    """The request handler: ``/hello``, ``/echo``, ``/slow``, else static files under ``root``."""

    def handle(request: Request) -> ex.Sender[Response]:
        path = request.path
        if path == b"/hello":
            return ex.just(HELLO)
        if path == b"/echo":
            return request.body() | ex.then(echo)
        if path == b"/slow":
            return ex.just(slow_download(sch))
        return ex.just(static_file(root, request))

    return handle


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, action="append", help="port (0: any); repeatable")
    parser.add_argument("--tls-port", type=int, action="append", help="HTTPS port; repeatable")
    parser.add_argument("--certfile", type=Path, help="PEM certificate chain (TLS ports)")
    parser.add_argument("--keyfile", type=Path, help="PEM private key (TLS ports)")
    parser.add_argument("--host", default="::", help="address to listen on (default: ::)")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="static files")
    parser.add_argument("--max-connections", type=int)
    parser.add_argument("--header-timeout", type=float)
    parser.add_argument("--request-timeout", type=float)
    parser.add_argument("--keepalive-timeout", type=float)
    parser.add_argument("--drain-timeout", type=float, default=10.0)
    parser.add_argument("--config", type=Path, help="TOML file; its [limits] table is read")
    return parser.parse_args(argv)


# [limits] keys of MedusaServ's config file, and the Limits fields they set.
LIMIT_KEYS: Final = {
    "max_connections": "max_connections",
    "header_timeout": "header_timeout",
    "request_timeout": "request_timeout",
    "keepalive_timeout": "idle_timeout",
    "max_header_bytes": "max_header_bytes",
    "max_body_bytes": "max_body_bytes",
    "write_timeout": "write_timeout",
    "tls_handshake_timeout": "tls_handshake_timeout",
}


def limits_of(args: argparse.Namespace) -> Limits:
    """``Limits`` from the ``[limits]`` table of ``--config`` and the flags (which win)."""
    fields: dict[str, Any] = {}
    if args.config is not None:
        table = tomllib.loads(args.config.read_text(encoding="utf-8")).get("limits", {})
        for key, value in table.items():
            if key not in LIMIT_KEYS:
                raise SystemExit(f"{args.config}: [limits] unknown key {key!r}")
            fields[LIMIT_KEYS[key]] = value
    for flag in ("max_connections", "header_timeout", "request_timeout", "keepalive_timeout"):
        value = getattr(args, flag)
        if value is not None:
            fields[LIMIT_KEYS[flag]] = value
    return Limits(**fields)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    limits = limits_of(args)
    with ex.IoContext() as ctx:
        sch = ctx.get_scheduler()
        tls_ports = args.tls_port or []
        plain_ports = args.port or ([] if tls_ports else [8080])
        acceptors = [create_acceptor(port, args.host) for port in plain_ports]
        listeners: list[Acceptor | tuple[Acceptor, ssl.SSLContext]] = list(acceptors)
        if tls_ports:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(args.certfile, args.keyfile)
            for port in tls_ports:
                acceptor = create_acceptor(port, args.host)
                acceptors.append(acceptor)
                listeners.append((acceptor, context))
        handle = make_handler(sch, args.root.resolve())
        server = HttpServer(sch, handle, limits=limits, drain_timeout=args.drain_timeout)
        for listener in listeners:
            acceptor = listener[0] if isinstance(listener, tuple) else listener
            kinds = ["TLS"] if isinstance(listener, tuple) else []
            if acceptor.dual_stack:
                kinds.insert(0, "dual-stack")
            note = f" ({', '.join(kinds)})" if kinds else ""
            print(f"listening on {acceptor.local_endpoint}{note}", flush=True)

        def first_signal(signum: int) -> None:
            print(f"draining ({signal.Signals(signum).name})", file=sys.stderr, flush=True)
            ex.start_detached(ex.on_signals(sch, signal.SIGINT) | ex.then(second_signal))
            for acceptor in acceptors:
                acceptor.close()

        def second_signal(_signum: int) -> None:
            print("second SIGINT: exiting at once", file=sys.stderr, flush=True)
            os._exit(INTERRUPTED)

        signals = ex.on_signals(sch, signal.SIGINT, signal.SIGTERM) | ex.then(first_signal)
        ex.sync_wait(server.run(*listeners) | ex.stop_when(signals), context=ctx)
        for acceptor in acceptors:
            acceptor.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
