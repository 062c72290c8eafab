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
* Waits for readability only when the socket has nothing more at hand: a socket that holds
  received bytes above the kernel (``buffered``: a TLS socket's decrypted records) is read
  again at once, since no readiness wait would announce them.

Errors: as ``async_read`` (``BusyResourceError``, ``ClosedResourceError``, ``NetError``); bytes
received before an error stay with the socket. On stop: the wait is withdrawn and
``set_stopped`` sent at once; what was received stays with the socket.
"""

from __future__ import annotations

from typing import ClassVar, Final, final

from .._core import LimitOverrunError, Receiver, Sender
from ..schedulers._reactor import IoScheduler, Reactor, ReactorSender, reactor_of
from ._checks import check_int
from ._socket import Socket
from ._socket_operation import SocketOperation

__all__ = ["async_read_until"]

# Bytes asked of the kernel per recv while looking for the delimiter.
_CHUNK: Final = 65536


@final
class _ReadUntilOp(SocketOperation[bytes]):
    __slots__ = ("_delimiter", "_max_bytes")
    name: ClassVar[str] = "async_read_until"

    def __init__(
        self,
        reactor: Reactor,
        receiver: Receiver[bytes],
        sock: Socket,
        delimiter: bytes,
        max_bytes: int,
    ) -> None:
        super().__init__(reactor, receiver, sock)
        self._delimiter = delimiter
        self._max_bytes = max_bytes

    def _begin(self) -> None:
        if not self._found_in_buffer(0):
            if self._sock.buffered:  # bytes above the kernel (TLS): no wait would announce them
                self.fd_ready()
            else:
                self._wait()

    def _found_in_buffer(self, searched: int) -> bool:
        """Complete from the bytes already received, if they decide the outcome; the first
        ``searched`` bytes are known not to hold the delimiter."""
        sock = self._sock
        buffered = sock.unread
        start = max(0, searched - len(self._delimiter) + 1)
        end = buffered.find(self._delimiter, start, self._max_bytes)
        if end >= 0:
            end += len(self._delimiter)
            sock.push_back(buffered[end:])
            self._succeed(buffered[:end])
            return True
        if len(buffered) >= self._max_bytes:
            self._fail(
                LimitOverrunError(
                    f"async_read_until: no {self._delimiter!r} in the first {self._max_bytes} "
                    f"bytes on fd {sock.fd}; {len(buffered)} bytes stay unread on the socket",
                    len(buffered),
                )
            )
            return True
        return False

    def fd_ready(self) -> None:
        if self._done:  # stopped after the reactor had queued this wake-up
            return
        sock = self._sock
        while True:
            data = self._recv(_CHUNK)
            if data is None:
                return
            if not data:  # EOF: what there is, without a delimiter
                rest = sock.unread
                sock.push_back(b"")
                self._succeed(rest)
                return
            searched = len(sock.unread)
            sock.push_back(sock.unread + data)
            if self._found_in_buffer(searched):
                return
            if not sock.buffered:
                self._wait()
                return


def _describe(data: tuple[Reactor, Socket, bytes, int]) -> str:
    _, sock, delimiter, max_bytes = data
    return f"{sock!r}, {delimiter!r}, {max_bytes}"


# ``data`` is ``(reactor, sock, delimiter, max_bytes)``.
_ReadUntilSender = ReactorSender.variant(
    "async_read_until", reactor_operation=_ReadUntilOp, describe=_describe
)


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
    reactor = reactor_of(scheduler, "async_read_until")
    if sock.__class__ is not Socket and not isinstance(sock, Socket):
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
    return _ReadUntilSender(None, (reactor, sock, delimiter, limit))
