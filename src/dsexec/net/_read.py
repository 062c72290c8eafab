"""``async_read(sch, sock, max_bytes, *, pool=None)``: one ``recv`` as a sender.

Completes with up to ``max_bytes`` bytes as soon as any are available, ``b""`` at EOF.

* Wait first, then ``recv``: on a request/response connection the next bytes are rarely
  already queued, so a speculative ``recv`` would mostly fail with ``EAGAIN``. The exception is
  a read right after one that filled its whole buffer: then more is probably queued and the
  ``recv`` is tried at once.
* With ``pool``: a block is acquired only when the socket is readable and ``recv_into`` fills
  it; the value is a ``memoryview`` of the bytes read over that block, which the receiver owns
  and must ``pool.release(view)``. On ``EAGAIN`` (spurious wake-up), error or stop the block
  goes straight back to the pool (see ``_buffer_pool.py``).

Errors: ``BusyResourceError`` if another operation is already reading the socket;
``ClosedResourceError`` if it is (or gets) closed; ``NetError`` for socket errors
(``ECONNRESET``...). On stop: the wait is withdrawn and ``set_stopped`` sent at once; no bytes
were consumed.
"""

from __future__ import annotations

from typing import Any, Final, final, overload

from .._core import ClosedResourceError, NetError, OperationState, Receiver, Sender
from ..schedulers._reactor import Reactor
from ._buffer_pool import BufferPool
from ._checks import check_int
from ._op import ReactorOp, reactor_for
from ._socket import Socket

__all__ = ["async_read"]

_CLOSED_MESSAGE: Final = "async_read: the socket is closed"


def _read_error(sock: Socket, exc: OSError) -> NetError:
    error = NetError(exc.errno, f"recv on fd {sock._fd} failed: {exc.strerror}")
    error.__cause__ = exc
    return error


@final
class _ReadSender(Sender[Any]):
    __slots__ = ("_max_bytes", "_pool", "_reactor", "_sock")

    def __init__(
        self, reactor: Reactor, sock: Socket, max_bytes: int, pool: BufferPool | None
    ) -> None:
        self._reactor = reactor
        self._sock = sock
        self._max_bytes = max_bytes
        self._pool = pool

    def connect(self, receiver: Receiver[Any], /) -> OperationState:
        if self._pool is None:
            return _ReadOp(self._reactor, receiver, self._sock, self._max_bytes)
        return _PooledReadOp(self._reactor, receiver, self._sock, self._max_bytes, self._pool)


@final
class _ReadOp(ReactorOp[bytes]):
    __slots__ = ("_max_bytes", "_sock")

    def __init__(
        self, reactor: Reactor, receiver: Receiver[bytes], sock: Socket, max_bytes: int
    ) -> None:
        # ReactorOp.__init__ inlined: this is the per-operation hot path
        self._reactor = reactor
        self._receiver = receiver
        self._done = False
        self._stop_callback = None
        self._token = None
        self._sock = sock
        self._max_bytes = max_bytes

    def start(self) -> None:
        # ReactorOp.start/_start_on_loop/_begin/_wait flattened: one call on the hot path.
        reactor = self._reactor
        if not reactor.in_loop_thread():
            reactor.post(self._start_on_loop)
            return
        token = self._receiver.get_env().stop_token
        if token.stop_requested():
            self._done = True
            self._receiver.set_stopped()
            return
        sock = self._sock
        if sock._more:
            self._token = token if token.stop_possible() else None
            self.fd_ready()
            return
        fd = sock._fd
        if fd < 0:
            self._fail(ClosedResourceError(_CLOSED_MESSAGE))
            return
        if sock._reactor is not reactor:
            sock._note_reactor(reactor)
        try:
            reactor.add_reader(fd, self)
        except Exception as exc:  # BusyResourceError: another read is pending
            self._fail(exc)
            return
        if token.stop_possible():
            self._stop_callback = token.register(self._on_stop_requested)

    def _begin(self) -> None:  # started from another thread: the same, on the loop
        if self._sock._more:
            self.fd_ready()
        else:
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
            reactor.add_reader(fd, self)
        except Exception as exc:  # BusyResourceError: another read is pending
            self._fail(exc)
            return
        self._watch_stop()

    def fd_ready(self) -> None:
        if self._done:  # stopped after the reactor had queued this wake-up
            return
        sock = self._sock
        try:
            data = sock._sock.recv(self._max_bytes)
        except BlockingIOError:
            sock._more = False
            self._wait()
            return
        except OSError as exc:
            sock._more = False
            if sock._fd < 0:
                self._fail(ClosedResourceError(_CLOSED_MESSAGE))
            else:
                self._fail(_read_error(sock, exc))
            return
        sock._more = len(data) == self._max_bytes
        self._done = True  # ReactorOp._succeed inlined
        callback = self._stop_callback
        if callback is not None:
            self._stop_callback = None
            callback.unregister()
        self._receiver.set_value(data)

    def fd_closed(self, error: ClosedResourceError, /) -> None:
        self._fail(error)

    def _cancel(self) -> None:
        fd = self._sock._fd
        if fd >= 0:
            self._reactor.remove_reader(fd, self)


@final
class _PooledReadOp(ReactorOp[memoryview]):
    __slots__ = ("_max_bytes", "_pool", "_sock")

    def __init__(
        self,
        reactor: Reactor,
        receiver: Receiver[memoryview],
        sock: Socket,
        max_bytes: int,
        pool: BufferPool,
    ) -> None:
        # ReactorOp.__init__ inlined: this is the per-operation hot path
        self._reactor = reactor
        self._receiver = receiver
        self._done = False
        self._stop_callback = None
        self._token = None
        self._sock = sock
        self._max_bytes = max_bytes
        self._pool = pool

    def _begin(self) -> None:
        if self._sock._more:
            self.fd_ready()
        else:
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
            reactor.add_reader(fd, self)
        except Exception as exc:  # BusyResourceError: another read is pending
            self._fail(exc)
            return
        self._watch_stop()

    def fd_ready(self) -> None:
        if self._done:  # stopped after the reactor had queued this wake-up
            return
        sock = self._sock
        pool = self._pool
        block = pool.acquire()
        try:
            view = memoryview(block)
            limit = min(self._max_bytes, len(view))
            count = sock._sock.recv_into(view, limit)
        except BlockingIOError:
            pool.release(block)
            sock._more = False
            self._wait()
            return
        except OSError as exc:
            pool.release(block)
            sock._more = False
            if sock._fd < 0:
                self._fail(ClosedResourceError(_CLOSED_MESSAGE))
            else:
                self._fail(_read_error(sock, exc))
            return
        except BaseException:
            pool.release(block)
            raise
        sock._more = count == limit
        self._succeed(view[:count])

    def fd_closed(self, error: ClosedResourceError, /) -> None:
        self._fail(error)

    def _cancel(self) -> None:
        fd = self._sock._fd
        if fd >= 0:
            self._reactor.remove_reader(fd, self)


@overload
def async_read(scheduler: object, sock: Socket, max_bytes: int, /) -> Sender[bytes]: ...
@overload
def async_read(
    scheduler: object, sock: Socket, max_bytes: int, /, *, pool: None
) -> Sender[bytes]: ...
@overload
def async_read(
    scheduler: object, sock: Socket, max_bytes: int, /, *, pool: BufferPool
) -> Sender[memoryview]: ...
def async_read(
    scheduler: object, sock: Socket, max_bytes: int, /, *, pool: BufferPool | None = None
) -> Sender[Any]:
    """Read up to ``max_bytes`` from ``sock``: ``Sender[bytes]``, ``b""`` at EOF.

    With ``pool`` (a :class:`BufferPool` such as ``dsexec.perf.MemoryPool``) the bytes are
    ``recv_into`` a pooled block and the value is a ``memoryview`` of them (at most the block's
    size); the receiver owns the block and returns it with ``pool.release(view)``.

    ``TypeError`` when built if ``scheduler`` has no I/O reactor or ``sock`` is not a
    :class:`Socket`; ``ValueError`` if ``max_bytes < 1``.
    """
    reactor = reactor_for(scheduler, "async_read")
    if sock.__class__ is not Socket:
        raise TypeError(f"async_read: expected a dsexec.net.Socket, got {type(sock).__name__}")
    if max_bytes.__class__ is not int or max_bytes < 1:
        max_bytes = check_int("async_read", "max_bytes", max_bytes, 1)
    return _ReadSender(reactor, sock, max_bytes, pool)
