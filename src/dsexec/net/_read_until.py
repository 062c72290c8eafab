"""``async_read_until(sch, sock, delimiter, max_bytes)``: read up to and including a delimiter.

For line- and record-oriented protocols (``b"\\n"``, ``b"\\r\\n\\r\\n"``) without everyone writing
their own buffering. The value is the bytes up to and including the first ``delimiter``; bytes
received past it stay with the socket (``Socket._unread``), where the next ``async_read`` or
``async_read_until`` finds them before receiving more, so nothing is lost between reads.

* The delimiter must end within ``max_bytes``; otherwise the operation fails with
  :class:`~dsexec.LimitOverrunError` and the bytes received so far stay with the socket (a
  caller may read them with ``async_read``, or close the connection).
* At EOF: the bytes received without a delimiter, or ``b""`` if there are none (so a final line
  without its newline is still delivered, and ``b""`` always means "nothing more").

Errors: as ``async_read`` (``BusyResourceError``, ``ClosedResourceError``, ``NetError``); bytes
received before an error stay with the socket. On stop: the wait is withdrawn and
``set_stopped`` sent at once; what was received stays with the socket.
"""

from __future__ import annotations

from typing import Final, final

from .._core import ClosedResourceError, LimitOverrunError, OperationState, Receiver, Sender
from ..schedulers._reactor import IoScheduler, Reactor
from ._checks import check_int
from ._op import ReactorOp, reactor_for
from ._read import _read_error
from ._socket import Socket

__all__ = ["async_read_until"]

_CLOSED_MESSAGE: Final = "async_read_until: the socket is closed"
# Bytes asked of the kernel per recv while looking for the delimiter (bounded by max_bytes).
_CHUNK: Final = 65536


@final
class _ReadUntilOp(ReactorOp[bytes]):
    __slots__ = ("_delimiter", "_max_bytes", "_sock")

    def __init__(
        self,
        reactor: Reactor,
        receiver: Receiver[bytes],
        sock: Socket,
        delimiter: bytes,
        max_bytes: int,
    ) -> None:
        super().__init__(reactor, receiver)
        self._sock = sock
        self._delimiter = delimiter
        self._max_bytes = max_bytes

    def _begin(self) -> None:
        if not self._found_in_buffer(0):
            self._wait_on(self._sock, False, _CLOSED_MESSAGE)

    def _found_in_buffer(self, searched: int) -> bool:
        """Complete from the bytes already received, if they decide the outcome; the first
        ``searched`` bytes are known not to hold the delimiter."""
        sock = self._sock
        buffered = sock._unread
        start = max(0, searched - len(self._delimiter) + 1)
        end = buffered.find(self._delimiter, start, self._max_bytes)
        if end >= 0:
            end += len(self._delimiter)
            sock._push_back(buffered[end:])
            self._succeed(buffered[:end])
            return True
        if len(buffered) >= self._max_bytes:
            self._fail(
                LimitOverrunError(
                    f"async_read_until: no {self._delimiter!r} in the first {self._max_bytes} "
                    f"bytes on fd {sock._fd}; {len(buffered)} bytes stay unread on the socket",
                    len(buffered),
                )
            )
            return True
        return False

    def fd_ready(self) -> None:
        if self._done:  # stopped after the reactor had queued this wake-up
            return
        sock = self._sock
        try:
            data = sock._sock.recv(_CHUNK)
        except BlockingIOError:
            self._wait_on(sock, False, _CLOSED_MESSAGE)
            return
        except OSError as exc:
            if sock._fd < 0:
                self._fail(ClosedResourceError(_CLOSED_MESSAGE))
            else:
                self._fail(_read_error(sock, exc))
            return
        if not data:  # EOF: what there is, without a delimiter
            rest = sock._unread
            sock._push_back(b"")
            self._succeed(rest)
            return
        searched = len(sock._unread)
        sock._push_back(sock._unread + data)
        if not self._found_in_buffer(searched):
            self._wait_on(sock, False, _CLOSED_MESSAGE)

    def fd_closed(self, error: ClosedResourceError, /) -> None:
        self._fail(error)

    def _cancel(self) -> None:
        fd = self._sock._fd
        if fd >= 0:
            self._reactor.remove_reader(fd, self)


@final
class _ReadUntilSender(Sender[bytes]):
    __slots__ = ("_delimiter", "_max_bytes", "_reactor", "_sock")

    def __init__(self, reactor: Reactor, sock: Socket, delimiter: bytes, max_bytes: int) -> None:
        self._reactor = reactor
        self._sock = sock
        self._delimiter = delimiter
        self._max_bytes = max_bytes

    def connect(self, receiver: Receiver[bytes], /) -> OperationState:
        return _ReadUntilOp(self._reactor, receiver, self._sock, self._delimiter, self._max_bytes)

    def __repr__(self) -> str:
        return f"async_read_until({self._sock!r}, {self._delimiter!r}, {self._max_bytes})"


def async_read_until(
    scheduler: IoScheduler, sock: Socket, delimiter: bytes, max_bytes: int, /
) -> Sender[bytes]:
    """Read from ``sock`` up to and including ``delimiter``: ``Sender[bytes]``.

    Bytes received past the delimiter stay with the socket for the next read. The delimiter
    must end within ``max_bytes`` bytes, else the operation fails with ``LimitOverrunError``
    (the bytes stay unread). At EOF the value is what was received without a delimiter, ``b""``
    if nothing. ``TypeError``/``ValueError`` when built for a scheduler without a reactor, a
    non-``Socket``, an empty or non-bytes delimiter, or ``max_bytes`` < ``len(delimiter)``.
    """
    reactor = reactor_for(scheduler, "async_read_until")
    if sock.__class__ is not Socket:
        raise TypeError(
            f"async_read_until: expected a dsexec.net.Socket, got {type(sock).__name__}"
        )
    if not isinstance(delimiter, bytes | bytearray | memoryview):
        raise TypeError(
            f"async_read_until: the delimiter must be bytes, got {type(delimiter).__name__}"
        )
    delimiter = bytes(delimiter)
    if not delimiter:
        raise ValueError("async_read_until: the delimiter is empty")
    limit = check_int("async_read_until", "max_bytes", max_bytes, len(delimiter))
    return _ReadUntilSender(reactor, sock, delimiter, limit)
