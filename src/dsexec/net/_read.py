"""``async_read(sch, sock, max_bytes, *, pool=None)``: one ``recv`` as a sender.

Completes with up to ``max_bytes`` bytes as soon as any are available, ``b""`` at EOF. Bytes
that ``async_read_until`` read past its delimiter come first, without a system call.

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

from collections.abc import Callable
from typing import Any, Final, final, overload

from .._core import ClosedResourceError, NetError, OperationState, Receiver, Sender
from .._core._stop_token import StopSource
from ..schedulers._reactor import IoScheduler, Reactor, running_loop
from ..senders._let import not_a_sender
from ._buffer_pool import BufferPool
from ._checks import check_int
from ._op import ReactorOp, reactor_for
from ._socket import Socket
from ._write import _WriteSender

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

    @property
    def _restartable(self) -> bool:  # a _ReadOp may be started again (see _op.py)
        return self._pool is None

    def connect(self, receiver: Receiver[Any], /) -> OperationState:
        if self._pool is None:
            return _ReadOp(self._reactor, receiver, self._sock, self._max_bytes)
        return _PooledReadOp(self._reactor, receiver, self._sock, self._max_bytes, self._pool)

    def _fuse_let_value(self, fn: Callable[[Any], Sender[Any]]) -> Sender[Any] | None:
        # let_value's customisation point (senders/_let.py): without a pool, read and let_value
        # run as one operation state.
        if self._pool is not None:
            return None
        return _ReadLetValueSender(self, fn)


@final
class _ReadLetValueSender(Sender[Any]):
    """``async_read(...) | let_value(fn)``, fused: one operation reads, calls ``fn`` and runs
    the sender it returns, with ``let_value``'s semantics exactly (see ``_ReadLetValueOp``)."""

    __slots__ = ("_fn", "_read")

    _restartable = True  # as _LetValueSender over a restartable read

    def __init__(self, read: _ReadSender, fn: Callable[[Any], Sender[Any]]) -> None:
        self._read = read
        self._fn = fn

    def connect(self, receiver: Receiver[Any], /) -> OperationState:
        read = self._read
        return _ReadLetValueOp(read._reactor, receiver, read._sock, read._max_bytes, self._fn)


# Placeholder for "stop source not read yet": a fresh ``_ReadOp`` reads it at its first start
# and keeps it for every restart (a repeat round reuses the operation, see ``_op.py``).
_UNREAD: Final = StopSource()


class _ReadOp(ReactorOp[bytes]):
    """One ``recv`` (see the module docstring); restartable by a loop (see ``_op.py``).

    Owned by such a loop (``_enter_loop()`` sets ``_looping``), a value completion keeps the
    stop registration for the next round instead of withdrawing and re-adding it (no dictionary
    churn per request); the loop calls ``_retire()`` when it will not restart the operation
    again, and every other completion withdraws it as usual.
    """

    __slots__ = ("_looping", "_max_bytes", "_sock")

    def __init__(
        self, reactor: Reactor, receiver: Receiver[bytes], sock: Socket, max_bytes: int
    ) -> None:
        # ReactorOp.__init__ inlined: this is the per-operation hot path
        self._reactor = reactor
        self._receiver = receiver
        self._done = False
        self._source = _UNREAD
        self._watching = False
        self._looping = False
        self._sock = sock
        self._max_bytes = max_bytes

    def start(self) -> None:
        # ReactorOp.start/_start_on_loop/_begin/_wait flattened: one call on the hot path,
        # which is also where a repeat round restarts the operation.
        reactor = self._reactor
        if running_loop.reactor is not reactor and not reactor.in_loop_thread():
            reactor.post(self._start_on_loop)
            return
        source = self._source
        if source is _UNREAD:
            source = self._source = self._receiver.get_env().stop_token._source
        if source is not None and source._stopped:
            self._done = True
            self._release_stop_callback()  # one kept from the previous round, if any
            self._receiver.set_stopped()
            return
        self._done = False
        sock = self._sock
        if sock._more:
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
        if source is not None and not self._watching:  # source._observe(self) inlined;
            self._watching = True  # last, as it may complete the operation
            source._callbacks[self] = True
            if source._stopped:
                source._observed_late(self)

    def _start_on_loop(self) -> None:  # started from another thread: the same, on the loop
        source = self._source = self._receiver.get_env().stop_token._source
        if source is not None and source._stopped:
            self._done = True
            self._release_stop_callback()
            self._receiver.set_stopped()
            return
        self._done = False
        try:
            self._begin()
        except Exception as exc:  # a bug or an unexpected OS error: never out of start()
            self._cancel()
            self._fail(exc)

    def _enter_loop(self) -> None:
        """A loop will restart this operation round after round, then ``_retire()`` it."""
        self._looping = True

    def _retire(self) -> None:
        """The loop is over: withdraw the registration kept between rounds, if any."""
        self._looping = False
        self._release_stop_callback()

    def _begin(self) -> None:
        if self._sock._more:
            self.fd_ready()
        else:
            self._wait()

    def _wait(self) -> None:
        self._wait_on(self._sock, False, _CLOSED_MESSAGE)

    def fd_ready(self) -> None:
        if self._done:  # stopped after the reactor had queued this wake-up
            return
        sock = self._sock
        try:
            if sock._unread:  # left by async_read_until: hand those out first
                data = sock._take_unread(self._max_bytes)
            else:
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
        sock._more = len(data) == self._max_bytes or bool(sock._unread)
        self._done = True  # ReactorOp._succeed inlined
        source = self._source
        if self._watching and not self._looping and source is not None:
            self._watching = False  # source._unobserve(self) inlined
            if not source._callbacks.pop(self, False):
                source._unobserve(self)
        self._deliver(data)

    def _deliver(self, data: bytes) -> None:
        """The read is over (stop watching settled as for any completion): pass ``data`` on."""
        self._receiver.set_value(data)

    def fd_closed(self, error: ClosedResourceError, /) -> None:
        self._fail(error)

    def _cancel(self) -> None:
        fd = self._sock._fd
        if fd >= 0:
            self._reactor.remove_reader(fd, self)


@final
class _ReadLetValueOp(_ReadOp):
    """A ``_ReadOp`` whose value goes to ``let_value``'s function instead of the receiver.

    What ``_LetValueOp`` over a ``_ReadOp`` does, in one object (one frame less per round and
    one operation state less per connection): errors and stop of the read pass through;
    ``fn(data)`` raising, or returning a non-sender (``TypeError`` naming ``let_value``), goes
    down the error channel; the returned sender is connected to the receiver and started
    (``Sender._connect_or_complete``), its operation kept in ``_second`` until the next round.
    Restartable like ``_ReadOp``; the next read's value drops the previous second operation.
    """

    __slots__ = ("_fn", "_second")

    def __init__(
        self,
        reactor: Reactor,
        receiver: Receiver[Any],
        sock: Socket,
        max_bytes: int,
        fn: Callable[[bytes], Sender[Any]],
    ) -> None:
        # ReactorOp.__init__ inlined: this is the per-operation hot path
        self._reactor = reactor
        self._receiver = receiver
        self._done = False
        self._source = _UNREAD
        self._watching = False
        self._looping = False
        self._sock = sock
        self._max_bytes = max_bytes
        self._fn = fn
        self._second: OperationState | None = None

    def _deliver(self, data: bytes) -> None:
        # let_value's part (_LetValueOp.set_value): the function's sender answers the read
        source = self._source
        self._second = None  # the previous round's, done with
        receiver: Receiver[Any] = self._receiver
        try:
            sender = self._fn(data)
            if not isinstance(sender, Sender):
                not_a_sender("let_value", sender)
        except Exception as exc:
            receiver.set_error(exc)
            return
        if sender.__class__ is _WriteSender and sender[0] is self._reactor:
            # The answer is a write on this loop, whose thread this is, and the receiver's stop
            # source is ours: skip _connect_or_complete's checks (see _write.py).
            op = sender._complete_on_loop(receiver, source)
        else:
            op = sender._connect_or_complete(receiver)  # errors from connect went to receiver
        if op is not None:  # else it completed already
            self._second = op
            op.start()


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
        self._source = None
        self._watching = False
        self._sock = sock
        self._max_bytes = max_bytes
        self._pool = pool

    def _begin(self) -> None:
        if self._sock._more:
            self.fd_ready()
        else:
            self._wait()

    def _wait(self) -> None:
        self._wait_on(self._sock, False, _CLOSED_MESSAGE)

    def fd_ready(self) -> None:
        if self._done:  # stopped after the reactor had queued this wake-up
            return
        sock = self._sock
        pool = self._pool
        block = pool.acquire()
        try:
            view = memoryview(block)
            limit = min(self._max_bytes, len(view))
            if sock._unread:  # left by async_read_until: hand those out first
                data = sock._take_unread(limit)
                count = len(data)
                view[:count] = data
            else:
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
        sock._more = count == limit or bool(sock._unread)
        self._succeed(view[:count])

    def fd_closed(self, error: ClosedResourceError, /) -> None:
        self._fail(error)

    def _cancel(self) -> None:
        fd = self._sock._fd
        if fd >= 0:
            self._reactor.remove_reader(fd, self)


@overload
def async_read(
    scheduler: IoScheduler, sock: Socket, max_bytes: int, /
) -> Sender[bytes]: ...
@overload
def async_read(
    scheduler: IoScheduler, sock: Socket, max_bytes: int, /, *, pool: None
) -> Sender[bytes]: ...
@overload
def async_read(
    scheduler: IoScheduler, sock: Socket, max_bytes: int, /, *, pool: BufferPool
) -> Sender[memoryview]: ...
def async_read(
    scheduler: IoScheduler,
    sock: Socket,
    max_bytes: int,
    /,
    *,
    pool: BufferPool | None = None,
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
