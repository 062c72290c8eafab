"""``SocketOperation``: a :class:`ReactorOperation` on one :class:`Socket` -- the base of the
read, write, sendfile and read-until operations.

It adds what those share: waiting for the socket's readability or writability (a closed socket
fails with ``ClosedResourceError``; the socket learns the reactor, so ``close()`` can wake the
wait), withdrawing that wait, and turning an ``OSError`` of a system call into the error the
operation reports (``ClosedResourceError`` if the socket was closed meanwhile, else a
``NetError`` naming the call and the fd; a :class:`RawError` from a socket's non-kernel ``raw``
-- TLS -- carries its own error).
"""

from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

from mypy_extensions import mypyc_attr

from .._core import ClosedResourceError, NetError, Receiver
from ..schedulers._reactor import Reactor, ReactorOperation
from ._socket import Socket

__all__ = ["RawError", "SocketOperation", "socket_error"]

T = TypeVar("T")


@mypyc_attr(native_class=False)  # compiled: an OSError subclass stays a Python class
class RawError(OSError):
    """Raised by a socket's ``raw`` that is no kernel socket (a TLS channel) for a failure that
    is no system call's: the operation reports ``error`` as it is (a ``TlsError``)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def socket_error(sock: Socket, exc: OSError, name: str, call: str) -> Exception:
    """The error an operation ``name`` reports for ``exc`` from the system call ``call``:
    ``ClosedResourceError`` if the socket was closed meanwhile, the error a :class:`RawError`
    carries, else a ``NetError`` naming the call and the fd, caused by ``exc``."""
    if sock.fd < 0:
        return ClosedResourceError(f"{name}: the socket is closed")
    if isinstance(exc, RawError):
        return exc.error
    error = NetError(exc.errno, f"{call} on fd {sock.fd} failed: {exc.strerror}")
    error.__cause__ = exc
    return error


@mypyc_attr(allow_interpreted_subclasses=True)
class SocketOperation(ReactorOperation[T], Generic[T]):
    """A reactor operation on ``sock``; subclasses set ``name`` and ``writes``."""

    __slots__ = ("_sock",)

    name: ClassVar[str]
    """The sender's name, for error messages (``async_read``)."""
    writes: ClassVar[bool] = False
    """Whether the operation waits for writability (else readability)."""

    def __init__(self, reactor: Reactor, receiver: Receiver[T], sock: Socket) -> None:
        super().__init__(reactor, receiver)
        self._sock = sock

    def _wait(self, writable: bool | None = None) -> None:
        """Wait until the socket is ready -- in this operation's direction, else for writing
        (``writable``) or reading -- then ``fd_ready()``; fail with ``ClosedResourceError``
        if the socket is closed."""
        sock = self._sock
        fd = sock.fd
        if fd < 0:
            self._fail(ClosedResourceError(f"{self.name}: the socket is closed"))
            return
        if sock.reactor is not self._reactor:
            sock.note_reactor(self._reactor)
        self._wait_fd(fd, self.writes if writable is None else writable)

    def _cancel(self) -> None:
        fd = self._sock.fd
        if fd >= 0:
            if self.writes:
                self._reactor.remove_writer(fd, self)  # type: ignore[arg-type]
            else:
                self._reactor.remove_reader(fd, self)  # type: ignore[arg-type]

    def fd_closed(self, error: ClosedResourceError, /) -> None:
        """The socket was closed while waiting (``notify_closing``)."""
        self._fail(error)

    def _recv(self, max_bytes: int) -> bytes | None:
        """One ``recv`` of up to ``max_bytes`` (``b""``: end of stream); ``None`` when the
        operation must wait for the socket (now waiting) or the call failed (the operation
        failed with its error)."""
        try:
            return self._sock.raw.recv(max_bytes)
        except BlockingIOError:
            self._wait()
        except OSError as exc:
            self._fail_os(exc, "recv")
        return None

    def _fail_os(self, exc: OSError, call: str) -> None:
        """Fail with the error ``exc`` from the system call ``call`` stands for."""
        self._fail(socket_error(self._sock, exc, self.name, call))
