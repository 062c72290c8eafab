"""``async_write(sch, sock, data)``: write *all* of ``data`` as a sender; the value is
``len(data)`` in bytes.

* ``send`` first: a socket's send buffer is usually not full, so the whole write mostly
  completes inside ``start()`` with one system call and no reactor round trip -- or, when
  ``let_value`` starts it (``Sender.connect_or_complete``), without an operation state at all.
* Whatever did not fit waits for writability and goes out as ``memoryview`` slices of ``data``
  (no copies), one ``send`` per wake-up, until all of it is written.

Errors: ``BusyResourceError`` if another write already waits on the socket;
``ClosedResourceError`` if it is (or gets) closed; ``NetError`` for ``EPIPE``, ``ECONNRESET``
and other socket errors. On stop: the wait is withdrawn and ``set_stopped`` sent at once. A
prefix of ``data`` may already have been sent then, so the byte stream is cut at an unknown
point: close the socket rather than write more (timeouts on writes are for slow readers).
"""

from __future__ import annotations

from typing import ClassVar, Final, TypeAlias, final

from typing_extensions import Buffer

from .._core import ClosedResourceError, OperationState, Receiver, Sender
from ..schedulers._reactor import IoScheduler, Reactor, ReactorSender, on_loop, reactor_of
from ._socket import Socket
from ._socket_operation import SocketOperation, socket_error

__all__ = ["async_write", "write_sender"]

_BYTES: Final = (bytes, bytearray)
# What a write holds: its len() is the number of bytes (a memoryview is cast to flat bytes).
_Bytes: TypeAlias = bytes | bytearray | memoryview


@final
class _WriteOp(SocketOperation[int]):
    """Sends ``data`` (bytes, or a flat byte ``memoryview``: ``len`` counts its bytes);
    ``_rest`` is what the first ``send`` left, sent as writability allows."""

    __slots__ = ("_data", "_rest", "_total")
    name: ClassVar[str] = "async_write"
    writes: ClassVar[bool] = True

    def __init__(
        self,
        reactor: Reactor,
        receiver: Receiver[int],
        sock: Socket,
        data: _Bytes,
        rest: memoryview | None = None,
    ) -> None:
        super().__init__(reactor, receiver, sock)
        self._data = data
        self._total = len(data)
        self._rest = rest

    def _begin(self) -> None:
        if self._rest is None:  # else connect_or_complete sent a prefix already
            self._rest = memoryview(self._data)
        self.fd_ready()

    def fd_ready(self) -> None:
        if self._done:  # stopped after the reactor had queued this wake-up
            return
        rest = self._rest
        assert rest is not None
        try:
            sent = self._sock.raw.send(rest) if rest else 0
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._rest = None
            self._fail_os(exc, "send")
            return
        if sent == len(rest):
            self._rest = None
            self._succeed(self._total)
            return
        self._rest = rest[sent:]
        self._wait()

    def _cancel(self) -> None:
        self._rest = None
        super()._cancel()

    def fd_closed(self, error: ClosedResourceError, /) -> None:
        self._rest = None
        self._fail(error)


@final
class _WriteSender(ReactorSender):
    """``data`` is ``(reactor, sock, data)``; ``data`` is bytes or a flat byte ``memoryview``
    (no length beside it: a sender held per connection stays one tuple size smaller)."""

    __slots__ = ()
    name: ClassVar[str] = "async_write"
    reactor_operation = _WriteOp

    def connect_or_complete(self, receiver: Receiver[int], /) -> OperationState | None:
        # connect(receiver).start() without an operation state for the common case -- on the
        # loop thread, not stopped, and the data fits in the send buffer -- as a let_value
        # answering a request uses it. Anything else is a _WriteOp's job.
        reactor, sock, data = self.data
        if not on_loop(reactor):
            return self.connect(receiver)
        source = receiver.get_env().stop_token.source
        if source is not None and source.stopped:
            receiver.set_stopped()
            return None
        total = len(data)
        try:
            sent = sock.raw.send(data) if total else 0
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            receiver.set_error(socket_error(sock, exc, "async_write", "send"))
            return None
        if sent == total:
            receiver.set_value(total)
            return None
        # The operation waits to send the rest.
        return _WriteOp(reactor, receiver, sock, data, memoryview(data)[sent:])

    def __repr__(self) -> str:
        return f"async_write({self.data[1]!r}, <{len(self.data[2])} bytes>)"


def write_sender(reactor: Reactor, sock: Socket, data: bytes, /) -> Sender[int]:
    """``async_write``'s sender for arguments known good -- ``reactor`` a checked scheduler's,
    ``sock`` a :class:`Socket`, ``data`` bytes -- without checking them again: for the
    package's own writers (``dsexec.http`` answers every request through it)."""
    return _WriteSender(None, (reactor, sock, data))


def async_write(scheduler: IoScheduler, sock: Socket, data: Buffer, /) -> Sender[int]:
    """Write all of ``data`` (``bytes``, ``bytearray``, ``memoryview`` or any buffer) to
    ``sock``; the value is the number of bytes written, ``len(data)``.

    Do not modify ``data`` until the sender completes. ``TypeError`` when built if
    ``scheduler`` has no I/O reactor, ``sock`` is not a :class:`Socket` or ``data`` is not a
    buffer.
    """
    reactor = reactor_of(scheduler, "async_write")
    if sock.__class__ is not Socket and not isinstance(sock, Socket):
        raise TypeError(f"async_write: expected a dsexec.net.Socket, got {type(sock).__name__}")
    if isinstance(data, _BYTES):
        return _WriteSender(None, (reactor, sock, data))
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(
            f"async_write: expected bytes or another buffer, got {type(data).__name__}"
        ) from None
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return _WriteSender(None, (reactor, sock, view))
