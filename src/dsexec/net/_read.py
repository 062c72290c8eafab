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

from typing import Any, ClassVar, TypeVar, final, overload

from .._core import OperationState, Receiver, Sender
from ..schedulers._reactor import IoScheduler, Reactor, ReactorSender, reactor_of
from ._buffer_pool import BufferPool
from ._checks import check_int
from ._socket import Socket
from ._socket_operation import SocketOperation, WantWrite

__all__ = ["async_read"]

T = TypeVar("T")


class _Reading(SocketOperation[T]):
    """What both reads share: wait first, unless more bytes are probably there already."""

    __slots__ = ("_max_bytes",)
    name: ClassVar[str] = "async_read"

    def __init__(
        self, reactor: Reactor, receiver: Receiver[T], sock: Socket, max_bytes: int
    ) -> None:
        super().__init__(reactor, receiver, sock)
        self._max_bytes = max_bytes

    def _begin(self) -> None:
        if self._sock.more:
            self.fd_ready()
        else:
            self._wait()

    def fd_ready(self) -> None:
        raise NotImplementedError


@final
class _ReadOp(_Reading[bytes]):
    """One ``recv`` (see the module docstring); restartable, so a keep-alive loop reuses it."""

    __slots__ = ()

    def fd_ready(self) -> None:
        if self._done:  # stopped after the reactor had queued this wake-up
            return
        sock = self._sock
        try:
            if sock.unread:  # left by async_read_until: hand those out first
                data = sock.take_unread(self._max_bytes)
            else:
                data = sock.raw.recv(self._max_bytes)
        except WantWrite:
            sock.more = False
            self._wait_for_output()
            return
        except BlockingIOError:
            sock.more = False
            self._wait()
            return
        except OSError as exc:
            sock.more = False
            self._fail_os(exc, "recv")
            return
        sock.more = len(data) == self._max_bytes or bool(sock.unread)
        self._succeed(data)


@final
class _PooledReadOp(_Reading[memoryview]):
    __slots__ = ("_pool",)

    def __init__(
        self,
        reactor: Reactor,
        receiver: Receiver[memoryview],
        sock: Socket,
        max_bytes: int,
        pool: BufferPool,
    ) -> None:
        super().__init__(reactor, receiver, sock, max_bytes)
        self._pool = pool

    def fd_ready(self) -> None:
        if self._done:  # stopped after the reactor had queued this wake-up
            return
        sock = self._sock
        pool = self._pool
        block = pool.acquire()
        try:
            view = memoryview(block)
            limit = min(self._max_bytes, len(view))
            if sock.unread:  # left by async_read_until: hand those out first
                data = sock.take_unread(limit)
                count = len(data)
                view[:count] = data
            else:
                count = sock.raw.recv_into(view, limit)
        except WantWrite:
            pool.release(block)
            sock.more = False
            self._wait_for_output()
            return
        except BlockingIOError:
            pool.release(block)
            sock.more = False
            self._wait()
            return
        except OSError as exc:
            pool.release(block)
            sock.more = False
            self._fail_os(exc, "recv")
            return
        except BaseException:
            pool.release(block)
            raise
        sock.more = count == limit or bool(sock.unread)
        self._succeed(view[:count])


@final
class _ReadSender(ReactorSender):
    """``data`` is ``(reactor, sock, max_bytes, pool)``; restartable without a pool; fuses
    with ``let_value`` (``ReactorSender.fuse``)."""

    __slots__ = ()
    name: ClassVar[str] = "async_read"

    @property
    def restartable(self) -> bool:  # type: ignore[override]
        return self.data[3] is None

    def connect(self, receiver: Receiver[Any], /) -> OperationState:
        reactor, sock, max_bytes, pool = self.data
        if pool is None:
            return _ReadOp(reactor, receiver, sock, max_bytes)
        return _PooledReadOp(reactor, receiver, sock, max_bytes, pool)

    def __repr__(self) -> str:
        _, sock, max_bytes, pool = self.data
        pooled = "" if pool is None else ", pool=..."
        return f"async_read({sock!r}, {max_bytes}{pooled})"


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
    max_bytes: object,  # checked below (a compiled build would check an ``int`` on entry)
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
    reactor = reactor_of(scheduler, "async_read")
    if sock.__class__ is not Socket and not isinstance(sock, Socket):
        raise TypeError(f"async_read: expected a dsexec.net.Socket, got {type(sock).__name__}")
    max_bytes = check_int("async_read", "max_bytes", max_bytes, 1)
    return _ReadSender(None, (reactor, sock, max_bytes, pool))
