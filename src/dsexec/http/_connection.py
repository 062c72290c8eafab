"""``HttpConnection``: one HTTP/1.1 connection's state between its requests.

An ``HttpConnection`` pairs a socket with its :class:`RequestParser` and remembers what the
senders need between requests: the scheduler its operations run on, whether it must close
after the current response, the request being served, whether a ``100 Continue`` went out,
and the deadline a server's timeout sweep enforces (``math.inf``: none). Reads and writes are
the senders' job (``read_request``, ``Request.body()``, ``write_response``); this module holds
state and the small decisions on it.

Addresses are normalised: an IPv4 client of a dual-stack socket is seen as IPv4
(``Socket.get_remote_address``), so handlers, logs and access lists see one address per
client whatever the listening socket's family.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final, final

from .._core import ClosedResourceError
from ..net import IPAddress, Socket
from ..security import Limits
from ..security._audit import audit_limit
from ._events import PAUSED, BodyChunk, EndOfMessage
from ._parser import RequestParser

if TYPE_CHECKING:
    from ..schedulers import IoScheduler
    from ._request import Request

__all__ = ["DEFAULT_LIMITS", "HttpConnection", "check_limits_and_scheme"]

DEFAULT_LIMITS: Final = Limits()


@final
class HttpConnection:
    """One HTTP/1.1 connection: a socket, its request parser, and where it stands.

    ``HttpConnection(sock, limits=Limits(), scheme="http")`` adopts a connected
    :class:`~dsexec.net.Socket` (or a ``SecureSocket``, with ``scheme="https"``). The senders
    ``read_request(sch, conn)`` and ``write_response(sch, conn, response)`` serve requests on
    it one after another (pipelined requests are answered in order). ``closing`` tells whether
    the connection is done after the current response; ``close()`` closes the socket.
    """

    __slots__ = (
        "_local",
        "closing",
        "continue_sent",
        "deadline",
        "deadline_limit",
        "first_byte",
        "limits",
        "parser",
        "peer",
        "request",
        "requests",
        "scheduler",
        "scheme",
        "sock",
        "started",
        "status",
        "write_acked",
    )

    # The package-internal contract of the http senders (plain names: see dsexec.net's Socket).
    sock: Socket
    """The socket."""
    parser: RequestParser
    """The sans-IO request parser, fed with everything received."""
    scheduler: IoScheduler | None
    """The scheduler the last ``read_request`` ran on (body reads use it too)."""
    request: Request | None
    """The request being served (from its head until its response is written)."""
    continue_sent: bool
    """Whether the ``100 Continue`` of the current request went out."""
    deadline: float
    """When a server's timeout sweep closes the connection, on the scheduler's clock."""
    deadline_limit: str
    """The ``Limits`` field that set ``deadline`` (``"header_timeout"``, ``"idle_timeout"``,
    ``"request_timeout"``, ``"write_timeout"``): what the audit log names when it passes."""
    first_byte: float
    """When the current request's first byte (for the first request: the connection) arrived,
    on the scheduler's clock (``math.inf``: unknown, so no request deadline)."""
    started: float
    """When the current request's head arrived (for a server's latency figures)."""
    status: int
    """The status of the current request's response once its write has begun (0 before)."""
    write_acked: int
    """While a response write waits: the bytes the client had acknowledged when a server's
    sweep last looked (-1: not looked yet), to tell a slow reader from a stuck one."""

    def __init__(
        self, sock: Socket, *, limits: Limits = DEFAULT_LIMITS, scheme: str = "http"
    ) -> None:
        if not isinstance(sock, Socket):
            raise TypeError(
                f"HttpConnection: expected a dsexec.net.Socket, got {type(sock).__name__}"
            )
        check_limits_and_scheme("HttpConnection", limits, scheme)
        self.sock = sock
        self.limits = limits
        self.scheme = scheme
        self.parser = RequestParser(
            max_header_bytes=limits.max_header_bytes, max_body_bytes=limits.max_body_bytes
        )
        self.peer: tuple[IPAddress, int] | None = _endpoint(sock, remote=True)
        self._local: tuple[IPAddress, int] | None = None
        self.scheduler = None
        self.request = None
        self.closing = False
        self.continue_sent = False
        self.requests = 0
        self.deadline = math.inf
        self.deadline_limit = "header_timeout"
        self.first_byte = math.inf
        self.started = 0.0
        self.status = 0
        self.write_acked = -1

    @property
    def local(self) -> tuple[IPAddress, int] | None:
        """The local address and port (``None`` if the socket cannot tell)."""
        if self._local is None:
            self._local = _endpoint(self.sock, remote=False)
        return self._local

    def begin_request(self, request: Request) -> None:
        """The parser produced ``request``'s head: it is the current request now."""
        self.requests += 1
        self.continue_sent = False
        self.status = 0
        self.request = request
        if not request.head.keep_alive:
            self.closing = True

    def keeps_alive_after(self, close: bool = False) -> bool:
        """Decide, before the response to the current request is written, whether the
        connection stays open after it (``close``: the response asks to close). A request body
        the handler left unread is skipped if it has arrived whole, else the connection
        closes: reading an unwanted body from the network is not worth it."""
        if close or self.closing:
            self.closing = True
            return False
        parser = self.parser
        while True:
            event = parser.next_event()
            kind = type(event)
            if kind is BodyChunk:
                continue
            if (kind is EndOfMessage or event is PAUSED) and not parser.must_close:
                return True
            self.closing = True  # NEED_DATA: the body is still on the wire (or an error)
            return False

    def finish_request(self) -> None:
        """The response to the current request is written: get ready for the next one, if
        ``keeps_alive_after`` decided there is one."""
        self.request = None
        if not self.closing:
            self.parser.start_next_cycle()

    def audit_limit(self, limit: str) -> None:
        """Record in the audit log that this connection hit ``limit`` (a ``Limits`` field)."""
        local = self.local
        audit_limit(self.peer[0] if self.peer else None, local[1] if local else 0, limit)

    def close(self) -> None:
        """Close the socket (idempotent): pending reads and writes on it end with
        ``ClosedResourceError``."""
        self.closing = True
        self.sock.close()

    def __repr__(self) -> str:
        peer = "?" if self.peer is None else _format_endpoint(self.peer)
        state = "closing" if self.closing else "open"
        return f"<HttpConnection {self.scheme} peer={peer} requests={self.requests} {state}>"


def check_limits_and_scheme(owner: str, limits: object, scheme: object) -> None:
    """Raise ``TypeError`` unless ``limits`` is a ``Limits`` and ``ValueError`` unless
    ``scheme`` is ``"http"`` or ``"https"``, each message naming ``owner`` and the bad value."""
    if not isinstance(limits, Limits):
        raise TypeError(f"{owner}: limits must be a Limits, got {type(limits).__name__}")
    if scheme not in ("http", "https"):
        raise ValueError(f"{owner}: scheme must be 'http' or 'https', got {scheme!r}")


def _endpoint(sock: Socket, *, remote: bool) -> tuple[IPAddress, int] | None:
    try:
        endpoint = sock.get_remote_endpoint() if remote else sock.get_local_endpoint()
    except (OSError, ClosedResourceError):
        return None
    return endpoint.address, endpoint.port


def _format_endpoint(endpoint: tuple[IPAddress, int]) -> str:
    address, port = endpoint
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"
