"""``write_response(sch, conn, response)``: answering a request.

``write_response`` decides the connection's fate first: it stays open if the request allowed
it, the response does not ask to close, and any request body the handler left unread had
arrived whole (it is skipped; an unread body still on the wire closes the connection). The
head says so (``Connection: close``), gets a cached ``Date``, and for a ``HEAD`` request
carries no body. The sender completes with the connection, ready for the next
``read_request`` (or ``closing``), so a loop reads
``read_request | let_value(handler) | let_value(write) | repeat_until(closing)``.

Errors: those of ``async_write``/``async_sendfile`` (``ClosedResourceError``, ``NetError``);
a stream's own error. On stop: the write in progress stops (a response may be cut: the
connection is then ``closing``).
"""

from __future__ import annotations

import math
import os
from typing import Any, ClassVar, Final, final

from .._core import BasicSender, ForwardingReceiver, OperationState, Receiver, Sender
from ..net import async_sendfile, async_write
from ..net._write import write_sender
from ..schedulers import IoScheduler
from ..schedulers._reactor import Reactor, reactor_of
from ..senders import finally_, just, let_value, repeat_until, then
from ._connection import HttpConnection
from ._date_cache import SERVER_DATES
from ._known_heads import response_bytes
from ._response import FileBody, Response, StreamBody
from ._serialize import (
    LAST_CHUNK,
    response_body_allowed,
    serialize_chunk,
    serialize_response_head,
)

__all__ = ["write_response"]

_DATES: Final = SERVER_DATES


@final
class _Written(ForwardingReceiver[Any]):
    """The response is out: the connection moves on to the next request; its value is the
    connection (``data``)."""

    __slots__ = ()

    def set_value(self, value: object, /) -> None:
        conn: HttpConnection = self.data
        conn.finish_request()
        self.receiver.set_value(conn)

    def set_error(self, error: BaseException, /) -> None:
        self.data.closing = True
        self.receiver.set_error(error)

    def set_stopped(self) -> None:
        self.data.closing = True
        self.receiver.set_stopped()


def _response_sender(
    scheduler: IoScheduler, reactor: Reactor, conn: HttpConnection, response: Response
) -> Sender[Any]:
    """The sender writing ``response`` on ``conn`` (its head decided now). The caller sets the
    write deadline (``_write_deadline``) once the write has to wait."""
    request = conn.request
    if request is None:
        raise RuntimeError("write_response: no request is being served on this connection")
    head = request.head
    keep_alive = conn.keeps_alive_after(response.close)
    status = response.status
    body = response.body
    if type(body) is bytes:
        data = response_bytes(response, head.http_version, keep_alive, _DATES.get(), head.method)
        sender = write_sender(reactor, conn.sock, data)
    else:
        send_body = response_body_allowed(head.method, status)
        if isinstance(body, FileBody):
            sender = _file_response(
                scheduler, reactor, conn, response, body, keep_alive, send_body
            )
        else:
            assert isinstance(body, StreamBody)
            sender = _stream_response(
                scheduler, reactor, conn, response, body, keep_alive, send_body
            )
    # The response is under way (a head that cannot be serialised raised above: nothing went
    # out, and a server can still answer 500).
    conn.status = status
    return sender


def _write_deadline(scheduler: IoScheduler, conn: HttpConnection) -> None:
    """The write may take ``write_timeout`` from now. Set only when the write has to wait: a
    response that goes out at once is followed by the next ``read_request``, which sets the
    connection's next deadline before anything else can run on the loop."""
    conn.deadline = scheduler.now() + conn.limits.write_timeout
    conn.deadline_limit = "write_timeout"
    conn.write_acked = -1  # a server's sweep measures progress from its next look


def _file_response(  # noqa: PLR0917
    scheduler: IoScheduler,
    reactor: Reactor,
    conn: HttpConnection,
    response: Response,
    body: FileBody,
    keep_alive: bool,
    send_body: bool,
) -> Sender[Any]:
    file = body.file
    owned = False
    if isinstance(file, int):
        fileno = file
    elif isinstance(file, str | os.PathLike):
        fileno = os.open(file, os.O_RDONLY)
        owned = True
    else:
        fileno = file.fileno()
    try:
        count = body.count
        if count is None:
            count = max(0, os.fstat(fileno).st_size - body.offset)
        head = serialize_response_head(
            response.status,
            response.headers,
            http_version=conn.request.head.http_version,  # type: ignore[union-attr]
            keep_alive=keep_alive,
            content_length=count,
            date=_DATES.get(),
        )
    except BaseException:
        if owned:
            os.close(fileno)
        raise
    sock = conn.sock
    written = write_sender(reactor, sock, head)
    if send_body and count:
        # Corked from the head to the body's end, on every path (see Socket.cork): the
        # difference between 0.6x and 0.9x nginx on 1 MiB files (benchmarks/http_medusa).
        sock.cork(True)
        written = (
            written
            | let_value(lambda _: async_sendfile(scheduler, sock, fileno, body.offset, count))
            | finally_(just(False) | then(sock.cork))
        )
    if owned:
        written = written | finally_(just(fileno) | then(os.close))
    return written


def _stream_response(  # noqa: PLR0917
    scheduler: IoScheduler,
    reactor: Reactor,
    conn: HttpConnection,
    response: Response,
    body: StreamBody,
    keep_alive: bool,
    send_body: bool,
) -> Sender[Any]:
    http10 = conn.request.head.http_version == "1.0"  # type: ignore[union-attr]
    length = body.content_length
    if http10 and length is None:
        keep_alive = False
        conn.closing = True
    status = response.status
    head = serialize_response_head(
        status,
        response.headers,
        http_version="1.0" if http10 else "1.1",
        keep_alive=keep_alive,
        content_length=length if status != 204 else None,
        # (a HEAD answer announces the framing of the GET's body, 204 and 304 have none)
        chunked=length is None and not http10 and status not in (204, 304),
        date=_DATES.get(),
    )
    written: Sender[Any] = write_sender(reactor, conn.sock, head)
    if not send_body:
        return written
    sock = conn.sock
    if length is not None:
        return written | let_value(lambda _: _counted_rounds(scheduler, conn, body, length))

    def send_piece(piece: bytes) -> Sender[int]:
        _write_deadline(scheduler, conn)
        if not piece:
            return just(-1) if http10 else write_sender(reactor, sock, LAST_CHUNK) | then(_ended)
        if http10:
            return async_write(scheduler, sock, piece)  # the stream's piece, checked there
        return write_sender(reactor, sock, serialize_chunk(piece))  # which checks the piece

    # One round: the next piece, then its write; -1 once the body is over.
    rounds = _StreamRound(None, (conn, body, send_piece)) | repeat_until(_body_over)
    return written | let_value(lambda _: rounds)


def _counted_rounds(
    scheduler: IoScheduler, conn: HttpConnection, body: StreamBody, length: int
) -> Sender[int]:
    """The rounds of a stream with a ``Content-Length``: its pieces as they are, counted."""
    left = length
    sock = conn.sock

    def send_piece(piece: bytes) -> Sender[int]:
        nonlocal left
        _write_deadline(scheduler, conn)
        left -= len(piece)
        if left < 0:
            raise ValueError(f"write_response: the stream gave more than its {length} bytes")
        if not piece:
            if left:
                raise ValueError(
                    f"write_response: the stream ended {left} bytes short of its {length}"
                )
            return just(-1)
        return async_write(scheduler, sock, piece)

    return _StreamRound(None, (conn, body, send_piece)) | repeat_until(_body_over)


def _ended(_: int) -> int:
    return -1


def _body_over(sent: int) -> bool:
    return sent < 0


@final
class _StreamRound(BasicSender):
    """``data`` is ``(conn, body, send_piece)``: connects ``body.next_chunk() |
    let_value(send_piece)`` afresh each round (the stream decides what comes next).

    While the stream makes its next piece the connection has no deadline (a stream may go
    quiet for long: server-sent events); each piece's write then gets ``write_timeout``
    (``send_piece`` sets it)."""

    __slots__ = ()
    name: ClassVar[str] = "stream_round"

    def connect(self, receiver: Receiver[Any], /) -> OperationState:
        conn, body, send_piece = self.data
        conn.deadline = math.inf
        return let_value(body.next_chunk(), send_piece).connect(receiver)


@final
class _WriteResponseSender(BasicSender):
    """``data`` is ``(scheduler, reactor, connection, response)`` (the reactor checked when
    built); the head is decided when the write starts (the connection's state then is what
    counts)."""

    __slots__ = ()
    name: ClassVar[str] = "write_response"

    def connect(self, receiver: Receiver[Any], /) -> OperationState:
        scheduler, reactor, conn, response = self.data
        sender = _response_sender(scheduler, reactor, conn, response)
        op = sender.connect(_Written(receiver, conn))
        _write_deadline(scheduler, conn)
        return op

    def connect_or_complete(self, receiver: Receiver[Any], /) -> OperationState | None:
        scheduler, reactor, conn, response = self.data
        try:
            sender = _response_sender(scheduler, reactor, conn, response)
        except Exception as exc:
            receiver.set_error(exc)
            return None
        op = sender.connect_or_complete(_Written(receiver, conn))
        if op is not None:  # the write waits: from now on, its deadline holds
            _write_deadline(scheduler, conn)
        return op

    def __repr__(self) -> str:
        return f"write_response({self.data[2]!r}, {self.data[3].status})"


def write_response(
    scheduler: IoScheduler, conn: HttpConnection, response: Response, /
) -> Sender[HttpConnection]:
    """Answer the current request of ``conn`` with ``response``: ``Sender[HttpConnection]``.

    Completes with the connection once the response is written, ready for the next request
    (or ``closing``). ``TypeError`` when built for a scheduler without an I/O reactor, a
    non-``Response`` or a non-connection.
    """
    reactor = reactor_of(scheduler, "write_response")
    if not isinstance(conn, HttpConnection):
        raise TypeError(f"write_response: expected an HttpConnection, got {type(conn).__name__}")
    if not isinstance(response, Response):
        raise TypeError(f"write_response: expected a Response, got {type(response).__name__}")
    return _WriteResponseSender(None, (scheduler, reactor, conn, response))
