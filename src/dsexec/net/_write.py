"""``async_write(sch, sock, data)``: write *all* of ``data`` as a sender; the value is
``len(data)`` in bytes.

* ``send`` first: a socket's send buffer is usually not full, so the whole write mostly
  completes inside ``start()`` with one system call and no reactor round trip.
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
from ..schedulers._reactor import Reactor
from ._op import ReactorOp, reactor_for
from ._socket import Socket

__all__ = ["async_write"]

_CLOSED_MESSAGE: Final = "async_write: the socket is closed"
_BYTES: Final = (bytes, bytearray)


@final
class _WriteSender(Sender[int]):
    __slots__ = ("_data", "_reactor", "_sock", "_total")

    def __init__(self, reactor: Reactor, sock: Socket, data: Buffer, total: int) -> None:
        self._reactor = reactor
        self._sock = sock
        self._data = data
        self._total = total

    def connect(self, receiver: Receiver[int], /) -> OperationState:
        return _WriteOp(self._reactor, receiver, self._sock, self._data, self._total)


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
        self._stop_callback = None
        self._token = None
        self._sock = sock
        self._data = data
        self._total = total
        self._view: memoryview | None = None

    def start(self) -> None:
        # ReactorOp.start/_start_on_loop/_begin flattened for the common case: the data fits
        # in the send buffer and the write completes here, without a stop registration.
        reactor = self._reactor
        if not reactor.in_loop_thread():
            reactor.post(self._start_on_loop)
            return
        receiver = self._receiver
        token = receiver.get_env().stop_token
        if token.stop_requested():
            self._done = True
            receiver.set_stopped()
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
        self._token = token if token.stop_possible() else None
        self._view = memoryview(self._data)[sent:]
        self._wait()

    def _begin(self) -> None:  # started from another thread: the same, on the loop
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
        sock = self._sock
        fd = sock._fd
        if fd < 0:
            self._fail(ClosedResourceError(_CLOSED_MESSAGE))
            return
        reactor = self._reactor
        if sock._reactor is not reactor:
            sock._note_reactor(reactor)
        try:
            reactor.add_writer(fd, self)
        except Exception as exc:  # BusyResourceError: another write is pending
            self._fail(exc)
            return
        self._watch_stop()

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
        sock = self._sock
        if sock._fd < 0:
            self._fail(ClosedResourceError(_CLOSED_MESSAGE))
            return
        error = NetError(exc.errno, f"send on fd {sock._fd} failed: {exc.strerror}")
        error.__cause__ = exc
        self._fail(error)

    def _cancel(self) -> None:
        self._view = None
        fd = self._sock._fd
        if fd >= 0:
            self._reactor.remove_writer(fd, self)


def async_write(scheduler: object, sock: Socket, data: Buffer, /) -> Sender[int]:
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
        return _WriteSender(reactor, sock, data, len(data))
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(
            f"async_write: expected bytes or another buffer, got {type(data).__name__}"
        ) from None
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return _WriteSender(reactor, sock, view, view.nbytes)
