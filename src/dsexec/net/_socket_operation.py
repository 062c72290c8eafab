"""``SocketOperation``: a :class:`ReactorOperation` on one :class:`Socket` -- the base of the
read, write, sendfile and read-until operations.

It adds what those share: waiting for the socket's readability or writability (a closed socket
fails with ``ClosedResourceError``; the socket learns the reactor, so ``close()`` can wake the
wait; a read whose raw holds output the peer must get first waits for writability, see
:class:`WantWrite`), withdrawing that wait, and turning an ``OSError`` of a system call into
the error the operation reports (``ClosedResourceError`` if the socket was closed meanwhile,
else a ``NetError`` naming the call and the fd; a :class:`RawError` from a socket's
non-kernel ``raw`` -- TLS -- carries its own error).
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar, final

from mypy_extensions import mypyc_attr

from .._core import BusyResourceError, ClosedResourceError, NetError, Receiver
from ..schedulers._reactor import Reactor, ReactorOperation
from ._socket import Socket

__all__ = ["RawError", "SocketOperation", "WantWrite", "socket_error"]

T = TypeVar("T")


@mypyc_attr(native_class=False)  # compiled: an OSError subclass stays a Python class
class RawError(OSError):
    """Raised by a socket's ``raw`` that is no kernel socket (a TLS channel) for a failure that
    is no system call's: the operation reports ``error`` as it is (a ``TlsError``)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


@mypyc_attr(native_class=False)  # compiled: an OSError subclass stays a Python class
class WantWrite(BlockingIOError):
    """Raised by a socket's ``raw`` that is no kernel socket (TLS) when a *read* must wait for
    writability: the raw holds output the peer has to get before it can answer (a
    ``close_notify`` or a key update the kernel would not take), and nothing is readable yet.
    Waiting for readability instead would leave both ends waiting for each other."""


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
        if the socket is closed. A write takes the writable side from a read parked there
        (an :class:`OutputWait`): its ``send`` flushes the output that read waited to send."""
        sock = self._sock
        fd = sock.fd
        if fd < 0:
            self._fail(ClosedResourceError(f"{self.name}: the socket is closed"))
            return
        if sock.reactor is not self._reactor:
            sock.note_reactor(self._reactor)
        direction = self.writes if writable is None else writable
        if direction and sock.output_wait is not None:
            sock.output_wait.hand_over()
        self._wait_fd(fd, direction)

    def _wait_for_output(self) -> None:
        """A read's wait after :class:`WantWrite`: for writability, through an
        :class:`OutputWait` (so that a write can take the writable side over) -- unless
        another operation already waits there (a write, whose ``send`` flushes that output
        first): then for readability as usual."""
        sock = self._sock
        fd = sock.fd
        if fd >= 0 and not self.writes:
            if sock.reactor is not self._reactor:
                sock.note_reactor(self._reactor)
            wait = OutputWait(self, self._reactor, sock)
            try:
                self._reactor.add_writer(fd, wait)
            except BusyResourceError:
                pass
            except Exception as exc:  # as _wait_fd: a reactor that cannot wait fails the read
                self._fail(exc)
                return
            else:
                sock.output_wait = wait
                return
        self._wait()

    def wait_to_read(self) -> None:
        """Wait for readability: a read whose :class:`OutputWait` a write has taken over."""
        self._wait(False)

    def _cancel(self) -> None:
        fd = self._sock.fd
        if fd < 0:
            return
        if self.writes:
            self._reactor.remove_writer(fd, self)
            return
        self._reactor.remove_reader(fd, self)
        wait = self._sock.output_wait
        if wait is not None and wait.operation is self:
            wait.withdraw()

    def fd_ready(self) -> None:
        """The socket became ready: the operation's next step (each subclass's own)."""
        raise NotImplementedError

    def fd_closed(self, error: ClosedResourceError, /) -> None:
        """The socket was closed while waiting (``notify_closing``)."""
        self._fail(error)

    def _recv(self, max_bytes: int) -> bytes | None:
        """One ``recv`` of up to ``max_bytes`` (``b""``: end of stream); ``None`` when the
        operation must wait for the socket (now waiting) or the call failed (the operation
        failed with its error)."""
        try:
            return self._sock.raw.recv(max_bytes)
        except WantWrite:
            self._wait_for_output()
        except BlockingIOError:
            self._wait()
        except OSError as exc:
            self._fail_os(exc, "recv")
        return None

    def _fail_os(self, exc: OSError, call: str) -> None:
        """Fail with the error ``exc`` from the system call ``call`` stands for."""
        self._fail(socket_error(self._sock, exc, self.name, call))


@final
class OutputWait:
    """A read's wait for writability (see ``SocketOperation._wait_for_output``), registered
    with the reactor in the operation's stead and noted as the socket's ``output_wait``, so
    that a write or a cancellation can find and withdraw it. Loop thread only."""

    __slots__ = ("operation", "reactor", "sock")

    def __init__(self, operation: SocketOperation[Any], reactor: Reactor, sock: Socket) -> None:
        self.operation = operation
        self.reactor = reactor
        self.sock = sock

    def fd_ready(self) -> None:
        """Writable: the read retries (and flushes) now."""
        self._forget()
        self.operation.fd_ready()

    def fd_closed(self, error: ClosedResourceError, /) -> None:
        """The socket was closed while waiting: the read fails with ``error``."""
        self._forget()
        self.operation.fd_closed(error)

    def withdraw(self) -> None:
        """The read was cancelled: stop waiting."""
        self._forget()
        self.reactor.remove_writer(self.sock.fd, self)

    def hand_over(self) -> None:
        """A write wants the writable side: it sends the queued output before its own, so
        the read waits for readability instead."""
        self.withdraw()
        self.operation.wait_to_read()

    def _forget(self) -> None:
        if self.sock.output_wait is self:
            self.sock.output_wait = None
