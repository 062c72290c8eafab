"""``Request``, and receiving requests as senders: ``read_request(sch, conn)``,
``request.body()`` and ``request.body_chunk()``.

All three are one operation, :class:`_ReceiveOp`, reading the connection's parser events and
receiving more bytes only when the parser needs them (so a pipelined request already received
completes at once, with no system call):

* ``read_request`` wants a ``RequestHead``: it completes with a :class:`Request`. A clean end
  of input between requests (the client closed the connection) completes it with
  ``set_stopped()``: there is no request, and a ``repeat`` loop serving the connection ends
  quietly; so does a read after an answer that closed the connection. Reading again before
  the current request is answered is a ``RuntimeError``. Malformed input (the parser's
  ``ProtocolError``: smuggling shapes, limits, bad framing) is answered here, before the
  operation fails: the error response is sent (best effort, without waiting), the connection
  marked ``closing``, and the operation completes with ``HttpError(status)``.
* ``body()`` collects the body to its end; ``body_chunk()`` delivers the next piece (``b""``
  once the body is over). For an ``Expect: 100-continue`` request the ``100 Continue`` goes out
  before the first wait for body bytes.

Deadlines (``HttpConnection.deadline``, enforced by ``serve_http``'s sweep, ignored
otherwise): while waiting for the next request on a kept-alive connection it is
``idle_timeout`` away; once the first bytes of a head arrive (for the first request: from the
accept), ``header_timeout`` (counted once per request, not from each read); once the head is
complete, ``request_timeout`` from its first byte (an absolute deadline for reading the body
and handling the request); ``write_response`` then gives a write that has to wait
``write_timeout`` (one that goes out at once needs none).

Errors: ``HttpError`` as above; ``ClosedResourceError`` if the connection is closed meanwhile
(a server's timeout sweep does that); ``NetError`` for socket errors; ``BusyResourceError`` if
another read is pending on the connection. On stop: the wait is withdrawn and ``set_stopped``
delivered at once; received bytes stay with the parser.
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar, Final, final
from urllib.parse import unquote_to_bytes

from .._core import HttpError, OperationState, Receiver, Sender
from ..net import IPAddress
from ..net._socket_operation import SocketOperation
from ..schedulers import IoScheduler, Reactor
from ..schedulers._reactor import ReactorSender, reactor_of
from ._connection import HttpConnection
from ._date_cache import SERVER_DATES
from ._events import (
    NEED_DATA,
    PAUSED,
    BodyChunk,
    ConnectionClosed,
    EndOfMessage,
    ProtocolError,
    RequestHead,
)
from ._serialize import CONTINUE_RESPONSE, error_response

__all__ = ["Request", "read_request"]

_HEAD: Final = 0
_BODY: Final = 1
_CHUNK: Final = 2
_RECV_SIZE: Final = 65536
# The statuses of a refusal that is a limit hit, and the Limits field each stands for (audited).
_LIMIT_OF_STATUS: Final = {431: "max_header_bytes", 413: "max_body_bytes"}


@final
class Request:
    """One HTTP request: its head as received, and access to its body.

    ``method``, ``target``, ``path`` (percent-decoded bytes), ``query_string`` (raw bytes after
    ``?``), ``http_version`` (``"1.1"``/``"1.0"``), ``headers`` (``(name, value)`` byte pairs as
    sent), ``header(name)``, ``keep_alive``, ``content_length``, ``chunked``; ``peer`` and
    ``local`` (address, port) normalised; ``scheme``. The body is read with the senders
    ``body()`` (all of it, bounded by ``Limits.max_body_bytes``) or ``body_chunk()`` (the next
    piece, ``b""`` at the end), on the scheduler of the ``read_request`` that produced it; read
    it before the response is written, or not at all (an unread body closes the connection
    after the response, unless it had arrived whole).
    """

    __slots__ = ("_path", "connection", "head")

    connection: HttpConnection
    """The connection the request came on."""
    head: RequestHead
    """The parsed head (a ``RequestHead``)."""

    def __init__(self, head: RequestHead, connection: HttpConnection) -> None:
        self.head = head
        self.connection = connection
        self._path: bytes | None = None

    @property
    def method(self) -> bytes:
        """``b"GET"``, ``b"POST"``, ..."""
        return self.head.method

    @property
    def target(self) -> bytes:
        """The request target as sent (``b"/a%20b?x=1"``)."""
        return self.head.target

    @property
    def path(self) -> bytes:
        """The target's path, percent-decoded once (``b"/a b"``)."""
        path = self._path
        if path is None:
            raw = self.raw_path
            path = self._path = unquote_to_bytes(raw) if b"%" in raw else raw
        return path

    @property
    def raw_path(self) -> bytes:
        """The target's path as sent, without the query string (of an absolute-form target,
        ``GET http://host/a?x HTTP/1.1``, the path alone: ``b"/a"``)."""
        target = origin_form(self.head.target)
        query = target.find(b"?")
        return target if query < 0 else target[:query]

    @property
    def query_string(self) -> bytes:
        """The bytes after ``?`` in the target (``b""`` without one)."""
        target = self.head.target
        query = target.find(b"?")
        return b"" if query < 0 else target[query + 1 :]

    @property
    def http_version(self) -> str:
        """``"1.1"`` or ``"1.0"``."""
        return self.head.http_version

    @property
    def headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """The header fields as ``(name, value)`` pairs, names as sent, in arrival order."""
        return self.head.headers

    def header(self, name: bytes, default: bytes | None = None) -> bytes | None:
        """The value of the first header ``name`` (any case), else ``default``."""
        return self.head.get(name, default)

    @property
    def keep_alive(self) -> bool:
        """Whether the client allows another request on the connection after this one."""
        return self.head.keep_alive

    @property
    def content_length(self) -> int | None:
        """The announced body length, or ``None``."""
        return self.head.content_length

    @property
    def chunked(self) -> bool:
        """Whether the body comes chunked."""
        return self.head.chunked

    @property
    def peer(self) -> tuple[IPAddress, int] | None:
        """The client's address and port, IPv4-mapped IPv6 unmapped."""
        return self.connection.peer

    @property
    def local(self) -> tuple[IPAddress, int] | None:
        """The server's address and port."""
        return self.connection.local

    @property
    def scheme(self) -> str:
        """``"http"`` or ``"https"``."""
        return self.connection.scheme

    def body(self) -> Sender[bytes]:
        """The whole body (``b""`` if there is none): ``Sender[bytes]``. A body over
        ``Limits.max_body_bytes`` is answered 413 and fails with ``HttpError(413)``."""
        return self._body_sender(_BODY, "Request.body")

    def body_chunk(self) -> Sender[bytes]:
        """The next piece of the body: ``Sender[bytes]``, ``b""`` once it is over."""
        return self._body_sender(_CHUNK, "Request.body_chunk")

    def _body_sender(self, mode: int, what: str) -> Sender[bytes]:
        conn = self.connection
        scheduler = conn.scheduler
        if scheduler is None:
            raise RuntimeError(f"{what}: the request was not read with read_request")
        if conn.request is not self:
            raise RuntimeError(f"{what}: the request's response was written already")
        return _ReceiveSender(None, (reactor_of(scheduler, what), conn, mode))

    def __repr__(self) -> str:
        return f"<Request {self.head.method.decode('latin-1')} {self.head.target!r:.80}>"


def origin_form(target: bytes) -> bytes:
    """``target`` in origin form: an absolute-form target (``http://host/a?x``, which a
    server must accept, RFC 9112 3.2.2) without its scheme and authority (``/a?x``; ``/`` for
    an empty path); any other target as it is."""
    if target[:1] == b"/" or b"://" not in target:
        return target
    start = target.index(b"://") + 3
    slash = target.find(b"/", start)
    query = target.find(b"?", start)
    if slash < 0 or 0 <= query < slash:
        return b"/" if query < 0 else b"/" + target[query:]
    return target[slash:]


@final
class _ReceiveOp(SocketOperation[Any]):
    __slots__ = ("_collected", "_conn", "_idle", "_mode")
    name: ClassVar[str] = "read_request"

    def __init__(
        self, reactor: Reactor, receiver: Receiver[Any], conn: HttpConnection, mode: int
    ) -> None:
        super().__init__(reactor, receiver, conn.sock)
        self._conn = conn
        self._mode = mode
        self._collected: list[bytes] = []
        # Waiting on a kept-alive connection with no byte of the next request yet: the first
        # bytes received start its header timer.
        self._idle = False

    def _begin(self) -> None:
        conn = self._conn
        self._idle = False
        if self._mode == _HEAD and conn.requests:
            now = self._reactor.time()
            if conn.parser.needs_data:  # idle: nothing of the next request has come yet
                conn.deadline = now + conn.limits.idle_timeout
                conn.deadline_limit = "idle_timeout"
                self._idle = True
                self._wait()
                return
            # A pipelined request whose bytes are here already (or the end of input).
            conn.first_byte = now
            conn.deadline = now + conn.limits.header_timeout
            conn.deadline_limit = "header_timeout"
        self._pump()

    def _pump(self) -> None:
        """Hand out parser events until the operation is decided, or wait for more bytes."""
        conn = self._conn
        parser = conn.parser
        mode = self._mode
        while True:
            event = parser.next_event()
            kind = type(event)
            if type(event) is RequestHead and mode == _HEAD:
                request = Request(event, conn)
                conn.begin_request(request)
                conn.deadline = conn.first_byte + conn.limits.request_timeout
                conn.deadline_limit = "request_timeout"
                self._succeed(request)
                return
            if kind is BodyChunk:
                assert isinstance(event, BodyChunk)
                if mode == _CHUNK:
                    self._succeed(event.data)
                    return
                self._collected.append(event.data)
            elif kind is EndOfMessage or event is PAUSED:
                if mode == _HEAD:
                    self._no_next_request()
                    return
                self._succeed(b"".join(self._collected))
                return
            elif event is NEED_DATA:
                if mode == _HEAD:
                    self._wait()
                else:
                    self._wait_for_bytes()
                return
            elif kind is ConnectionClosed:
                conn.closing = True
                if mode == _HEAD:  # the client closed between requests: no request
                    self._stopped()
                    return
                self._refuse(400, "the connection closed before the body ended")
                return
            else:
                assert isinstance(event, ProtocolError)
                self._refuse(event.status, event.reason)
                return

    def _stopped(self) -> None:
        """No request will come: complete with ``set_stopped``."""
        self._done = True
        self._release_stop_callback()
        self._receiver.set_stopped()

    def _no_next_request(self) -> None:
        """The parser waits for the current request's answer, or has no request to give:
        after a response that closed the connection, as after the client's close, no request
        (``set_stopped``); before the current request is answered, a ``RuntimeError``."""
        conn = self._conn
        if conn.closing or conn.parser.must_close:
            conn.closing = True
            self._stopped()
            return
        self._fail(
            RuntimeError(
                "read_request: the current request on this connection has not been answered "
                "(write_response) yet"
            )
        )

    def _wait_for_bytes(self) -> None:
        """Wait for body bytes; an ``Expect: 100-continue`` request gets its ``100 Continue``
        first."""
        conn = self._conn
        request = conn.request
        if request is not None and request.head.expect_continue and not conn.continue_sent:
            conn.continue_sent = True
            with contextlib.suppress(OSError):  # the read below meets it again and reports it
                self._sock.raw.send(CONTINUE_RESPONSE)
        self._wait()

    def fd_ready(self) -> None:
        if self._done:
            return
        data = self._recv(_RECV_SIZE)
        if data is None:
            return
        conn = self._conn
        if self._idle and data:
            # the first bytes of the next request: its header timer starts, once
            self._idle = False
            now = conn.first_byte = self._reactor.time()
            conn.deadline = now + conn.limits.header_timeout
            conn.deadline_limit = "header_timeout"
        conn.parser.feed(data)
        self._pump()

    def _refuse(self, status: int, reason: str) -> None:
        """Malformed input: answer ``status`` (best effort), mark the connection done, fail."""
        conn = self._conn
        conn.closing = True
        limit = _LIMIT_OF_STATUS.get(status)
        if limit is not None:
            conn.audit_limit(limit)
        with contextlib.suppress(OSError):  # the client is gone or not reading: closing anyway
            self._sock.raw.send(error_response(status, date=SERVER_DATES.get()))
        self._fail(HttpError(status, f"{self.name}: {reason}"))


@final
class _ReceiveSender(ReactorSender):
    """``data`` is ``(reactor, connection, mode)``; fuses with ``let_value`` (the handler's, in
    ``serve_http``: ``ReactorSender.fuse``)."""

    __slots__ = ()
    name: ClassVar[str] = "read_request"

    def connect(self, receiver: Receiver[Any], /) -> OperationState:
        reactor, conn, mode = self.data
        return _ReceiveOp(reactor, receiver, conn, mode)

    @property
    def restartable(self) -> bool:  # type: ignore[override]
        mode: int = self.data[2]
        return mode == _HEAD

    def __repr__(self) -> str:
        what = ("read_request", "Request.body", "Request.body_chunk")[self.data[2]]
        return f"{what}({self.data[1]!r})"


def read_request(scheduler: IoScheduler, conn: HttpConnection, /) -> Sender[Request]:
    """Read the next request's head from ``conn``: ``Sender[Request]``.

    Completes at once when the bytes are already there (pipelining); completes with
    ``set_stopped()`` when the client closed the connection between requests (or the last
    answer closed it); fails with ``RuntimeError`` before the current request is answered; answers
    malformed input itself and then fails with ``HttpError(status)`` (see the module docstring).
    The body is read through the request (``request.body()``). ``TypeError`` when built for a
    scheduler without a reactor or a non-``HttpConnection``.
    """
    reactor = reactor_of(scheduler, "read_request")
    if not isinstance(conn, HttpConnection):
        raise TypeError(f"read_request: expected an HttpConnection, got {type(conn).__name__}")
    conn.scheduler = scheduler
    return _ReceiveSender(None, (reactor, conn, _HEAD))
