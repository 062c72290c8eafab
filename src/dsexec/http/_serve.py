"""``serve_http(sch, acceptor, handler, *, limits, monitor)`` and ``HttpServer``: an HTTP/1.1
server as a sender.

It is built from the public pieces, in the shape of the C++ design this library ports:

* the accept loop, ``async_accept | then(on_connection) | upon_error(log) | repeat()``;
* per connection, spawned into a scope:
  ``read_request | let_value(handler) | let_value(write_response) | repeat_until(done) |
  let_error(answer_500)``, closed on every path by ``finally_``.

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
  that raises (or whose sender fails) ends the loop, and its client gets a ``500`` and a close
  (outside the loop: nothing per request), and the error is logged to ``dsexec.http``.
* **Graceful drain**: a stop request stops accepting, closes idle keep-alive connections, lets
  requests in flight finish (their responses say ``Connection: close``), and after
  ``drain_timeout`` stops what is left. The sender then completes with ``None``.

``monitor`` (a ``PerfMonitor``) measures each request from its head to its response written
(5xx counted as errors); ``access_log=True`` writes one ``dsexec.access`` record per request.
"""

from __future__ import annotations

import functools
import logging
import math
import socket
import ssl
import struct
import sys
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
from ..schedulers import IoScheduler, Reactor
from ..schedulers._reactor import ReactorOperation, ReactorSender, reactor_of, run_on_loop
from ..security import (
    AccessControlList,
    Limits,
    async_tls_handshake,
    audit_accept,
    audit_denied,
    audit_limit,
)
from ..senders import (
    CountingScope,
    finally_,
    just,
    just_error,
    let_error,
    let_value,
    repeat,
    repeat_until,
    stop_when,
    stopped_as_optional,
    then,
    upon_error,
    upon_stopped,
)
from ._connection import DEFAULT_LIMITS, HttpConnection, check_limits_and_scheme
from ._date_cache import SERVER_DATES
from ._request import Request, read_request
from ._response import Response
from ._serialize import error_response
from ._write_response import write_response

__all__ = ["Handler", "HttpServer", "serve_http"]

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
class HttpServer:
    """An HTTP/1.1 server's shared state, and the pipelines that serve it.

    ``HttpServer(sch, handler, *, limits, monitor, acl, drain_timeout, access_log, scheme)``
    holds what every port and connection of one server shares: the handler, the limits, the
    live connections, the timeout sweep and the drain. ``run(*acceptors)`` is the whole server
    as a ``Sender[None]`` (``serve_http`` is ``HttpServer(...).run(acceptor)``); the pieces it
    is built from are public so a server can be composed differently:

    * ``accept_loop(acceptor)``: ``async_accept | then(admit) | upon_error(log) | repeat()``
      for one listening socket, until a drain stops it or the acceptor is closed;
    * ``admit(sock, port)``: applies the access list and the connection limit to an accepted
      socket, then spawns ``serve_connection`` for it;
    * ``serve_connection(conn)``: ``read_request | let_value(handler) |
      let_value(write_response) | repeat_until(done) | let_error(answer_500) |
      stop_when(past_deadline)``, closed on every path;
    * ``sweep_loop()``: closes the connections past their deadline, once per tick, and stops
      their pipelines (a response write past ``write_timeout`` whose client still acknowledges
      bytes is a slow reader: its deadline moves on instead);
    * ``drain()``: stop accepting, close idle connections, finish in-flight requests (each
      answered with ``Connection: close``); ``drain_timeout`` later, stop what is left.
    * ``join()``: a sender completing once no connection is left (after a drain: once it is
      over).

    ``denials``, ``refusals`` and ``timeouts`` count the clients refused by the access list,
    answered 503 at accept, and closed by the sweep, for status pages.

    Not thread-safe: use it from its scheduler's loop. One ``run`` at a time.
    """

    __slots__ = (
        "_accepting",
        "_connections",
        "_drain_deadline",
        "_draining",
        "_handshakes",
        "_listening",
        "_live",
        "_reactor",
        "_sweeping",
        "_tick",
        "access_log",
        "acl",
        "denials",
        "drain_timeout",
        "handler",
        "limits",
        "monitor",
        "refusals",
        "scheduler",
        "scheme",
        "timeouts",
    )

    scheduler: IoScheduler
    """Where the server's operations run."""
    handler: Handler
    """``handler(request)``: the sender of the response."""
    limits: Limits
    """Connection limits and timeouts."""
    monitor: PerfMonitor | None
    """Measures each request from its head to its response written (5xx: errors); read when
    a connection is admitted."""
    acl: AccessControlList | None
    """Peers it blocks are closed at accept, before a byte is read."""
    drain_timeout: float
    """How long a drain lets requests in flight finish."""
    access_log: bool
    """Whether each request writes a ``dsexec.access`` record; read when a connection is
    admitted."""
    scheme: str
    """``"http"`` or ``"https"``, as requests report it."""
    denials: int
    """Clients refused by ``acl`` so far (closed at accept)."""
    refusals: int
    """Clients answered 503 at accept so far (at the connection limit, or draining)."""
    timeouts: int
    """Connections the timeout sweep has closed so far."""

    def __init__(
        self,
        scheduler: IoScheduler,
        handler: Handler,
        *,
        limits: Limits = DEFAULT_LIMITS,
        monitor: PerfMonitor | None = None,
        acl: AccessControlList | None = None,
        drain_timeout: float = 10.0,
        access_log: bool = False,
        scheme: str = "http",
    ) -> None:
        reactor = reactor_of(scheduler, "HttpServer")
        if not callable(handler):
            raise TypeError(f"HttpServer: handler must be callable, got {type(handler).__name__}")
        check_limits_and_scheme("HttpServer", limits, scheme)
        if monitor is not None and not isinstance(monitor, PerfMonitor):
            raise TypeError(f"HttpServer: monitor must be a PerfMonitor, got {monitor!r:.60}")
        if acl is not None and not isinstance(acl, AccessControlList):
            raise TypeError(f"HttpServer: acl must be an AccessControlList, got {acl!r:.60}")
        self.scheduler = scheduler
        self._reactor = reactor
        self.handler = handler
        self.limits = limits
        self.monitor = monitor
        self.acl = acl
        self.drain_timeout = check_delay("HttpServer", drain_timeout, "drain_timeout")
        self.access_log = bool(access_log)
        self.scheme = scheme
        self.denials = self.refusals = self.timeouts = 0
        self._accepting = CountingScope("HttpServer accept loops", scheduler=scheduler)
        self._connections = CountingScope("HttpServer connections", scheduler=scheduler)
        self._sweeping = CountingScope("HttpServer timeouts", scheduler=scheduler)
        # Each live connection, and once its pipeline is built, the _Served that runs it.
        self._live: dict[HttpConnection, _Served | None] = {}
        self._handshakes = 0
        self._listening: list[Acceptor] = []
        self._draining = False
        self._drain_deadline = math.inf
        timeouts = (limits.header_timeout, limits.idle_timeout, limits.write_timeout)
        self._tick = min(1.0, max(0.01, min(timeouts) / 4))

    @property
    def draining(self) -> bool:
        """Whether a drain has begun (a health check should now say 503)."""
        return self._draining

    @property
    def open_connections(self) -> int:
        """How many connections are being served."""
        return len(self._live)

    def connections(self) -> list[HttpConnection]:
        """The connections being served, as a new list."""
        return list(self._live)

    # -- the whole server -------------------------------------------------------------------

    def run(self, *listeners: Acceptor | tuple[Acceptor, ssl.SSLContext]) -> Sender[None]:
        """Serve on ``listeners`` until stopped: ``Sender[None]``.

        Each listener is an ``Acceptor`` (plain HTTP) or an ``(acceptor, ssl_context)`` pair
        (HTTPS: see ``accept_loop``). A stop request drains (see ``drain``: it closes the
        acceptors) and the sender completes with ``None`` once every connection is done; so
        does closing every acceptor.
        ``TypeError`` for anything else, ``ValueError`` without a listener.
        """
        if not listeners:
            raise ValueError("HttpServer.run: give at least one Acceptor")
        loops: list[tuple[Acceptor, ssl.SSLContext | None]] = []
        for listener in listeners:
            candidate: object = listener
            if isinstance(candidate, Acceptor):
                loops.append((candidate, None))
            elif (
                isinstance(candidate, tuple)
                and len(candidate) == 2
                and isinstance(candidate[0], Acceptor)
                and isinstance(candidate[1], ssl.SSLContext)
            ):
                loops.append((candidate[0], candidate[1]))
            else:
                raise TypeError(
                    f"HttpServer.run: expected Acceptors or (Acceptor, ssl.SSLContext) pairs, "
                    f"got {listener!r:.60}"
                )
        reactor = reactor_of(self.scheduler, "HttpServer.run")
        listening = tuple(loops)
        serving = functools.partial(self._serving, listening)
        return _ServeSender(None, (serving, self.drain, reactor, listening))

    def _serving(
        self, listeners: tuple[tuple[Acceptor, ssl.SSLContext | None], ...]
    ) -> Sender[None]:
        """Start the accept loops and the sweep; return the sender of the end of serving.

        Connections are joined once accepting is over (none can be admitted after that); with
        every acceptor closed, the server drains."""
        for acceptor, tls in listeners:
            self._listening.append(acceptor)
            self._accepting.spawn(self.accept_loop(acceptor, tls=tls))
        self._sweeping.spawn(self.sweep_loop())
        return (
            self._accepting.join()
            | then(lambda _: self.drain())
            | let_value(lambda _: self._connections.join())
            | let_value(lambda _: self._sweeping.join())
        )

    # -- accepting --------------------------------------------------------------------------

    def accept_loop(self, acceptor: Acceptor, *, tls: ssl.SSLContext | None = None) -> Sender[None]:
        """Accept on ``acceptor`` and ``admit`` each client, until the acceptor is closed or
        the loop is stopped (spawn it where a stop reaches it: ``run`` does). With ``tls`` (a
        server-side ``ssl.SSLContext``) every client first completes a TLS handshake within
        ``limits.tls_handshake_timeout`` and its requests say ``scheme == "https"``."""
        port = acceptor.port
        if tls is not None and not isinstance(tls, ssl.SSLContext):
            raise TypeError(f"HttpServer.accept_loop: tls must be an ssl.SSLContext, got {tls!r}")

        def failed(error: BaseException) -> None:
            if isinstance(error, ClosedResourceError):
                raise error  # the acceptor is closed: this loop is over
            _logger.warning("accept on %r failed: %s", acceptor, error)

        return (
            async_accept(self.scheduler, acceptor)
            | then(lambda sock: self.admit(sock, port, tls=tls))
            | upon_error(failed)
            | repeat()
            | upon_error(_ignore)
            | stopped_as_optional()
            | then(_ignore)
        )

    def admit(self, sock: Socket, port: int, *, tls: ssl.SSLContext | None = None) -> None:
        """Serve an accepted client, unless the access list refuses it (closed at once, audited)
        or the server is full or draining (answered 503 and closed; a TLS client is only
        closed: it cannot read a plain answer). With ``tls`` the TLS handshake comes first; a
        failed one is audited and closes the socket."""
        peer = _peer_address(sock)
        acl = self.acl
        if acl is not None and peer is not None and acl.is_blocked(peer):
            self.denials += 1
            audit_denied(peer, port, str(acl.decide(peer).reason))
            sock.close()
            return
        if self._draining or len(self._live) + self._handshakes >= self.limits.max_connections:
            self.refusals += 1
            if self._draining:
                audit_denied(peer, port, "server draining")
            else:
                audit_limit(peer, port, "max_connections")
            if tls is not None:
                sock.close()
                return
            refuse = async_write(
                self.scheduler, sock, error_response(503, date=SERVER_DATES.get())
            )
            self._connections.spawn(
                refuse | upon_error(_ignore) | finally_(just(sock) | then(Socket.close))
            )
            return
        audit_accept(peer, port)
        if tls is None:
            self._adopt(sock, self.scheme)
            return
        self._handshakes += 1
        handshake = async_tls_handshake(
            self.scheduler,
            sock,
            tls,
            server_side=True,
            timeout=self.limits.tls_handshake_timeout,
        )
        self._connections.spawn(
            handshake
            | upon_error(_ignore)  # audited, and the socket closed, by the handshake
            | upon_stopped(_nothing)
            | then(self._handshaken)
        )

    def _handshaken(self, secure: Socket | None) -> None:
        """A handshake ended (``None``: it failed or was stopped)."""
        self._handshakes -= 1
        if secure is not None:
            self._adopt(secure, "https")

    def _adopt(self, sock: Socket, scheme: str) -> None:
        """Serve ``sock`` as a new connection."""
        conn = HttpConnection(sock, limits=self.limits, scheme=scheme)
        now = conn.first_byte = self.scheduler.now()
        conn.deadline = now + self.limits.header_timeout
        conn.deadline_limit = "header_timeout"
        if self._draining:
            conn.closing = True  # handshaken during a drain: one request, then close
        self._live[conn] = None
        self._connections.spawn(self.serve_connection(conn))

    # -- one connection ---------------------------------------------------------------------

    def serve_connection(self, conn: HttpConnection) -> Sender[Any]:
        """Serve requests on ``conn`` until it is done, then forget and close it:
        ``read_request | let_value(handler) | let_value(write_response) | repeat_until(done) |
        let_error(answer_500) | stop_when(past_deadline)``.

        Past its deadline (see ``sweep_loop``) the connection is closed and the pipeline asked
        to stop, so that a handler still at work on its request stops too (and the connection's
        place is free once it has). A failed handler ends the loop; ``answer_500`` then answers
        its request ``500`` (with ``Connection: close``) unless the connection itself failed or
        the response had begun (a stream that fails half-way: the connection just closes).
        ``monitor`` and ``access_log`` are read here, once per connection: without them the
        handler is called as it is, with nothing wrapped around it.
        """
        served = _Served(self, conn)
        if conn in self._live:
            self._live[conn] = served
        return (
            read_request(self.scheduler, conn)
            | let_value(served.handle if served.measured else self.handler)
            | let_value(served.write)
            | repeat_until(served.done)
            | let_error(served.answer_500)
            | stop_when(_PastDeadlineSender(None, (self._reactor, served)))
            | upon_error(served.ended)
            | stopped_as_optional()
            | finally_(just(conn) | then(self._forget))
        )

    def _forget(self, conn: HttpConnection) -> None:
        self._live.pop(conn, None)
        conn.close()
        if self._draining and not self._live:
            self._sweeping.request_stop()  # nothing left to time out

    # -- timeouts ---------------------------------------------------------------------------

    def sweep_loop(self) -> Sender[Any]:
        """Sweep every tick until stopped (once draining leaves no connection)."""
        return self.scheduler.schedule_after(self._tick) | then(lambda _: self._sweep()) | repeat()

    def _sweep(self) -> None:
        """Close the connections past their deadline."""
        now = self.scheduler.now()
        if self._draining and now >= self._drain_deadline:
            self._connections.request_stop()
            for conn in list(self._live):
                conn.close()
            return  # every connection is closed: none is left to time out
        for conn, served in list(self._live.items()):
            deadline = conn.deadline
            if deadline == math.inf:
                continue
            if conn.deadline_limit == "write_timeout" and _write_progressed(conn):
                # The client read some of the response since the last tick: a slow reader,
                # not a stuck one (write_timeout is a time without progress).
                conn.deadline = now + conn.limits.write_timeout
                continue
            if deadline > now:
                continue
            self.timeouts += 1
            conn.audit_limit(conn.deadline_limit)
            conn.deadline = math.inf  # closed: nothing more to time out (nor to audit)
            conn.close()  # what waits on the socket fails with ClosedResourceError ...
            if served is not None and served.past_deadline is not None:
                served.past_deadline.fire()  # ... and a handler still at work is stopped

    # -- draining ---------------------------------------------------------------------------

    def join(self) -> Sender[None]:
        """``Sender[None]`` completing once no connection is being served (nor answered 503):
        after ``drain()``, once the drain is over. For servers composed from ``accept_loop``,
        ``sweep_loop`` and ``drain`` rather than ``run``."""
        return self._connections.join()

    def drain(self) -> None:
        """Stop accepting (closing the listening sockets ``run`` serves: a new client is
        refused at once, and a balancer moves on, instead of waiting in a backlog nobody
        reads); close idle connections; let requests in flight finish."""
        if self._draining:
            return
        self._draining = True
        self._drain_deadline = self.scheduler.now() + self.drain_timeout
        self._accepting.request_stop()
        for acceptor in self._listening:
            acceptor.close()
        for conn in list(self._live):
            if conn.request is None and not conn.parser.trailing_data:
                conn.close()  # idle between requests
            else:
                conn.closing = True
        if not self._live:
            self._sweeping.request_stop()


def _nothing() -> None:
    """No value: a stopped handshake."""


@final
class _Served:
    """The functions of one connection's ``serve_connection`` pipeline, as bound methods of one
    slotted object (a server holds thousands of connections: closures and their cells would
    cost three times the memory)."""

    __slots__ = (
        "access_log",
        "conn",
        "logged",
        "measured",
        "monitor",
        "past_deadline",
        "scheduler",
        "server",
    )

    def __init__(self, server: HttpServer, conn: HttpConnection) -> None:
        self.server = server
        self.conn = conn
        self.scheduler = server.scheduler
        # Read once, when the connection is admitted.
        self.monitor = server.monitor
        self.access_log = server.access_log
        self.measured = self.monitor is not None or self.access_log
        self.logged = (b"-", b"-")  # the current request's method and target, for the log
        # The trigger of the connection's stop_when while it waits (see _PastDeadline).
        self.past_deadline: _PastDeadline | None = None

    def handle(self, request: Request) -> Sender[Response]:
        """The handler, measured (``monitor``, ``access_log``)."""
        if self.monitor is not None:
            self.conn.started = self.monitor.begin()
        if self.access_log:
            self.logged = (request.method, request.target)
        return self.server.handler(request)

    def write(self, response: Response) -> Sender[HttpConnection]:
        """``write_response``; while draining the answer says ``Connection: close``."""
        conn = self.conn
        if self.server.draining:
            conn.closing = True
        return write_response(self.scheduler, conn, response)

    def done(self, _: object) -> bool:
        """Whether the connection is done after this response."""
        if self.measured:
            self._request_done()
        return self.conn.closing or self.server.draining

    def _request_done(self) -> None:
        conn = self.conn
        status = conn.status
        if self.monitor is not None:
            self.monitor.end(conn.started, status < 500)
        if self.access_log:
            method, target = self.logged
            self.logged = (b"-", b"-")
            _access.info(
                "%s %s %s %d",
                conn.peer[0] if conn.peer else "-",
                method.decode("latin-1"),
                target.decode("latin-1"),
                status,
                extra={"peer": conn.peer, "method": method, "target": target, "status": status},
            )

    def answer_500(self, error: BaseException) -> Sender[Any]:
        """A failed handler's request gets a ``500`` and a close; other errors pass on."""
        conn = self.conn
        if isinstance(error, _CONNECTION_ERRORS) or conn.request is None or conn.status:
            return just_error(error)
        _logger.error("handler failed on %r: %r", conn.request, error, exc_info=error)
        return self.write(_INTERNAL_ERROR) | then(self.done)

    def ended(self, error: BaseException) -> None:
        """Log what is not the connection's own failure."""
        if not isinstance(error, _CONNECTION_ERRORS):
            _logger.error("connection %r failed: %r", self.conn, error, exc_info=error)


# struct tcp_info (linux/tcp.h): tcpi_bytes_acked, a u64 at byte 120 (Linux 4.1 and later).
_BYTES_ACKED: Final = struct.Struct("=Q")
_BYTES_ACKED_AT: Final = 120
_TCP_INFO: Final = getattr(socket, "TCP_INFO", None) if sys.platform == "linux" else None


def _write_progressed(conn: HttpConnection) -> bool:
    """Whether the client acknowledged more of the response since the sweep last looked (it
    looks once per tick while a write waits; the first look takes the measure). Where the
    kernel cannot tell (not Linux, not TCP, TLS), no progress is seen: the write then has
    ``write_timeout`` in all."""
    acked = _bytes_acked(conn.sock)
    if acked is None:
        return False
    seen = conn.write_acked
    conn.write_acked = acked
    return 0 <= seen < acked


def _bytes_acked(sock: Socket) -> int | None:
    """The bytes the peer of ``sock`` has acknowledged so far (``None``: cannot tell)."""
    raw = sock.raw
    if _TCP_INFO is None or type(raw) is not socket.socket:
        return None
    try:
        info = raw.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 256)
    except OSError:
        return None
    if len(info) < _BYTES_ACKED_AT + 8:
        return None
    acked: int = _BYTES_ACKED.unpack_from(info, _BYTES_ACKED_AT)[0]
    return acked


@final
class _PastDeadline(ReactorOperation[None]):
    """The trigger of a connection's ``stop_when``: completes when the sweep finds the
    connection past its deadline (``fire``), so that a handler still at work is asked to stop
    -- closing the socket reaches only what waits on it. Registered on its ``_Served`` while it
    waits; stopped when the connection's pipeline ends first."""

    __slots__ = ("_served",)

    def __init__(self, reactor: Reactor, receiver: Receiver[None], served: _Served) -> None:
        super().__init__(reactor, receiver)
        self._served = served

    def _begin(self) -> None:
        self._served.past_deadline = self

    def _cancel(self) -> None:
        if self._served.past_deadline is self:
            self._served.past_deadline = None

    def fire(self) -> None:
        """The deadline passed: complete (on the loop thread)."""
        self._cancel()
        self._succeed(None)


_PastDeadlineSender = ReactorSender.variant("past_deadline", reactor_operation=_PastDeadline)


def _ignore(_: object) -> None:
    """An outcome nobody needs (a finished loop, a refusal the client did not read)."""


def _peer_address(sock: Socket) -> Any:
    try:
        return sock.get_remote_address()
    except OSError:
        return None


@final
class _ServeOp:
    """Starts serving, drains on a stop request, completes with ``None`` once every
    connection is done."""

    __slots__ = ("_child", "_drain", "_reactor", "_receiver", "_serving", "_stop_callback")

    def __init__(
        self,
        serving: Callable[[], Sender[None]],
        drain: Callable[[], None],
        reactor: Reactor,
        receiver: Receiver[None],
    ) -> None:
        self._serving = serving
        self._drain = drain
        self._reactor = reactor
        self._receiver = receiver
        self._stop_callback: StopCallback | None = None
        self._child: OperationState | None = None

    def start(self) -> None:
        token = self._receiver.get_env().stop_token
        joined = self._serving()
        if token.stop_possible():
            reactor, drain = self._reactor, self._drain
            self._stop_callback = token.register(lambda: run_on_loop(reactor, drain))
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
    """``data`` is ``(serving, drain, reactor, listeners)``: ``serving()`` starts the server's
    loops and returns the sender of their end."""

    __slots__ = ()
    name: ClassVar[str] = "HttpServer.run"

    def connect(self, receiver: Receiver[None], /) -> OperationState:
        serving, drain, reactor, _ = self.data
        return _ServeOp(serving, drain, reactor, receiver)

    def __repr__(self) -> str:
        return f"serve_http({', '.join(repr(acceptor) for acceptor, _ in self.data[3])})"


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
    tls: ssl.SSLContext | None = None,
) -> Sender[None]:
    """Serve HTTP/1.1 on ``acceptor`` with ``handler`` until stopped: ``Sender[None]``.

    With ``tls`` (a server-side ``ssl.SSLContext``) it serves HTTPS: each client's TLS
    handshake first, within ``limits.tls_handshake_timeout``.

    ``handler(request)`` returns the sender of the ``Response``. A stop request drains the
    server (see the module docstring) and the sender completes with ``None``. The same as
    ``HttpServer(scheduler, handler, ...).run(acceptor)``. ``TypeError`` / ``ValueError`` when
    built for bad arguments.
    """
    if not isinstance(acceptor, Acceptor):
        raise TypeError(f"serve_http: expected an Acceptor, got {type(acceptor).__name__}")
    server = HttpServer(
        scheduler,
        handler,
        limits=limits,
        monitor=monitor,
        acl=acl,
        drain_timeout=drain_timeout,
        access_log=access_log,
        scheme=scheme,
    )
    return server.run(acceptor if tls is None else (acceptor, tls))
