"""``async_write(sch, sock, data)``: write *all* of ``data`` as a sender; the value is
``len(data)`` in bytes.

* ``send`` first: a socket's send buffer is usually not full, so the whole write mostly
  completes inside ``start()`` with one system call and no reactor round trip -- or, when
  ``let_value`` starts it (``Sender._connect_or_complete``), without an operation state at all.
* Whatever did not fit waits for writability and goes out as ``memoryview`` slices of ``data``
  (no copies), one ``send`` per wake-up, until all of it is written.

Errors: ``BusyResourceError`` if another write already waits on the socket;
``ClosedResourceError`` if it is (or gets) closed; ``NetError`` for ``EPIPE``, ``ECONNRESET``
and other socket errors. On stop: the wait is withdrawn and ``set_stopped`` sent at once. A
prefix of ``data`` may already have been sent then, so the byte stream is cut at an unknown
point: close the socket rather than write more (timeouts on writes are for slow readers).
"""

from __future__ import annotations

from typing import Final, final

from typing_extensions import Buffer

from .._core import ClosedResourceError, NetError, OperationState, Receiver, Sender
from .._core._stop_token import StopSource
from ..schedulers._reactor import IoScheduler, Reactor, running_loop
from ._op import ReactorOp, reactor_for
from ._socket import Socket

__all__ = ["async_write"]

_CLOSED_MESSAGE: Final = "async_write: the socket is closed"
_BYTES: Final = (bytes, bytearray)


def _send_error(sock: Socket, exc: OSError) -> Exception:
    if sock._fd < 0:
        return ClosedResourceError(_CLOSED_MESSAGE)
    error = NetError(exc.errno, f"send on fd {sock._fd} failed: {exc.strerror}")
    error.__cause__ = exc
    return error


@final
class _WriteSender(tuple[Reactor, Socket, Buffer, int], Sender[int]):
    """``(reactor, sock, data, total)``. A tuple subclass: one is built per write, and building
    it runs no Python ``__init__`` (as ``_Timer`` in ``_io_context.py``)."""

    __slots__ = ()

    def connect(self, receiver: Receiver[int], /) -> OperationState:
        reactor, sock, data, total = self
        return _WriteOp(reactor, receiver, sock, data, total)

    def _connect_or_complete(self, receiver: Receiver[int], /) -> OperationState | None:
        # connect(receiver).start() without an operation state for the common case -- on the
        # loop thread, not stopped, and the data fits in the send buffer -- as a let_value
        # answering a request uses it. The rest is _WriteOp's (see Sender._connect_or_complete).
        reactor = self[0]
        if running_loop.reactor is not reactor and not reactor.in_loop_thread():
            return self.connect(receiver)
        return self._complete_on_loop(receiver, receiver.get_env().stop_token._source)

    def _complete_on_loop(
        self, receiver: Receiver[int], source: StopSource | None
    ) -> OperationState | None:
        """``_connect_or_complete`` for a caller on the reactor's loop thread that knows the
        receiver's stop source already (a read-and-answer operation: ``_read.py``)."""
        if source is not None and source._stopped:
            receiver.set_stopped()
            return None
        reactor, sock, data, total = self
        try:
            sent = sock._sock.send(data) if total else 0
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            receiver.set_error(_send_error(sock, exc))
            return None
        if sent == total:
            receiver.set_value(total)
            return None
        op = _WriteOp(reactor, receiver, sock, data, total)
        op._view = memoryview(data)[sent:]  # start() waits to send the rest
        return op

    def __repr__(self) -> str:
        return f"async_write({self[1]!r}, <{self[3]} bytes>)"


@final
class _WriteOp(ReactorOp[int]):
    __slots__ = ("_data", "_sock", "_total", "_view")

    def __init__(
        self, reactor: Reactor, receiver: Receiver[int], sock: Socket, data: Buffer, total: int
    ) -> None:
        # ReactorOp.__init__ inlined: this is the per-operation hot path
        self._reactor = reactor
        self._receiver = receiver
        self._done = False
        self._source = None
        self._watching = False
        self._sock = sock
        self._data = data
        self._total = total
        # What is left to send once the first send fell short (set before start() by
        # _WriteSender._connect_or_complete when it sent a prefix already).
        self._view: memoryview | None = None

    def start(self) -> None:
        # ReactorOp.start/_start_on_loop/_begin flattened for the common case: the data fits
        # in the send buffer and the write completes here, without a stop registration.
        reactor = self._reactor
        if running_loop.reactor is not reactor and not reactor.in_loop_thread():
            reactor.post(self._start_on_loop)
            return
        receiver = self._receiver
        source = receiver.get_env().stop_token._source
        if source is not None and source._stopped:
            self._done = True
            receiver.set_stopped()
            return
        if self._view is not None:  # the rest of a write begun by _connect_or_complete
            self._source = source
            self._wait()
            return
        total = self._total
        try:
            sent = self._sock._sock.send(self._data) if total else 0
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._fail_with(exc)
            return
        if sent == total:
            self._done = True
            receiver.set_value(total)
            return
        self._source = source
        self._view = memoryview(self._data)[sent:]
        self._wait()

    def _begin(self) -> None:  # started from another thread: the same, on the loop
        if self._view is not None:
            self._wait()
            return
        total = self._total
        if not total:
            self._succeed(0)
            return
        sock = self._sock
        try:
            sent = sock._sock.send(self._data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._fail_with(exc)
            return
        if sent == total:
            self._succeed(total)
            return
        self._view = memoryview(self._data)[sent:]
        self._wait()

    def _wait(self) -> None:
        self._wait_on(self._sock, True, _CLOSED_MESSAGE)

    def fd_ready(self) -> None:
        if self._done:  # stopped after the reactor had queued this wake-up
            return
        view = self._view
        assert view is not None
        try:
            sent = self._sock._sock.send(view)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._fail_with(exc)
            return
        if sent == len(view):
            self._view = None
            self._succeed(self._total)
            return
        self._view = view[sent:]
        self._wait()

    def fd_closed(self, error: ClosedResourceError, /) -> None:
        self._view = None
        self._fail(error)

    def _fail_with(self, exc: OSError) -> None:
        self._view = None
        self._fail(_send_error(self._sock, exc))

    def _cancel(self) -> None:
        self._view = None
        fd = self._sock._fd
        if fd >= 0:
            self._reactor.remove_writer(fd, self)


def async_write(scheduler: IoScheduler, sock: Socket, data: Buffer, /) -> Sender[int]:
    """Write all of ``data`` (``bytes``, ``bytearray``, ``memoryview`` or any buffer) to
    ``sock``; the value is the number of bytes written, ``len(data)``.

    Do not modify ``data`` until the sender completes. ``TypeError`` when built if
    ``scheduler`` has no I/O reactor, ``sock`` is not a :class:`Socket` or ``data`` is not a
    buffer.
    """
    reactor = reactor_for(scheduler, "async_write")
    if sock.__class__ is not Socket:
        raise TypeError(f"async_write: expected a dsexec.net.Socket, got {type(sock).__name__}")
    if isinstance(data, _BYTES):
        return _WriteSender((reactor, sock, data, len(data)))
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(
            f"async_write: expected bytes or another buffer, got {type(data).__name__}"
        ) from None
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return _WriteSender((reactor, sock, view, view.nbytes))
