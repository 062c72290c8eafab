"""``serve_http(sch, acceptor, handler, *, limits, monitor)``: an HTTP/1.1 server as a sender.

It is built from the public pieces, in the shape of the C++ design this library ports:

* the accept loop, ``async_accept | then(on_connection) | upon_error(log) | repeat()``;
* per connection, spawned into a scope:
  ``read_request | let_value(handler) | let_error(answer_500) | let_value(write_response) |
  repeat_until(done)``, closed on every path by ``finally_``.

Around them, what a production server owes its clients and itself:

* **Access control and limits at accept**: a peer refused by ``acl`` is closed before a byte is
  read (and written to the audit log); at ``limits.max_connections`` a new client gets ``503``
  and a close.
* **Timeouts** (``Limits``): the header timer starts at accept; every request has an absolute
  deadline (``request_timeout``) from its head; a kept-alive connection waits
  ``idle_timeout`` for the next request; a response write may take ``write_timeout``. One sweep
  per tick on the scheduler's clock closes the connections past their deadline (a slowloris
  client, a silent one, one that never reads its answer): no timer per request.
* **Failures**: malformed requests are answered 4xx and closed by ``read_request``; a handler
  that raises (or whose sender fails) gets its client a ``500`` and a close, and the error is
  logged to ``dsexec.http``.
* **Graceful drain**: a stop request stops accepting, closes idle keep-alive connections, lets
  requests in flight finish (their responses say ``Connection: close``), and after
  ``drain_timeout`` stops what is left. The sender then completes with ``None``.

``monitor`` (a ``PerfMonitor``) measures each request from its head to its response written
(5xx counted as errors); ``access_log=True`` writes one ``dsexec.access`` record per request.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any, ClassVar, Final, final

from .._core import (
    EMPTY_ENV,
    BasicSender,
    ClosedResourceError,
    Env,
    HttpError,
    NetError,
    OperationState,
    Receiver,
    Sender,
    StopCallback,
    check_delay,
)
from ..net import Acceptor, Socket, async_accept, async_write
from ..perf import PerfMonitor
from ..schedulers import IoScheduler
from ..schedulers._reactor import reactor_of, run_on_loop
from ..security import AccessControlList, Limits, audit_accept, audit_denied, audit_limit
from ..senders import (
    CountingScope,
    finally_,
    just,
    just_error,
    let_error,
    let_value,
    repeat,
    repeat_until,
    stopped_as_optional,
    then,
    upon_error,
)
from ._connection import DEFAULT_LIMITS, HttpConnection
from ._request import Request, read_request
from ._response import Response, write_response
from ._serialize import error_response

__all__ = ["Handler", "serve_http"]

Handler = Callable[[Request], Sender[Response]]
"""What ``serve_http`` calls per request: a function of the request returning the sender of
its response."""

_logger = logging.getLogger("dsexec.http")
_access = logging.getLogger("dsexec.access")

_INTERNAL_ERROR: Final = Response(
    500, [(b"content-type", b"text/plain")], b"500 Internal Server Error\n", close=True
)
# Errors of the connection itself (already answered, or the peer is gone): end it quietly.
_CONNECTION_ERRORS: Final = (HttpError, NetError, ClosedResourceError)


@final
class _Server:
    """The state of one ``serve_http`` operation (shared by its accept loop, its connections
    and its sweep; plain names: a private class)."""

    __slots__ = (
        "accepting",
        "acceptor",
        "access_log",
        "acl",
        "connections",
        "drain_deadline",
        "drain_timeout",
        "draining",
        "handler",
        "limits",
        "live",
        "logged",
        "monitor",
        "scheduler",
        "scheme",
        "sweeping",
        "tick",
    )

    def __init__(  # noqa: PLR0917
        self,
        scheduler: IoScheduler,
        acceptor: Acceptor,
        handler: Handler,
        limits: Limits,
        monitor: PerfMonitor | None,
        acl: AccessControlList | None,
        drain_timeout: float,
        access_log: bool,
        scheme: str,
    ) -> None:
        self.scheduler = scheduler
        self.acceptor = acceptor
        self.handler = handler
        self.limits = limits
        self.monitor = monitor
        self.acl = acl
        self.drain_timeout = drain_timeout
        self.access_log = access_log
        self.scheme = scheme
        self.accepting = CountingScope("serve_http accept", scheduler=scheduler)
        self.connections = CountingScope("serve_http connections", scheduler=scheduler)
        self.sweeping = CountingScope("serve_http timeouts", scheduler=scheduler)
        self.live: set[HttpConnection] = set()
        self.logged: dict[HttpConnection, tuple[bytes, bytes]] = {}
        self.draining = False
        self.drain_deadline = math.inf
        timeouts = (limits.header_timeout, limits.idle_timeout, limits.write_timeout)
        self.tick = min(1.0, max(0.01, min(timeouts) / 4))

    # -- accepting --------------------------------------------------------------------------

    def accept_loop(self) -> Sender[Any]:
        def failed(error: BaseException) -> None:
            if isinstance(error, ClosedResourceError):
                raise error  # the acceptor is closed: stop serving
            _logger.warning("accept on %r failed: %s", self.acceptor, error)

        return (
            async_accept(self.scheduler, self.acceptor)
            | then(self.on_connection)
            | upon_error(failed)
            | repeat()
            | upon_error(lambda _closed: None)
            | stopped_as_optional()
            | then(lambda _: self.drain())
        )

    def on_connection(self, sock: Socket) -> None:
        peer = _peer_address(sock)
        port = self.acceptor.port
        if self.acl is not None and peer is not None and self.acl.is_blocked(peer):
            audit_denied(peer, port, str(self.acl.decide(peer).reason))
            sock.close()
            return
        if self.draining or len(self.live) >= self.limits.max_connections:
            audit_limit(peer, port, "max_connections")
            refuse = async_write(self.scheduler, sock, error_response(503))
            self.connections.spawn(
                refuse | upon_error(lambda _: 0) | finally_(just(sock) | then(Socket.close))
            )
            return
        audit_accept(peer, port)
        conn = HttpConnection(sock, limits=self.limits, scheme=self.scheme)
        now = conn.first_byte = self.scheduler.now()
        conn.deadline = now + self.limits.header_timeout
        self.live.add(conn)
        self.connections.spawn(self.serve_connection(conn))

    # -- one connection ---------------------------------------------------------------------

    def serve_connection(self, conn: HttpConnection) -> Sender[Any]:
        scheduler = self.scheduler
        handler = self.handler
        monitor = self.monitor

        def handle(request: Request) -> Sender[Response]:
            conn.started = scheduler.now() if monitor is None else monitor.begin()
            if self.access_log:
                self.log_request(request)
            if self.draining:
                conn.closing = True
            return handler(request)

        def answer_500(error: BaseException) -> Sender[Response]:
            if isinstance(error, _CONNECTION_ERRORS) or conn.request is None:
                return just_error(error)
            _logger.error("handler failed on %r: %r", conn.request, error, exc_info=error)
            return just(_INTERNAL_ERROR)

        def write(response: Response) -> Sender[HttpConnection]:
            return write_response(scheduler, conn, response)

        def done(_: HttpConnection) -> bool:
            self.request_done(conn)
            return conn.closing or self.draining

        def ended(error: BaseException) -> None:
            if not isinstance(error, _CONNECTION_ERRORS):
                _logger.error("connection %r failed: %r", conn, error, exc_info=error)

        return (
            read_request(scheduler, conn)
            | let_value(handle)
            | let_error(answer_500)
            | let_value(write)
            | repeat_until(done)
            | upon_error(ended)
            | stopped_as_optional()
            | finally_(just(conn) | then(self.forget))
        )

    def request_done(self, conn: HttpConnection) -> None:
        status = conn.status
        if self.monitor is not None:
            self.monitor.end(conn.started, status < 500)
        if self.access_log:
            method, target = self.logged.pop(conn, (b"-", b"-"))
            _access.info(
                "%s %s %s %d",
                conn.peer[0] if conn.peer else "-",
                method.decode("latin-1"),
                target.decode("latin-1"),
                status,
                extra={"peer": conn.peer, "method": method, "target": target, "status": status},
            )

    def log_request(self, request: Request) -> None:
        self.logged[request.connection] = (request.method, request.target)

    def forget(self, conn: HttpConnection) -> None:
        self.live.discard(conn)
        self.logged.pop(conn, None)
        conn.close()
        if self.draining and not self.live:
            self.sweeping.request_stop()  # nothing left to time out

    # -- timeouts ---------------------------------------------------------------------------

    def sweep_loop(self) -> Sender[Any]:
        """Sweep every tick until stopped (once draining leaves no connection)."""
        return self.scheduler.schedule_after(self.tick) | then(lambda _: self.sweep()) | repeat()

    def sweep(self) -> None:
        """Close the connections past their deadline."""
        now = self.scheduler.now()
        if self.draining and now >= self.drain_deadline:
            self.connections.request_stop()
            for conn in list(self.live):
                conn.close()
        for conn in [conn for conn in self.live if conn.deadline <= now]:
            audit_limit(conn.peer[0] if conn.peer else None, self.acceptor.port, "timeout")
            conn.close()

    # -- draining ---------------------------------------------------------------------------

    def drain(self) -> None:
        """Stop accepting; close idle connections; let requests in flight finish."""
        if self.draining:
            return
        self.draining = True
        self.drain_deadline = self.scheduler.now() + self.drain_timeout
        self.accepting.request_stop()
        for conn in list(self.live):
            if conn.request is None and not conn.parser.trailing_data:
                conn.close()  # idle between requests
            else:
                conn.closing = True
        if not self.live:
            self.sweeping.request_stop()


def _peer_address(sock: Socket) -> Any:
    try:
        return sock.get_remote_address()
    except OSError:
        return None


@final
class _ServeOp:
    """Runs the accept loop and the sweep, drains on a stop request, completes with ``None``
    once every connection is done."""

    __slots__ = ("_child", "_receiver", "_server", "_stop_callback")

    def __init__(self, _: None, server: _Server, receiver: Receiver[None]) -> None:
        self._server = server
        self._receiver = receiver
        self._stop_callback: StopCallback | None = None
        self._child: OperationState | None = None

    def start(self) -> None:
        server = self._server
        token = self._receiver.get_env().stop_token
        server.accepting.spawn(server.accept_loop())
        server.sweeping.spawn(server.sweep_loop())
        if token.stop_possible():
            reactor = reactor_of(server.scheduler, "serve_http")
            self._stop_callback = token.register(lambda: run_on_loop(reactor, server.drain))
        # Connections are joined once accepting is over: none can be spawned after that.
        joined = (
            server.accepting.join()
            | let_value(lambda _: server.connections.join())
            | let_value(lambda _: server.sweeping.join())
        )
        self._child = joined.connect(_Joined(self))
        self._child.start()

    def joined(self) -> None:
        callback = self._stop_callback
        if callback is not None:
            self._stop_callback = None
            callback.unregister()
        self._child = None
        self._receiver.set_value(None)


@final
class _Joined:
    __slots__ = ("_op",)

    def __init__(self, op: _ServeOp) -> None:
        self._op = op

    def set_value(self, value: object, /) -> None:
        self._op.joined()

    def set_error(self, error: BaseException, /) -> None:  # pragma: no cover - joins never fail
        self._op.joined()

    def set_stopped(self) -> None:  # pragma: no cover - the joins see no stop token
        self._op.joined()

    def get_env(self) -> Env:
        return EMPTY_ENV


@final
class _ServeSender(BasicSender):
    """``data`` is the arguments of ``serve_http``; each start serves anew."""

    __slots__ = ()
    name: ClassVar[str] = "serve_http"

    def connect(self, receiver: Receiver[None], /) -> OperationState:
        return _ServeOp(None, _Server(*self.data), receiver)

    def __repr__(self) -> str:
        return f"serve_http({self.data[1]!r})"


def serve_http(
    scheduler: IoScheduler,
    acceptor: Acceptor,
    handler: Handler,
    *,
    limits: Limits = DEFAULT_LIMITS,
    monitor: PerfMonitor | None = None,
    acl: AccessControlList | None = None,
    drain_timeout: float = 10.0,
    access_log: bool = False,
    scheme: str = "http",
) -> Sender[None]:
    """Serve HTTP/1.1 on ``acceptor`` with ``handler`` until stopped: ``Sender[None]``.

    ``handler(request)`` returns the sender of the ``Response``. A stop request drains the
    server (see the module docstring) and the sender completes with ``None``. ``TypeError`` /
    ``ValueError`` when built for bad arguments.
    """
    reactor_of(scheduler, "serve_http")
    if not isinstance(acceptor, Acceptor):
        raise TypeError(f"serve_http: expected an Acceptor, got {type(acceptor).__name__}")
    if not callable(handler):
        raise TypeError(f"serve_http: handler must be callable, got {type(handler).__name__}")
    if not isinstance(limits, Limits):
        raise TypeError(f"serve_http: limits must be a Limits, got {type(limits).__name__}")
    if monitor is not None and not isinstance(monitor, PerfMonitor):
        raise TypeError(f"serve_http: monitor must be a PerfMonitor, got {monitor!r:.60}")
    if acl is not None and not isinstance(acl, AccessControlList):
        raise TypeError(f"serve_http: acl must be an AccessControlList, got {acl!r:.60}")
    drain = check_delay("serve_http", drain_timeout, "drain_timeout")
    data = (scheduler, acceptor, handler, limits, monitor, acl, drain, bool(access_log), scheme)
    return _ServeSender(None, data)
