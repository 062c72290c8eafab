"""One request served by an ASGI app: ``receive`` and ``send``, and the :class:`Response` they
add up to.

An :class:`Exchange` is the sender a handler returns for one request (it connects once), and
its own operation state. Started, it builds the scope, calls the app and has the driver run the
coroutine (``_driver.py``); it completes with the ``Response`` as soon as the app has said
enough to write one:

* ``http.response.start`` is remembered (status and headers checked; the framing headers
  ``content-length``, ``transfer-encoding`` and ``connection`` are taken out: the response's
  shape carries them);
* the first ``http.response.body`` decides the shape. Without ``more_body`` it is the whole
  body: ``Response(status, headers, body)``, written with a ``Content-Length`` in one write
  (an app's ``Content-Length`` must match it: a mismatch is an error, answered 500). Sent from
  the step the driver is running, it is handed over when that step ends -- the app returns or
  first waits -- outside the app's frames and context (cheaper); sent from another task, at
  once. With
  ``more_body`` the answer streams: a ``StreamBody`` (chunked, or the app's ``Content-Length``
  with exactly that many bytes) whose pieces are the following ``send`` calls; ``send``
  waits while the previous piece is not yet taken by the writer (one piece in hand, one being
  written: memory stays bounded however fast the app produces);
* ``http.response.pathsend`` (the extension the scope offers) sends a file with ``sendfile``.

``receive()`` gives ``http.request`` messages with the body as it arrives
(``request.body_chunk()``), ``more_body`` telling whether more follows; afterwards it waits
until the response is complete or the client is gone, then says ``http.disconnect``. From the
first such wait on, a read on the socket watches for the client's end (``_disconnect.py``;
withdrawn before the end of the response is handed over, and when the app or the connection
ends; bytes of a pipelined request it meets go to the parser, for the next request). A client
seen gone that way does not cancel the app (it is waiting for just that news, as under
uvicorn); a streamed response under way is cut off. Once the response is handed to the server
the body cannot be read any more (the server skips what is left, or closes): ``receive()``
then says ``http.disconnect`` at once. ``send()`` after the client has gone raises
:class:`ClientDisconnected` (an ``OSError``, as ASGI 2.4 asks).

Failures: an app that raises, returns without a response, or sends an impossible one (bad
status or headers, a body that contradicts its ``Content-Length``) before its response is
under way is answered ``500`` and the connection closed; once a streamed response is under way
the connection is closed (the client sees a truncated body, never a complete-looking one).
Each is logged to ``dsexec.http``. A stop request (a server drain running out of time, a
deadline passed) cancels the app's task -- an app waiting in ``receive()`` gets its
``http.disconnect`` first, and the cancellation at its next wait -- and completes the
operation with ``set_stopped``.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Coroutine
from types import CoroutineType
from typing import TYPE_CHECKING, Any, ClassVar, Final, final

from ..._core import (
    ClosedResourceError,
    Env,
    HttpError,
    NetError,
    OperationState,
    Receiver,
    Sender,
    StopSource,
)
from ...schedulers._reactor import run_on_loop
from .._request import Request
from .._response import FileBody, Response, StreamBody
from ._disconnect import DisconnectWatch
from ._driver import Cancellable, Driver, Job, resume_inline
from ._scope import http_scope

if TYPE_CHECKING:
    from ._handler import AsgiHandler

__all__ = ["ClientDisconnected", "Exchange"]

_logger = logging.getLogger("dsexec.http")

# The response's progress.
_NOT_STARTED: Final = 0  # no http.response.start yet
_STARTED: Final = 1  # start received, no body yet: nothing handed to the server
_STREAMING: Final = 2  # a StreamBody handed over; more pieces to come
_COMPLETE: Final = 3  # the whole response handed over
# The request body's progress.
_BODY_NONE: Final = 0  # the request has no body: one empty http.request is due
_BODY_MORE: Final = 1  # body bytes to come
_BODY_DONE: Final = 2  # the last http.request went out

_NO_BODY_STATUSES: Final = frozenset({204, 304})
# What a response header is to the server, by its name as the app spells it (a small table,
# so a name is lower-cased once, not per response).
_PLAIN: Final = 0
_CONTENT_LENGTH: Final = 1
_TRANSFER_ENCODING: Final = 2
_CONNECTION: Final = 3
_FRAMING: Final = {
    b"content-length": _CONTENT_LENGTH,
    b"transfer-encoding": _TRANSFER_ENCODING,
    b"connection": _CONNECTION,
}
_HEADER_KINDS_MAX: Final = 512
_HEADER_KINDS: dict[bytes, int] = {}


def _header_kind(name: bytes) -> int:
    kinds = _HEADER_KINDS
    if len(kinds) >= _HEADER_KINDS_MAX:
        kinds.clear()
    kind = kinds[name] = _FRAMING.get(name.lower(), _PLAIN)
    return kind


_INTERNAL_ERROR: Final = Response(
    500,
    [(b"content-type", b"text/plain; charset=utf-8")],
    b"500 Internal Server Error\n",
    close=True,
)
# Errors of the connection itself (answered already, or the peer is gone): the server ends
# the connection quietly when the operation fails with one of them.
_CONNECTION_ERRORS: Final = (HttpError, NetError, ClosedResourceError)


_new = object.__new__
_set = object.__setattr__


def _response(
    status: int,
    headers: tuple[tuple[bytes, bytes], ...],
    body: bytes | StreamBody | FileBody,
    close: bool,
) -> Response:
    """``Response(status, headers, body, close)`` from fields ``send`` has checked already:
    its validators would check them again, at more cost than the rest of the response."""
    response: Response = _new(Response)
    _set(response, "status", status)
    _set(response, "headers", headers)
    _set(response, "body", body)
    _set(response, "close", close)
    return response


class ClientDisconnected(OSError):
    """Raised by ``send()`` when the client has gone (ASGI 2.4 asks servers for an
    ``OSError`` there)."""


# What an app raising needs no log line for: the client is gone, or the server answered already.
_QUIET_ERRORS: Final = (ClientDisconnected, *_CONNECTION_ERRORS)


def _disconnect() -> dict[str, Any]:
    return {"type": "http.disconnect"}


def _as_bytes(value: object, what: str) -> bytes:
    if type(value) is bytes:
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"ASGI: {what} must be bytes, got {type(value).__name__}")


@final
class _Pending:
    """A wait inside ``receive``/``send``: the receiver of what is waited for (a body read, the
    writer taking a piece, the response ending) and the awaitable the app awaits.

    On an anyio loop ``await`` waits on a loop waiter (a future; a trio event) in whichever task
    the app awaits from; a cancellation there withdraws the wait. Without a loop it yields
    itself to the inline driver, which it resumes when it is over.
    """

    __slots__ = ("_env", "_exchange", "_parked", "_waiter", "done", "error", "source", "value")

    def __init__(self, exchange: Exchange, source: StopSource | None = None) -> None:
        self._exchange = exchange
        self.source = source
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None
        self._waiter: Any = None
        self._parked: Job | None = None
        self._env: Env | None = None

    # -- the receiver side ------------------------------------------------------------------

    def set_value(self, value: object, /) -> None:
        if not self.done:
            self.done = True
            self.value = value
            self._wake()

    def set_error(self, error: BaseException, /) -> None:
        if not self.done:
            self.done = True
            self.error = error
            self._wake()

    def set_stopped(self) -> None:
        if not self.done:
            self.done = True
            self.error = ClientDisconnected("the wait was stopped")
            self._wake()

    def get_env(self) -> Env:
        env = self._env
        if env is None:
            source = self.source
            scheduler = self._exchange.request.connection.scheduler
            env = self._env = Env(StopSource().token if source is None else source.token, scheduler)
        return env

    def cancel(self) -> None:
        """Withdraw the wait: its operation is stopped (a later completion is ignored) and
        whoever awaits it wakes up with ``ClientDisconnected``."""
        if not self.done:
            self.done = True
            self.error = ClientDisconnected("the wait was withdrawn")
            if self.source is not None:
                self.source.request_stop()
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            waiter.set()
            return
        job = self._parked
        if job is not None:
            self._parked = None
            resume_inline(job, None)

    # -- the awaitable side -----------------------------------------------------------------

    def park(self, job: Job) -> bool:
        """Inline driver: resume ``job`` when the wait is over (``False``: it is over)."""
        if self.done:
            return False
        self._parked = job
        return True

    def __await__(self) -> Any:
        if not self.done:
            reactor = self._exchange.driver.anyio
            if reactor is None:
                yield self
            else:
                waiter = self._waiter = reactor.create_waiter()
                try:
                    yield from waiter.wait().__await__()
                except BaseException:
                    self._waiter = None
                    self.cancel()
                    raise


@final
class _Stream:
    """A streamed response's pieces between the app's ``send`` and the writer."""

    __slots__ = (
        "discard",
        "ended",
        "error",
        "exchange",
        "remaining",
        "send_waiter",
        "sender",
        "slot",
        "writer",
    )

    def __init__(self, exchange: Exchange, length: int | None, discard: bool) -> None:
        self.exchange = exchange
        self.remaining = length  # bytes the app's Content-Length still allows
        self.discard = discard  # HEAD, 204, 304: the writer takes no pieces
        self.slot: bytes | None = None  # the piece the writer takes next
        self.writer: _PieceOp | None = None  # the writer, waiting for a piece
        self.send_waiter: _Pending | None = None  # the app, waiting for the slot to empty
        self.ended = False  # the app sent its last piece
        self.error: BaseException | None = None
        self.sender = _PieceSender(self)

    def next_chunk(self) -> Sender[bytes]:
        """``StreamBody.next_chunk``: the sender of the next piece (``b""`` at the end)."""
        return self.sender

    def want(self, op: _PieceOp) -> None:
        """The writer asks for the next piece."""
        if self.error is not None:
            op.fail(self.error)
            return
        piece = self.slot
        if piece is not None:
            self.slot = None
            waiter = self.send_waiter
            self.send_waiter = None
            op.deliver(piece)
            if waiter is not None:
                waiter.set_value(None)
            return
        if self.ended:
            op.deliver(b"")
            return
        self.writer = op
        op.watch()

    def fail(self, error: BaseException) -> None:
        """The response cannot be finished: the writer fails (the connection closes)."""
        if self.error is None:
            self.error = error
        writer = self.writer
        if writer is not None:
            self.writer = None
            writer.fail(error)
        waiter = self.send_waiter
        if waiter is not None:
            self.send_waiter = None
            waiter.set_error(error)


@final
class _PieceOp:
    """One ``next_chunk()`` of the writer."""

    __slots__ = ("_observed", "_receiver", "_stream")

    def __init__(self, stream: _Stream, receiver: Receiver[bytes]) -> None:
        self._stream = stream
        self._receiver = receiver
        self._observed: StopSource | None = None

    def start(self) -> None:
        self._stream.want(self)

    def watch(self) -> None:
        source = self._receiver.get_env().stop_token.source
        if source is not None:
            self._observed = source
            source.observe(self)  # a stop requested already calls back right here

    def _unwatch(self) -> None:
        source = self._observed
        if source is not None:
            self._observed = None
            source.unobserve(self)

    def deliver(self, piece: bytes) -> None:
        self._unwatch()
        self._receiver.set_value(piece)

    def fail(self, error: BaseException) -> None:
        self._unwatch()
        self._receiver.set_error(error)

    def on_stop_requested(self) -> None:
        run_on_loop(self._stream.exchange.driver.loop, self._stopped)

    def _stopped(self) -> None:
        stream = self._stream
        if stream.writer is not self:
            return
        stream.writer = None
        self._observed = None
        stream.exchange.connection_lost()
        self._receiver.set_stopped()


@final
class _PieceSender(Sender[bytes]):
    """What ``next_chunk()`` returns (one per stream, connected once per piece)."""

    __slots__ = ("_stream",)

    def __init__(self, stream: _Stream) -> None:
        self._stream = stream

    def connect(self, receiver: Receiver[bytes], /) -> OperationState:
        return _PieceOp(self._stream, receiver)


@final
class Exchange(Sender[Response]):
    """One request for an ASGI app, as the sender of its :class:`Response` (see the module
    docstring). Connect it once."""

    __slots__ = (
        "_body",
        "_cancel_due",
        "_chunked",
        "_close",
        "_deferred",
        "_failure",
        "_headers",
        "_launched",
        "_length",
        "_lost",
        "_observed",
        "_phase",
        "_reading",
        "_received",
        "_receiver",
        "_recv_waiter",
        "_status",
        "_stream",
        "_watch",
        "coro",
        "ctx",
        "disconnected",
        "driver",
        "handler",
        "request",
        "stepping",
        "task",
    )

    name: ClassVar[str] = "asgi"

    def __init__(self, handler: AsgiHandler, request: Request, driver: Driver) -> None:
        self.handler = handler
        self.request = request
        self.driver = driver
        self.task: Cancellable | None = None
        self._receiver: Receiver[Response] | None = None
        self._launched = False
        self._observed: StopSource | None = None
        self._phase = _NOT_STARTED
        head = request.head
        self._body = _BODY_MORE if head.chunked or head.content_length else _BODY_NONE
        self._received = 0
        self._reading: _Pending | None = None
        self._recv_waiter: _Pending | None = None
        self._stream: _Stream | None = None
        self._watch: DisconnectWatch | None = None
        self._failure: BaseException | None = None
        self.disconnected = False
        self._lost = False
        self._cancel_due = False
        self.stepping = False
        self._deferred: Response | None = None

    # -- the sender and its operation -------------------------------------------------------

    def connect(self, receiver: Receiver[Response], /) -> OperationState:
        if self._receiver is not None or self._launched:
            raise RuntimeError("an ASGI exchange is a sender of one request: connect it once")
        self._receiver = receiver
        return self

    def connect_or_complete(self, receiver: Receiver[Response], /) -> OperationState | None:
        if self._receiver is not None or self._launched:
            receiver.set_error(RuntimeError("an ASGI exchange is a sender of one request"))
            return None
        self._receiver = receiver
        self._launch()
        return self if self._undecided() else None

    def _undecided(self) -> bool:
        """Whether the operation has not completed yet."""
        return self._receiver is not None

    def start(self) -> None:
        """Run the app (unless ``connect_or_complete`` did); watch for stop while it runs."""
        if not self._launched:
            self._launch()
        receiver = self._receiver
        if receiver is not None and self._observed is None:
            source = receiver.get_env().stop_token.source
            if source is not None:
                self._observed = source
                source.observe(self)

    def _launch(self) -> None:
        self._launched = True
        handler = self.handler
        request = self.request
        try:
            scope = http_scope(request, handler.root_path, handler.state)
            self.ctx = handler.context.copy()
            coro = handler.app(scope, self.receive, self.send)
            if type(coro) is not CoroutineType:
                coro = _as_coroutine(coro)
            self.coro = coro
        except Exception as exc:
            self.app_done(exc)
            return
        self.driver.start(self)

    def on_stop_requested(self) -> None:
        """The operation is asked to stop (a drain ran out of time): any thread."""
        run_on_loop(self.driver.loop, self._stop)

    def _stop(self) -> None:
        if self._receiver is None:
            return
        self._observed = None  # a stop callback runs once: nothing to unobserve
        self.connection_lost()
        receiver = self._receiver
        if receiver is not None:
            self._receiver = None
            receiver.set_stopped()

    def _complete(self, response: Response | None, error: BaseException | None) -> None:
        """Deliver the response (or ``error``; neither: stopped) to the server, once."""
        receiver = self._receiver
        if receiver is None:
            return
        self._receiver = None
        source = self._observed
        if source is not None:
            self._observed = None
            source.unobserve(self)
        watch = self._watch
        if watch is not None and self._phase != _STREAMING:
            watch.stop()  # before the handover: the next read_request may start inside it
        if response is not None:
            receiver.set_value(response)
        elif error is not None:
            receiver.set_error(error)
        else:
            receiver.set_stopped()

    # -- what the driver reports ------------------------------------------------------------

    def flush(self) -> None:
        """A step of the app's coroutine ended: hand over a whole response it sent meanwhile
        (writing it then, outside the app's frames and context, is cheaper than from inside
        ``send``)."""
        response = self._deferred
        if response is not None:
            self._deferred = None
            self._complete(response, None)

    def app_done(self, error: BaseException | None) -> None:
        """The app's coroutine returned (``error`` is ``None``) or raised ``error``."""
        if error is None and self._phase == _COMPLETE:  # the usual end
            self.task = None
            return
        try:
            self._app_done(error)
        except Exception:  # a bug here must not reach the loop or the driver
            _logger.exception("ASGI: finishing %r failed", self.request)

    def _app_done(self, error: BaseException | None) -> None:
        self.task = None
        self._stop_watch()
        phase = self._phase
        quiet = error is not None and (
            isinstance(error, _QUIET_ERRORS) or _is_cancellation(error, self.driver)
        )
        if phase == _COMPLETE:
            if error is not None and not quiet:
                _logger.error(
                    "ASGI app raised after its response to %r was complete",
                    self.request,
                    exc_info=error,
                )
            return
        if phase == _STREAMING:
            stream = self._stream
            assert stream is not None
            if self.disconnected and (error is None or quiet):
                return  # the client went first: the stream is cut off already, nothing to log
            if error is None:
                what = "returned before finishing its streamed response"
                _logger.error("ASGI app %s to %r: connection closed", what, self.request)
            else:
                what = "raised during its streamed response"
                if not quiet:
                    _logger.error(
                        "ASGI app %s to %r: connection closed", what, self.request, exc_info=error
                    )
            stream.fail(HttpError(500, f"the ASGI app {what}"))
            return
        # Nothing handed to the server yet.
        if self._failure is not None:
            self._complete(None, self._failure)  # answered already (413, 400): just close
            return
        if self.disconnected or (error is not None and _is_cancellation(error, self.driver)):
            self._complete(None, None)
            return
        if error is None:
            what = (
                "returned without a response"
                if phase == _NOT_STARTED
                else ("returned without sending its response body")
            )
            _logger.error("ASGI app %s to %r: answered 500", what, self.request)
        else:
            _logger.error(
                "ASGI app raised before its response to %r was under way: answered 500",
                self.request,
                exc_info=error,
            )
        self._complete(_INTERNAL_ERROR, None)

    def connection_lost(self) -> None:
        """The client is gone or the server gave up on it: waits end, the app's task is
        cancelled, ``send`` raises from now on. An app woken in ``receive()`` (now, or by
        ``client_gone`` before) gets its ``http.disconnect`` first: its task is cancelled when
        that ``receive()`` returns, so the cancellation lands at the app's next wait."""
        if self._lost:
            return
        self._lost = True
        self._stop_watch()
        woken = self._recv_waiter is not None or self._reading is not None
        if not self.disconnected:
            self.disconnected = True
            reading = self._reading
            if reading is not None:
                self._reading = None
                reading.cancel()
            self._wake_receive()
            stream = self._stream
            if stream is not None:
                stream.fail(ClientDisconnected("the client disconnected"))
        task = self.task
        if task is not None:
            if woken:
                self._cancel_due = True
            else:
                task.cancel()

    def client_gone(self, error: BaseException | None) -> None:
        """The disconnect watch saw the client go (``error``: how; ``None``: end of input): the
        waiting ``receive()`` says ``http.disconnect``, ``send`` raises from now on, a streamed
        response is cut off (with a connection error: the server closes quietly). The app's
        task is not cancelled (it awaits this very news, and ends as it sees fit) unless the
        server gives up on it later (``connection_lost``: a drain running out, a deadline)."""
        if self.disconnected:
            return
        self.disconnected = True
        self._wake_receive()
        stream = self._stream
        if stream is not None:
            if not isinstance(error, _CONNECTION_ERRORS):
                error = NetError(errno.ECONNRESET, "the client closed the connection")
            stream.fail(error)

    def _wake_receive(self) -> None:
        """Wake a waiting ``receive()``; it stays ``_recv_waiter`` until that ``receive()`` is
        back in the app (``connection_lost`` looks)."""
        waiter = self._recv_waiter
        if waiter is not None and not waiter.done:
            waiter.set_value(None)

    def _back_in_app(self, waiter: _Pending) -> None:
        """A waiting ``receive()`` is back in the app: it is no longer the one to wake."""
        if self._recv_waiter is waiter:
            self._recv_waiter = None
        if self._cancel_due:
            self._cancel_now()

    def _cancel_now(self) -> None:
        """The cancellation ``connection_lost`` held back for a woken ``receive()``, which is
        back in the app: cancelled from inside its own step, a task gets it at its next wait,
        after the ``http.disconnect`` this ``receive()`` returns."""
        self._cancel_due = False
        task = self.task
        if task is not None:
            task.cancel()

    # -- receive ----------------------------------------------------------------------------

    async def receive(self) -> dict[str, Any]:
        """The next ASGI message: ``http.request`` pieces of the body, then
        ``http.disconnect`` once the response is complete or the client is gone."""
        body = self._body
        if body == _BODY_DONE or self._phase >= _STREAMING or self.disconnected:
            if not (self._phase == _COMPLETE or self.disconnected):
                waiter = self._recv_waiter
                if waiter is None or waiter.done:
                    waiter = self._recv_waiter = _Pending(self)
                # Only now is the socket watched for the client's end (_disconnect.py).
                watch = self._watch
                if watch is None:
                    watch = self._watch = DisconnectWatch(self)
                watch.start()
                try:
                    await waiter
                except BaseException:
                    # Cancelled. The watch goes on: a receive() cancelled at once is how some
                    # apps poll for the disconnect (Starlette's is_disconnected).
                    self._back_in_app(waiter)
                    raise
                self._back_in_app(waiter)
            return _disconnect()
        if body == _BODY_NONE:
            self._body = _BODY_DONE
            return {"type": "http.request", "body": b"", "more_body": False}
        return await self._read_body()

    async def _read_body(self) -> dict[str, Any]:
        request = self.request
        pending = self._reading = _Pending(self, StopSource())
        try:
            op = request.body_chunk().connect(pending)
            op.start()
        except Exception as exc:  # e.g. the connection is no longer this request's
            pending.set_error(exc)
        await pending
        if self._reading is pending:
            self._reading = None
        error = pending.error
        if error is not None:
            if isinstance(error, _CONNECTION_ERRORS):
                self._failure = error
            self.connection_lost()
            if self._cancel_due:  # a stop woke this read
                self._cancel_now()
            return _disconnect()
        chunk: bytes = pending.value
        received = self._received = self._received + len(chunk)
        length = request.head.content_length
        more = bool(chunk) and (length is None or received < length)
        if not more:
            self._body = _BODY_DONE
        return {"type": "http.request", "body": chunk, "more_body": more}

    # -- send -------------------------------------------------------------------------------

    async def send(self, message: Any) -> None:
        """Take one ASGI message from the app (see the module docstring)."""
        kind = message["type"]
        if kind == "http.response.body":
            phase = self._phase
            if phase == _STARTED:
                self._first_body(message.get("body", b""), message.get("more_body", False))
                return
            if phase == _STREAMING:
                await self._next_body(message.get("body", b""), message.get("more_body", False))
                return
        elif kind == "http.response.start":
            if self._phase == _NOT_STARTED and not self.disconnected:
                self._start(message)
                return
        elif kind == "http.response.pathsend":
            if self._phase == _STARTED and not self.disconnected:
                self._pathsend(message)
                return
        else:
            raise RuntimeError(f"ASGI: unexpected message type {kind!r} for an http scope")
        if self.disconnected:
            raise ClientDisconnected("the client disconnected")
        if self._phase == _COMPLETE:
            raise RuntimeError(f"ASGI: {kind!r} sent after the response was complete")
        if self._phase == _NOT_STARTED:
            raise RuntimeError(f"ASGI: {kind!r} sent before 'http.response.start'")
        raise RuntimeError(f"ASGI: 'http.response.start' sent twice (then {kind!r})")

    def _start(self, message: Any) -> None:
        status = message["status"]
        if type(status) is not int or not 200 <= status <= 599:
            raise ValueError(
                f"ASGI: http.response.start status must be an int in 200..599, got {status!r}"
            )
        headers: list[tuple[bytes, bytes]] = []
        length: int | None = None
        chunked = False
        close = False
        kinds = _HEADER_KINDS
        for item in message.get("headers", ()):
            name, value = item
            pair = item
            if type(name) is not bytes or type(value) is not bytes:
                name = _as_bytes(name, "a header name")
                value = _as_bytes(value, "a header value")
                pair = (name, value)
            elif type(pair) is not tuple:
                pair = (name, value)
            kind = kinds.get(name)
            if kind is None:
                kind = _header_kind(name)
            if kind == _PLAIN:
                headers.append(pair)
            elif kind == _CONTENT_LENGTH:
                stripped = value.strip()
                if not stripped.isdigit() or (length is not None and int(stripped) != length):
                    raise ValueError(f"ASGI: bad content-length header {value!r}")
                length = int(stripped)
            elif kind == _TRANSFER_ENCODING:
                if value.strip().lower() != b"chunked":
                    raise ValueError(
                        f"ASGI: the server frames the body itself; transfer-encoding {value!r} "
                        "is not supported"
                    )
                chunked = True
            elif b"close" in value.lower():
                close = True
        self._status = status
        self._headers = tuple(headers)
        self._length = length
        self._chunked = chunked
        self._close = close
        self._phase = _STARTED

    def _first_body(self, body: object, more: object) -> None:
        if self.disconnected:
            raise ClientDisconnected("the client disconnected")
        data = body if type(body) is bytes else _as_bytes(body, "http.response.body body")
        status = self._status
        length = self._length
        head_only = self.request.head.method == b"HEAD" or status in _NO_BODY_STATUSES
        if not more and not self._chunked:
            if length is not None and len(data) != length and not (head_only and not data):
                raise ValueError(
                    f"ASGI: the body has {len(data)} bytes but the app's content-length says "
                    f"{length}"
                )
            if status in _NO_BODY_STATUSES:
                if data:
                    raise ValueError(
                        f"ASGI: a {status} response has no body, got {len(data)} bytes"
                    )
                response = _response(status, self._headers, b"", self._close)
            elif length is not None and not data and head_only:
                # HEAD with the length of the body a GET would get: head only, that length
                response = self._streamed(length, head_only, data, ended=True)
            else:
                response = _response(status, self._headers, data, self._close)
            self._phase = _COMPLETE
            if self.stepping:
                self._deferred = response  # handed over when this step of the app ends
            else:
                self._complete(response, None)
            self._wake_receive()
            return
        response = self._streamed(length, head_only, data, ended=not more)
        self._phase = _COMPLETE if not more else _STREAMING
        self._complete(response, None)
        if not more:
            self._wake_receive()

    def _streamed(self, length: int | None, discard: bool, first: bytes, ended: bool) -> Response:
        stream = self._stream = _Stream(self, length, discard)
        if first and not discard:
            self._count(stream, first)
            stream.slot = first
        if ended:
            self._end(stream)
        body = StreamBody(stream.next_chunk, content_length=length)
        return _response(self._status, self._headers, body, self._close)

    def _count(self, stream: _Stream, piece: bytes) -> None:
        remaining = stream.remaining
        if remaining is not None:
            remaining -= len(piece)
            if remaining < 0:
                error = ValueError("ASGI: the body is longer than the app's content-length")
                stream.fail(HttpError(500, str(error)))
                raise error
            stream.remaining = remaining

    def _end(self, stream: _Stream) -> None:
        if stream.remaining and not stream.discard:
            error = ValueError(
                f"ASGI: the body is {stream.remaining} bytes shorter than the app's content-length"
            )
            stream.fail(HttpError(500, str(error)))
            raise error
        stream.ended = True

    async def _next_body(self, body: object, more: object) -> None:
        stream = self._stream
        assert stream is not None
        if stream.error is not None or self.disconnected:
            raise ClientDisconnected("the client disconnected")
        data = _as_bytes(body, "http.response.body body")
        if data and not stream.discard:
            self._count(stream, data)
            while stream.slot is not None:  # the writer has not taken the last piece yet
                waiter = stream.send_waiter = _Pending(self)
                await waiter
                if waiter.error is not None:
                    raise ClientDisconnected("the client disconnected") from waiter.error
            if not more:
                self._end(stream)  # before the last piece goes: the writer then ends at once
                self._stop_watch()
            writer = stream.writer
            if writer is not None:
                stream.writer = None
                writer.deliver(data)
            else:
                stream.slot = data
        elif not more:
            self._end(stream)
            self._stop_watch()
            writer = stream.writer
            if writer is not None:
                stream.writer = None
                writer.deliver(b"")
        if not more:
            self._phase = _COMPLETE
            self._wake_receive()

    def _stop_watch(self) -> None:
        """Withdraw the disconnect watch's read, if one is pending: before the end of the
        response is handed over (the next read_request may start as the writer finishes,
        inside that call) and when the connection is lost."""
        watch = self._watch
        if watch is not None:
            watch.stop()

    def _pathsend(self, message: Any) -> None:
        path = message["path"]
        if not isinstance(path, str):
            raise TypeError(f"ASGI: http.response.pathsend path must be a str, got {path!r}")
        body = FileBody(path, 0, self._length)
        self._phase = _COMPLETE
        self._complete(_response(self._status, self._headers, body, self._close), None)
        self._wake_receive()

    def __repr__(self) -> str:
        return f"<ASGI exchange {self.request!r}>"


async def _awaiting(awaitable: Any) -> Any:
    return await awaitable


def _as_coroutine(awaitable: Any) -> Coroutine[Any, Any, Any]:
    """An app that returned some other awaitable (an object with ``__await__``)."""
    if not hasattr(awaitable, "__await__"):
        raise TypeError(
            f"ASGI: the app must be an async callable app(scope, receive, send), but it returned "
            f"{type(awaitable).__name__}"
        )
    return _awaiting(awaitable)


def _is_cancellation(error: BaseException, driver: Driver) -> bool:
    reactor = driver.anyio
    return reactor is not None and isinstance(error, reactor.cancelled_exc_class)
