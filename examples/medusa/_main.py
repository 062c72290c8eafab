"""``medusa-serv``: the command line around :class:`~._server.MedusaServ`.

``main(argv)`` reads the configuration (``_config.load_config``), opens one dual-stack acceptor
per port, prints ``listening on [::]:PORT (dual-stack)`` for each and the URLs to open, and
serves: in this process on the chosen backend, or in ``--workers N`` forked processes that
each bind every port again with ``SO_REUSEPORT`` (the kernel spreads the clients over them).

Every failure before serving is one line on standard error and a non-zero status, never a
traceback: a bad flag (argparse, status 2), a bad configuration (a ``ConfigError`` naming the
flag or key, status 2), a busy port, a host that does not resolve, a backend whose package is
missing, TLS or ASGI asked for where this build has none (status 1).

With workers, the parent forwards SIGINT and SIGTERM to them (they run in their own process
group, so a terminal's Ctrl-C reaches them once, through the parent) and exits when they have:
0 when every worker drained cleanly. A worker gets SIGTERM if the parent dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import ipaddress
import logging
import os
import signal
import socket
import ssl
import sys
import traceback
from collections.abc import Sequence
from types import FrameType
from typing import Final

import anyio

import dsexec as ex
from dsexec import net
from dsexec.http.asgi import ASGIApp, Lifespan, LifespanFailed, asgi_handler, import_app
from dsexec.security import audit, enable_audit_log

from ._config import ConfigError, ServerConfig, load_config
from ._console import say
from ._server import Listener, MedusaServ, StartupError, _version

__all__ = ["check_features", "load_app", "load_tls_context", "main", "open_listeners", "serve"]

_PROG: Final = "medusa-serv"
_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)
_PR_SET_PDEATHSIG: Final = 1
_ANYIO_BACKENDS: Final = {"asyncio": "asyncio", "uvloop": "asyncio", "trio": "trio"}


def _error(message: str) -> None:
    say(f"{_PROG}: {message}", stream=sys.stderr)


def check_features(config: ServerConfig) -> None:
    """``StartupError`` if the configuration asks for what this build or machine lacks."""
    if config.app is not None and config.backend == "io_context":
        raise StartupError(
            "--app needs --backend asyncio, uvloop or trio (an ASGI app runs on an event loop)"
        )
    if config.backend in ("uvloop", "trio") and importlib.util.find_spec(config.backend) is None:
        raise StartupError(
            f"--backend {config.backend}: the {config.backend} package is not installed "
            f"(pip install {config.backend})"
        )


def load_app(config: ServerConfig) -> ASGIApp | None:
    """The ASGI app of ``--app module:attr`` (imported from the working directory), or
    ``None``; ``StartupError`` in one line when it cannot be imported."""
    if config.app is None:
        return None
    try:
        return import_app(config.app)
    except ValueError as exc:
        raise StartupError(f"--app: {exc}") from None


def load_tls_context(config: ServerConfig) -> ssl.SSLContext | None:
    """The server-side TLS context of the ``--tls-port`` listeners (``None`` without one);
    ``StartupError`` in one line when the certificate or key cannot be loaded."""
    if not config.tls_ports:
        return None
    assert config.certfile is not None  # ServerConfig checks that TLS ports come with both
    assert config.keyfile is not None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(config.certfile, config.keyfile)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        raise StartupError(
            f"--certfile/--keyfile: cannot load the certificate and key "
            f"({config.certfile}, {config.keyfile}): {reason}"
        ) from None
    return context


def listen_address(host: str) -> str:
    """``host`` as an IP literal: itself, or the first address it resolves to."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return host
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise StartupError(f"--host: cannot resolve {host!r}: {exc.strerror or exc}") from None
    return str(infos[0][4][0])


def open_listeners(
    config: ServerConfig,
    host: str,
    *,
    reuse_port: bool = False,
    ports: Sequence[int] | None = None,
) -> list[Listener]:
    """One acceptor per configured port (``ports``: the real numbers to bind instead, for a
    worker joining its parent's ports). ``StartupError`` naming the port if one cannot be
    opened; those already open are closed then."""
    listeners: list[Listener] = []
    numbers = [entry.port for entry in config.ports] if ports is None else list(ports)
    try:
        for entry, number in zip(config.ports, numbers, strict=True):
            acceptor = net.create_acceptor(number, host, reuse_port=reuse_port)
            listeners.append(Listener(acceptor, entry, acceptor.port))
    except (OSError, ValueError) as exc:
        for listener in listeners:
            listener.acceptor.close()
        raise StartupError(str(exc).removeprefix("create_acceptor: ")) from None
    return listeners


def _urls(listener: Listener) -> list[str]:
    endpoint = listener.acceptor.local_endpoint
    address = endpoint.address
    scheme = "https" if listener.tls else "http"
    if address.is_unspecified:
        hosts = ["127.0.0.1"] + (["[::1]"] if address.version == 6 else [])
    else:
        hosts = [f"[{address}]" if address.version == 6 else str(address)]
    return [f"{scheme}://{host}:{listener.port}/" for host in hosts]


def print_banner(config: ServerConfig, listeners: Sequence[Listener]) -> None:
    """The startup lines: one ``listening on`` line per port, then the URLs to open."""
    workers = f", {config.workers} workers" if config.workers > 1 else ""
    say(f"MedusaServ ({_version()}) serving {config.root} on the {config.backend} backend{workers}")
    for listener in listeners:
        kinds = ["dual-stack"] if listener.dual_stack else []
        if listener.tls:
            kinds.append("TLS")
        note = f" ({', '.join(kinds)})" if kinds else ""
        say(f"listening on {listener.acceptor.local_endpoint}{note}")
    say("open:")
    for listener in listeners:
        say("  " + "  ".join(_urls(listener)))
    first = _urls(listeners[0])[0]
    say(f"status page: {first}_medusa/status (also /_medusa/metrics and /_medusa/health)")
    say("SIGINT (Ctrl-C) or SIGTERM drains and stops; a second one exits at once.")


def _configure_logging(config: ServerConfig) -> None:
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    enable_audit_log(level=logging.WARNING)  # denials, limit hits, TLS failures
    audit.propagate = False  # its own handler already writes to standard error
    if config.access_log:
        access = logging.getLogger("dsexec.access")
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        access.propagate = False


def serve(
    config: ServerConfig,
    listeners: Sequence[Listener],
    tls: ssl.SSLContext | None = None,
    app: ASGIApp | None = None,
) -> int:
    """Serve ``listeners`` in this process on ``config.backend`` until a signal drains it
    (``tls``: the context of its TLS listeners; ``app``: the ASGI app answering what the
    static site does not have, run through its lifespan around the serving)."""
    if config.backend == "io_context":
        with ex.IoContext() as io:
            medusa = MedusaServ(io.get_scheduler(), config, listeners, tls=tls)
            ex.sync_wait(medusa.run(), context=io)
        return 0

    async def serve_on_anyio() -> None:
        if app is None:
            await MedusaServ(ex.AnyioScheduler(), config, listeners, tls=tls).run()
            return
        async with Lifespan(app) as state:
            mounted = asgi_handler(app, state=state)
            try:
                medusa = MedusaServ(ex.AnyioScheduler(), config, listeners, tls=tls, app=mounted)
                await medusa.run()
            finally:
                mounted.close()

    options = {"use_uvloop": True} if config.backend == "uvloop" else {}
    try:
        anyio.run(serve_on_anyio, backend=_ANYIO_BACKENDS[config.backend], backend_options=options)
    except LifespanFailed as exc:
        raise StartupError(f"--app: the application's startup failed: {exc}") from None
    return 0


def _die_with_parent() -> None:
    """A worker gets SIGTERM (a graceful drain) when the parent dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)


def _worker(
    index: int,
    config: ServerConfig,
    host: str,
    listeners: list[Listener],
    *,
    tls: ssl.SSLContext | None,
    app: ASGIApp | None,
) -> int:
    """A forked worker: the first keeps the parent's sockets, the others bind their own on
    the same ports with ``SO_REUSEPORT``."""
    if index > 0:
        mine = open_listeners(
            config, host, reuse_port=True, ports=[listener.port for listener in listeners]
        )
        for listener in listeners:
            listener.acceptor.close()
        listeners = mine
    return serve(config, listeners, tls, app)


def run_workers(
    config: ServerConfig,
    host: str,
    listeners: list[Listener],
    tls: ssl.SSLContext | None = None,
    app: ASGIApp | None = None,
) -> int:
    """Fork ``config.workers`` workers serving ``listeners``; forward signals; wait."""
    children: dict[int, int] = {}
    received: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    sys.stdout.flush()
    sys.stderr.flush()
    for index in range(config.workers):
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                os.setpgid(0, 0)
                _die_with_parent()
                signal.signal(signal.SIGINT, signal.default_int_handler)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
                code = _worker(index, config, host, listeners, tls=tls, app=app)
            except StartupError as exc:
                _error(f"worker {index}: {exc}")
            except KeyboardInterrupt:
                code = 128 + signal.SIGINT
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children[pid] = index
    for listener in listeners:  # the workers hold the sockets now
        listener.acceptor.close()
    previous = {signum: signal.signal(signum, forward) for signum in _SIGNALS}
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
    codes: list[int] = []
    try:
        while children:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:  # pragma: no cover - every child was waited for
                break
            index = children.pop(pid)
            code = os.waitstatus_to_exitcode(status)
            codes.append(code)
            if not received or code != 0:
                _error(f"worker {index} (pid {pid}) exited with status {code}")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return next((code if code > 0 else 128 - code for code in codes if code != 0), 0)


def main(argv: Sequence[str] | None = None) -> int:
    """``medusa-serv [flags]``: the exit status (see the module docstring)."""
    try:
        config = load_config(argv)
    except ConfigError as exc:
        _error(str(exc))
        return 2
    _configure_logging(config)
    try:
        check_features(config)
        tls = load_tls_context(config)
        app = load_app(config)
        host = listen_address(config.host)
        listeners = open_listeners(config, host, reuse_port=config.workers > 1)
    except StartupError as exc:
        _error(str(exc))
        return 1
    try:
        print_banner(config, listeners)
        if config.workers > 1:
            return run_workers(config, host, listeners, tls, app)
        return serve(config, listeners, tls, app)
    except StartupError as exc:  # the app's lifespan startup failed
        _error(str(exc))
        return 1
    except KeyboardInterrupt:  # a Ctrl-C before the handlers were installed
        return 128 + signal.SIGINT
    finally:
        for listener in listeners:
            listener.acceptor.close()
