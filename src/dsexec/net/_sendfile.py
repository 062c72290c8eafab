"""``async_sendfile(sch, sock, file, offset=0, count=None)``: send (part of) a file, zero-copy.

The file's bytes go from the page cache to the socket with ``os.sendfile`` -- no copy through
Python -- in a loop that sends until the socket buffer is full (the socket took less than
offered, or ``EAGAIN``), waits for writability, and goes on. Where ``os.sendfile`` is missing
(Windows) or refuses this pair of fds (``EINVAL``, ``ENOSYS``, ``ENOTSOCK``, ``EOPNOTSUPP`` on
the very first call), it falls back to ``pread`` + ``send`` through one 64 KiB buffer, sent as
``memoryview`` slices. A socket whose bytes must pass through Python (``zero_copy`` false: TLS)
always takes that path.

The value is the number of bytes sent: ``count``, or up to the end of the file when ``count``
is ``None`` (the size is read with ``fstat`` at start); fewer if the file turns out shorter.
The file position is not used or moved (``offset`` says where to start).

Errors: ``ClosedResourceError``, ``BusyResourceError`` and ``NetError`` as ``async_write``;
``OSError`` for the file. On stop: the wait is withdrawn and ``set_stopped`` sent at once; as
with ``async_write``, a prefix may have been sent.
"""

from __future__ import annotations

import errno
import os
from typing import IO, Any, ClassVar, Final, final

from .._core import ClosedResourceError, Receiver, Sender
from ..schedulers._reactor import IoScheduler, Reactor, ReactorSender, reactor_of
from ._checks import check_int
from ._socket import Socket
from ._socket_operation import SocketOperation

__all__ = ["async_sendfile"]

_HAVE_SENDFILE: bool = hasattr(os, "sendfile")
_CHUNK: Final = 1 << 30
_FALLBACK_CHUNK: Final = 1 << 16
_UNSUPPORTED: Final = frozenset(
    getattr(errno, name)
    for name in ("EINVAL", "ENOSYS", "ENOTSOCK", "EOPNOTSUPP", "ENOTSUP")
    if hasattr(errno, name)
)


def _pread(fd: int, size: int, offset: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, size, offset)
    os.lseek(fd, offset, os.SEEK_SET)  # pragma: no cover (Windows)
    return os.read(fd, size)  # pragma: no cover


@final
class _SendfileOp(SocketOperation[int]):
    __slots__ = (
        "_count",
        "_file_fd",
        "_offset",
        "_pending",
        "_remaining",
        "_sent",
        "_zero_copy",
    )
    name: ClassVar[str] = "async_sendfile"
    writes: ClassVar[bool] = True

    def __init__(  # noqa: PLR0917
        self,
        reactor: Reactor,
        receiver: Receiver[int],
        sock: Socket,
        file_fd: int,
        offset: int,
        count: int | None,
    ) -> None:
        super().__init__(reactor, receiver, sock)
        self._file_fd = file_fd
        self._offset = offset
        self._count = count
        self._remaining = 0
        self._sent = 0
        self._pending: memoryview | None = None
        self._zero_copy = _HAVE_SENDFILE and sock.zero_copy  # not under TLS

    def _begin(self) -> None:
        count = self._count
        if count is None:
            try:
                size = os.fstat(self._file_fd).st_size
            except OSError as exc:
                self._fail(exc)
                return
            count = max(0, size - self._offset)
        self._remaining = count
        self.fd_ready()

    def fd_ready(self) -> None:
        if self._done:  # stopped after the reactor had queued this wake-up
            return
        sock = self._sock
        out_fd = sock.fd
        if out_fd < 0:
            self._fail(ClosedResourceError(f"{self.name}: the socket is closed"))
            return
        while self._remaining > 0:
            full = False  # the socket took less than offered: its buffer is full
            try:
                if self._zero_copy:
                    offered = min(self._remaining, _CHUNK)
                    sent = os.sendfile(out_fd, self._file_fd, self._offset, offered)
                    if sent == 0:  # the file is shorter than announced
                        break
                    full = sent < offered
                else:
                    pending = self._pending
                    if pending is None:
                        data = _pread(
                            self._file_fd, min(self._remaining, _FALLBACK_CHUNK), self._offset
                        )
                        if not data:
                            break
                        pending = memoryview(data)
                    try:
                        sent = sock.raw.send(pending)
                    except BlockingIOError:
                        self._pending = pending
                        raise
                    self._pending = pending[sent:] if sent < len(pending) else None
            except BlockingIOError:
                self._wait()
                return
            except OSError as exc:
                if self._zero_copy and self._sent == 0 and exc.errno in _UNSUPPORTED:
                    self._zero_copy = False
                    continue
                self._pending = None
                self._fail_os(exc, "sendfile")
                return
            self._offset += sent
            self._remaining -= sent
            self._sent += sent
            if full and self._remaining > 0:
                self._wait()  # as nginx does: no second call just to meet EAGAIN
                return
        self._pending = None
        self._succeed(self._sent)

    def fd_closed(self, error: ClosedResourceError, /) -> None:
        self._pending = None
        self._fail(error)

    def _cancel(self) -> None:
        self._pending = None
        super()._cancel()


def _describe(data: tuple[Reactor, Socket, int, int, int | None]) -> str:
    _, sock, file_fd, offset, count = data
    return f"{sock!r}, fd {file_fd}, offset={offset}, count={count}"


# ``data`` is ``(reactor, sock, file_fd, offset, count)``.
_SendfileSender = ReactorSender.variant(
    "async_sendfile", reactor_operation=_SendfileOp, describe=_describe
)


def async_sendfile(
    scheduler: IoScheduler,
    sock: Socket,
    file: IO[bytes] | IO[Any] | int,
    /,
    offset: int = 0,
    count: int | None = None,
) -> Sender[int]:
    """Send ``count`` bytes (``None``: to the end) of ``file`` from ``offset`` to ``sock``:
    ``Sender[int]``, the number of bytes sent.

    ``file`` is a binary file object (anything with ``fileno()``) or an fd; it must stay open
    until the sender completes. Zero-copy with ``os.sendfile``; ``pread`` + ``send`` where that
    is unavailable.
    """
    reactor = reactor_of(scheduler, "async_sendfile")
    if not isinstance(sock, Socket):
        raise TypeError(
            f"async_sendfile: expected a dsexec.net.Socket, got {type(sock).__name__}"
        )
    file_fd = file if isinstance(file, int) else file.fileno()
    offset = check_int("async_sendfile", "offset", offset, 0)
    if count is not None:
        count = check_int("async_sendfile", "count", count, 0)
    return _SendfileSender(None, (reactor, sock, file_fd, offset, count))
