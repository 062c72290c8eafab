"""MedusaServ's server: the seed's ``MedusaServWithDualStackNet26`` as dsexec pipelines.

One scheduler (an ``IoContext``'s, or an ``AnyioScheduler`` on asyncio, uvloop or trio), one
``CountingScope``, and in it, for every listening port, the seed's pipeline::

    async_accept(sch, acceptor) | then(admit) | upon_error(log) | repeat()

``admit`` is ``HttpServer.admit``: the access list is applied to the normalised peer (an IPv4
client of a dual-stack socket is seen as IPv4, so ``--block 192.0.2.0/24`` also blocks
``::ffff:192.0.2.7``) before a byte is read, the connection limit answers 503, and the
connection's own pipeline (read a request, answer it, repeat while kept alive) is spawned.
Beside the accept loops, in the same scope: ``HttpServer.sweep_loop`` (timeouts), a once-a-second
sampler for the status page's charts, and ``on_signals(SIGINT, SIGTERM)``.

Shutdown: the first SIGINT or SIGTERM closes the listening sockets (a load balancer's health
check now fails to connect, and a sibling ``SO_REUSEPORT`` worker gets the new clients), drains
the HTTP server (idle keep-alive connections closed, requests in flight finished with
``Connection: close``, whatever is left stopped ``drain_timeout`` later), and once
``HttpServer.join()`` completes, stops the scope: ``run()`` completes and the process exits 0.
A second SIGINT or SIGTERM during the drain exits at once (status 128 + the signal).

Requests: ``/_medusa/status``, ``/_medusa/metrics`` and ``/_medusa/health`` are MedusaServ's
own pages (``_status.py``); everything else is the static site (``dsexec.http.static_files``) of
the port's root.
"""

from __future__ import annotations

import collections
import importlib.metadata
import logging
import os
import signal
import ssl
import sys
import time
from collections.abc import Callable, Sequence
from typing import Final, final

import attrs

import dsexec as ex
from dsexec import net
from dsexec.http import Handler, HttpServer, Request, Response, StaticFiles, static_files
from dsexec.perf import PerfMonitor
from dsexec.security import AccessControlList

from ._config import PortConfig, ServerConfig
from ._console import say
from ._status import (
    HEALTH_CONTENT_TYPE,
    METRICS_CONTENT_TYPE,
    PAGES_PREFIX,
    STATUS_CONTENT_TYPE,
    LatencyHistory,
    PortStatus,
    StatusData,
    render_health,
    render_metrics,
    render_status_page,
    route,
)

__all__ = ["Listener", "MedusaServ", "StartupError"]

_logger = logging.getLogger("medusa")
_HISTORY: Final = 300  # seconds of history on the status page's charts
_NO_STORE: Final = (b"cache-control", b"no-store")
_NOSNIFF: Final = (b"x-content-type-options", b"nosniff")


def _or_app(response: Response, app: Handler, request: Request) -> ex.Sender[Response]:
    """The static site's ``response``, unless the mounted app should answer instead."""
    return app(request) if response.status in _FOR_THE_APP else ex.just(response)


# What the static site answers when an ASGI app (--app) should answer instead.
_FOR_THE_APP: Final = frozenset({404, 405})
_NOT_ALLOWED: Final = Response(
    405,
    [(b"content-type", b"text/plain; charset=utf-8"), (b"allow", b"GET, HEAD")],
    b"405 Method Not Allowed\n",
)


class StartupError(Exception):
    """Raised when the server cannot start (a busy port, a feature missing from this build);
    the message is one line, printed as it is."""


def _version() -> str:
    try:
        return f"dsexec {importlib.metadata.version('dsexec')}"
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a checkout
        return "dsexec (not installed)"


@final
@attrs.frozen
class Listener:
    """One listening port: its acceptor, and the configuration entry it was opened for."""

    acceptor: net.Acceptor
    """The listening socket(s)."""
    config: PortConfig
    """The port's configuration (``config.port`` may be 0: ``port`` is the real one)."""
    port: int
    """The real port number."""

    @property
    def tls(self) -> bool:
        """Whether the port speaks TLS."""
        return self.config.tls

    @property
    def dual_stack(self) -> bool:
        """Whether the port takes IPv6 and IPv4 clients on one socket (or a pair)."""
        return self.acceptor.dual_stack


@final
class MedusaServ:
    """One MedusaServ process: the HTTP server, its listeners, and its status figures.

    ``MedusaServ(sch, config, listeners)``; ``run()`` is the whole server as a
    ``Sender[None]`` (see the module docstring), completing after a graceful shutdown.
    ``handle(request)`` is its request handler; ``status_data()`` what its status page shows.
    """

    __slots__ = (
        "_denial_rates",
        "_denials_seen",
        "_scope",
        "_site",
        "_sites",
        "app",
        "clock",
        "config",
        "http",
        "latency",
        "listeners",
        "monitor",
        "scheduler",
        "started_at",
        "tls_context",
        "version",
    )

    def __init__(
        self,
        scheduler: ex.IoScheduler,
        config: ServerConfig,
        listeners: Sequence[Listener],
        *,
        tls: ssl.SSLContext | None = None,
        app: Handler | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if tls is None and any(listener.tls for listener in listeners):
            raise ValueError("MedusaServ: TLS listeners need an ssl.SSLContext (tls=)")
        self.tls_context = tls
        self.app = app
        self.scheduler = scheduler
        self.config = config
        self.listeners = tuple(listeners)
        self.clock = clock
        self.started_at = clock()
        self.version = _version()
        self.monitor = PerfMonitor(history=_HISTORY)
        self.latency = LatencyHistory(_HISTORY)
        self._denial_rates: collections.deque[float] = collections.deque(maxlen=_HISTORY)
        self._denials_seen = 0
        acl = None
        if config.block or config.allow:
            acl = AccessControlList(blocked=config.block, allowed=config.allow or None)
        # One static handler per distinct root; the usual case is one for every port.
        by_root: dict[object, StaticFiles] = {}
        self._sites: dict[int, StaticFiles] = {}
        for listener in self.listeners:
            root = config.root_for(listener.config)
            if root not in by_root:
                by_root[root] = static_files(root)
            self._sites[listener.port] = by_root[root]
        self._site = next(iter(by_root.values())) if len(by_root) == 1 else None
        self.http = HttpServer(
            scheduler,
            self.handle,
            limits=config.limits,
            monitor=self.monitor,
            acl=acl,
            drain_timeout=config.drain_timeout,
            access_log=config.access_log,
        )
        self._scope: ex.CountingScope | None = None

    # -- the pipelines --------------------------------------------------------------------------

    def run(self) -> ex.Sender[None]:
        """The server, until a signal has drained it: ``Sender[None]``. Everything starts when
        the sender does, on its scheduler."""
        return ex.schedule(self.scheduler) | ex.let_value(lambda _: self._serve())

    def _serve(self) -> ex.Sender[None]:
        sch = self.scheduler
        scope = self._scope = ex.CountingScope("MedusaServ", scheduler=sch)
        for listener in self.listeners:
            scope.spawn(self.accept_loop(listener))
        scope.spawn(self.http.sweep_loop())
        scope.spawn(sch.schedule_after(1.0) | ex.then(lambda _: self.sample()) | ex.repeat())
        scope.spawn(ex.on_signals(sch, signal.SIGINT, signal.SIGTERM) | ex.then(self.shutdown))
        return scope.join()

    def accept_loop(self, listener: Listener) -> ex.Sender[None]:
        """The seed's pipeline for one port, until its acceptor is closed (on a TLS port,
        ``admit`` runs each client's TLS handshake before its first request)."""
        port = listener.port
        tls = self.tls_context if listener.tls else None
        return (
            net.async_accept(self.scheduler, listener.acceptor)
            | ex.then(lambda sock: self.http.admit(sock, port, tls=tls))
            | ex.upon_error(_log_accept_error)
            | ex.repeat()
            | ex.upon_error(_port_closed)
        )

    def shutdown(self, signum: int) -> None:
        """The first SIGINT/SIGTERM: stop accepting, drain, stop the scope when drained."""
        scope = self._scope
        assert scope is not None
        sch = self.scheduler
        # First of all: a second signal exits at once (this handler replaces the default one
        # the first signal's operation has just put back).
        scope.spawn(ex.on_signals(sch, signal.SIGINT, signal.SIGTERM) | ex.then(_exit_now))
        for listener in self.listeners:
            listener.acceptor.close()
        self.http.drain()
        name = signal.Signals(signum).name
        say(
            f"{name}: not accepting any more; draining {self.http.open_connections} "
            f"connection(s) for up to {self.config.drain_timeout:g} s; "
            f"another SIGINT or SIGTERM exits at once"
        )
        scope.spawn(self.http.join() | ex.then(lambda _: self._drained()))

    def _drained(self) -> None:
        assert self._scope is not None
        say("drained: every connection is closed")
        self._scope.request_stop()

    def sample(self) -> None:
        """Once a second: a point of the latency and denial charts; close the files of
        finished downloads."""
        self.latency.record_snapshot(self.monitor.snapshot())
        denials = self.http.denials
        self._denial_rates.append(float(denials - self._denials_seen))
        self._denials_seen = denials
        for site in set(self._sites.values()):
            site.release()

    # -- requests -----------------------------------------------------------------------------

    def handle(self, request: Request) -> ex.Sender[Response]:
        """MedusaServ's own pages, else the static site of the request's port, else (what the
        site answers 404 or 405) the ASGI app, if one is mounted."""
        target = request.target
        # Most requests are for the site: they skip the route lookup.
        page = route(target) if target.startswith(PAGES_PREFIX) else None
        if page is None:
            site = self._site
            if site is None:
                local = request.local
                site = self._sites[local[1]] if local is not None else self._first_site()
            app = self.app
            if app is None:
                return site(request)
            # The ASGI app (--app) answers what the static site does not have.
            return site(request) | ex.let_value(lambda response: _or_app(response, app, request))
        if request.method not in {b"GET", b"HEAD"}:
            return ex.just(_NOT_ALLOWED)
        if page == "health":
            status, body = render_health(self.http.draining)
            headers = [(b"content-type", HEALTH_CONTENT_TYPE), _NO_STORE]
            return ex.just(Response(status, headers, body))
        data = self.status_data()
        if page == "metrics":
            text = render_metrics(data)
            headers = [(b"content-type", METRICS_CONTENT_TYPE), _NO_STORE]
        else:
            text = render_status_page(data)
            headers = [(b"content-type", STATUS_CONTENT_TYPE), _NO_STORE, _NOSNIFF]
        return ex.just(Response(200, headers, text.encode("utf-8")))

    def _first_site(self) -> StaticFiles:
        return next(iter(self._sites.values()))

    def status_data(self) -> StatusData:
        """What the status page and the metrics show now."""
        open_per_port: collections.Counter[int] = collections.Counter()
        for conn in self.http.connections():
            local = conn.local
            if local is not None:
                open_per_port[local[1]] += 1
        ports = tuple(
            PortStatus(
                port=listener.port,
                dual_stack=listener.dual_stack,
                tls=listener.tls,
                connections=open_per_port[listener.port],
            )
            for listener in self.listeners
        )
        _, rates = self.monitor.rates()
        return StatusData(
            version=self.version,
            started_at=self.started_at,
            now=max(self.clock(), self.started_at),
            ports=ports,
            requests=self.monitor.snapshot(),
            request_rates=rates,
            latency_p50=self.latency.p50(),
            latency_p99=self.latency.p99(),
            denials=self.http.denials,
            denial_rates=tuple(self._denial_rates),
            errors=self.http.refusals + self.http.timeouts,
            draining=self.http.draining,
        )


def _log_accept_error(error: BaseException) -> None:
    if isinstance(error, ex.ClosedResourceError):
        raise error  # the acceptor is closed: this port's loop is over
    _logger.warning("accept failed: %s", error)


def _port_closed(_error: BaseException) -> None:
    """The acceptor was closed (a shutdown): the loop ends quietly."""


def _exit_now(signum: int) -> None:
    """A second SIGINT/SIGTERM during the drain: leave now."""
    say(f"{signal.Signals(signum).name} again: exiting at once")
    sys.stderr.flush()
    os._exit(128 + signum)
