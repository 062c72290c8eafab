"""``Socket``: a connected (or connectable) non-blocking TCP socket, and
``create_tcp_socket``.

A ``Socket`` is what ``async_accept`` and ``async_connect`` deliver and what ``async_read``,
``async_write`` and ``async_sendfile`` take. It remembers the reactors its operations waited on,
so ``close()`` can wake them (``notify_closing``) before the fd number is freed; see
``_closing.py``. Reads and writes are the senders' job; this class holds addresses, the
lifetime, and the state the operations share: ``fd``, ``raw``, ``more``, ``unread`` and
``output_wait`` (a read waiting for writability, see ``_socket_operation``), with
plain names because they are the package's internal contract (an underscore means "this class
only").

A subclass may put another byte stream over the fd (``dsexec.security.SecureSocket``: TLS).
Its ``raw`` is then an object with the socket's ``recv``/``recv_into``/``send`` contract --
data, ``BlockingIOError`` when it needs the fd to become ready (``WantWrite``, from a read:
writable), ``b""`` at a clean end,
``OSError`` otherwise (``RawError`` for an error to report as it is) -- plus the ``family``,
``getsockname``, ``getpeername`` and ``close`` this class calls (``shutdown_write`` is the
subclass's own). ``buffered`` (and ``more``) say when it holds received bytes that no readiness
wait would announce, and ``zero_copy = False`` keeps ``os.sendfile`` off its fd. The operations
accept subclasses; the plain class keeps its fast path (``sock.__class__ is Socket``).
"""

from __future__ import annotations

import contextlib
import errno
import socket
import sys
from collections.abc import Sequence
from socket import AddressFamily
from typing import TYPE_CHECKING, Any, ClassVar, final

from .._core import ClosedResourceError, ClosingContext, NetError
from ..schedulers._reactor import Reactor
from ._closing import close_watched
from ._dual_stack import NO_IPV6_ERRNOS, set_v6only, warn_dual_stack
from ._endpoint import Endpoint, IPAddress, address_of_sockaddr, endpoint_of_sockaddr
from ._factory import get_socket_factory

if TYPE_CHECKING:
    from ._socket_operation import OutputWait

__all__ = ["Socket", "create_tcp_socket", "wrap_socket"]

_TCP_FAMILIES = (socket.AF_INET, socket.AF_INET6)
_TCP_CORK: int | None = getattr(socket, "TCP_CORK", None)  # Linux


@final
class _Reactors(list[Reactor]):
    """Every reactor a socket's operations waited on, once there was more than one."""

    __slots__ = ()


class Socket(ClosingContext):
    """A non-blocking TCP socket with ``TCP_NODELAY`` on, owned by dsexec.

    ``Socket(sock)`` adopts an existing ``socket.socket`` (it is made non-blocking; pass
    ``nodelay=False`` to leave Nagle's algorithm on). ``close()`` is idempotent and wakes
    pending operations with ``ClosedResourceError``; a ``Socket`` is a context manager.
    """

    __slots__ = ("__weakref__", "_peer", "fd", "more", "output_wait", "raw", "reactor", "unread")

    # The package-internal contract of dsexec.net's operations (plain names, see the module
    # docstring): they read and update these directly.
    fd: int
    """The fd, or -1 once closed (``fileno()``)."""
    raw: socket.socket
    """The ``socket.socket`` (``socket``): operations call ``recv``/``send`` on it."""
    more: bool
    """The next read should try at once: the last ``recv`` filled its buffer, or bytes are
    waiting in ``unread``."""
    reactor: Reactor | _Reactors | None
    """The reactor operations waited on (a list once there were several; ``None`` before any):
    ``close()`` tells them. An operation about to wait calls ``note_reactor`` unless it is this
    one already."""
    unread: bytes
    """Bytes received but not consumed (what ``async_read_until`` read past its delimiter);
    ``async_read`` hands them out before receiving more."""
    zero_copy: ClassVar[bool] = True
    """Whether ``async_sendfile`` may hand the fd to ``os.sendfile`` (not under TLS)."""

    def __init__(self, sock: socket.socket, *, nodelay: bool = True, peer: Any = None) -> None:
        sock.setblocking(False)
        if nodelay and sock.family in _TCP_FAMILIES:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.raw = sock
        self.fd = sock.fileno()
        self._peer: Any = peer
        self.reactor = None
        self.more = False
        self.unread = b""
        self.output_wait: OutputWait | None = None

    @property
    def socket(self) -> socket.socket:
        """The underlying ``socket.socket`` (for options; do not close it behind dsexec)."""
        return self.raw

    @property
    def family(self) -> AddressFamily:
        """``AF_INET6`` or ``AF_INET``."""
        return self.raw.family

    @property
    def buffered(self) -> bool:
        """Whether received bytes wait in this object, above the kernel, so that a read must
        not wait for readability first (a TLS socket's decrypted records); never for a plain
        socket, whose bytes wait in the kernel."""
        return False

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self.fd < 0

    def fileno(self) -> int:
        """The fd, or -1 once closed."""
        return self.fd

    def get_remote_address(self) -> IPAddress:
        """The peer's address; an IPv4-mapped IPv6 peer (``::ffff:a.b.c.d``) comes back as
        ``IPv4Address``. ``NetError`` (``ENOTCONN``) if not connected."""
        return address_of_sockaddr(self._peername())

    def get_remote_endpoint(self) -> Endpoint:
        """The peer's address and port (address unmapped as in ``get_remote_address``)."""
        return endpoint_of_sockaddr(self._peername())

    def get_local_endpoint(self) -> Endpoint:
        """The local address and port this socket is bound to (unmapped)."""
        self._check_open()
        self._check_ip()
        try:
            return endpoint_of_sockaddr(self.raw.getsockname())
        except OSError as exc:
            message = f"getsockname on fd {self.fd} failed: {exc.strerror}"
            raise NetError(exc.errno, message) from exc

    def cork(self, on: bool) -> None:
        """Hold back partial segments while ``on`` (Linux ``TCP_CORK``, nginx's
        ``tcp_nopush``); ``cork(False)`` sends what was held.

        Around a response's head and its ``async_sendfile`` body, the head leaves in the same
        full-sized segments as the body's first bytes, and the segments go out from this
        process's send calls rather than, later, from the peer's acknowledgements (on
        loopback: from the client's CPU). A hint: a no-op where the platform has no
        ``TCP_CORK``, on a closed socket, and when the call fails.
        """
        if _TCP_CORK is None or self.fd < 0:
            return
        # Not contextlib.suppress: this runs twice per file response, and its three calls show.
        try:  # noqa: SIM105
            self.socket.setsockopt(socket.IPPROTO_TCP, _TCP_CORK, 1 if on else 0)
        except OSError:
            pass

    def shutdown_write(self) -> None:
        """Send FIN: the peer reads EOF; this side can still read."""
        self._check_open()
        try:
            self.raw.shutdown(socket.SHUT_WR)
        except OSError as exc:
            raise NetError(exc.errno, f"shutdown on fd {self.fd} failed: {exc.strerror}") from exc

    def close(self) -> None:
        """Close the socket; idempotent.

        Pending operations are woken with ``ClosedResourceError`` first (``notify_closing`` on
        every reactor an operation waited on; posted to reactors running on other threads, in
        which case the fd is closed once they have all been told).
        """
        fd = self.fd
        if fd < 0:
            return
        self.fd = -1
        known = self.reactor
        reactors: Sequence[Reactor]
        if known is None:
            reactors = ()
        elif isinstance(known, _Reactors):
            reactors = known
        else:
            reactors = (known,)
        close_watched((fd,), (self.raw,), reactors)

    def push_back(self, data: bytes) -> None:
        """Keep ``data`` for the next read (received, not consumed)."""
        self.unread = data
        if data:
            self.more = True

    def take_unread(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` of the pushed-back bytes (the caller checked there are some)."""
        unread = self.unread
        if len(unread) <= max_bytes:
            self.unread = b""
            return unread
        self.unread = unread[max_bytes:]
        return unread[:max_bytes]

    def note_reactor(self, reactor: Reactor) -> None:
        """Remember that an operation waits on ``reactor``, so ``close()`` can tell it."""
        known = self.reactor
        if known is reactor:
            return
        if known is None:
            self.reactor = reactor
        elif isinstance(known, _Reactors):
            if reactor not in known:
                known.append(reactor)
        else:
            self.reactor = _Reactors((known, reactor))

    def _check_open(self) -> None:
        if self.fd < 0:
            raise ClosedResourceError("the socket is closed")

    def _check_ip(self) -> None:
        if self.raw.family not in _TCP_FAMILIES:
            raise NetError(
                errno.EAFNOSUPPORT,
                f"fd {self.fd} is a {self.raw.family.name} socket: it has no IP endpoints",
            )

    def _peername(self) -> Any:
        peer = self._peer
        if peer is None:
            self._check_open()
            self._check_ip()
            try:
                peer = self.raw.getpeername()
            except OSError as exc:
                raise NetError(
                    exc.errno, f"fd {self.fd} has no peer address: {exc.strerror}"
                ) from exc
            self._peer = peer
        return peer

    def __repr__(self) -> str:
        kind = type(self).__name__
        if self.fd < 0:
            return f"<{kind} closed>"
        peer = ""
        with contextlib.suppress(Exception):
            peer = f" peer={self.get_remote_endpoint()}"
        return f"<{kind} fd={self.fd}{peer}{self._repr_extra()}>"

    def _repr_extra(self) -> str:
        """What a subclass adds to ``repr`` after the peer (with a leading space)."""
        return ""


def wrap_socket(sock: socket.socket, peer: Any) -> Socket:
    """Adopt a freshly accepted or connected socket whose peer address is known (hot path).

    The address string is interned: a server's connections mostly come from few hosts (a
    proxy, a load balancer, a benchmark client), and each idle connection keeps its address.
    """
    if peer.__class__ is tuple and peer and peer[0].__class__ is str:
        peer = (sys.intern(peer[0]), *peer[1:])
    return Socket(sock, peer=peer)


def create_tcp_socket(*, dual_stack: bool = True) -> Socket:
    """A new, unconnected, non-blocking TCP socket with ``TCP_NODELAY`` on.

    ``AF_INET6`` with ``IPV6_V6ONLY`` set *explicitly* to ``0`` (``dual_stack=True``) or ``1``.
    Where the host has no IPv6 (``EAFNOSUPPORT``, ``EPROTONOSUPPORT``) it is an ``AF_INET``
    socket instead, with a :class:`DualStackWarning`; where the OS refuses ``IPV6_V6ONLY=0``
    (OpenBSD) it stays IPv6-only, with a warning. Other failures raise ``NetError``.
    """
    factory = get_socket_factory()
    try:
        raw = factory.socket(socket.AF_INET6, socket.SOCK_STREAM, 0)
    except OSError as exc:
        if exc.errno not in NO_IPV6_ERRNOS:
            raise NetError(exc.errno, f"cannot create an IPv6 TCP socket: {exc.strerror}") from exc
        warn_dual_stack(
            f"IPv6 is not available on this host ({exc.strerror}); "
            "created an IPv4-only TCP socket",
            stacklevel=2,
        )
        try:
            raw = factory.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
        except OSError as exc4:
            raise NetError(
                exc4.errno, f"cannot create a TCP socket: {exc4.strerror}"
            ) from exc4
        return Socket(raw)
    try:
        set_v6only(raw, not dual_stack)
    except OSError as exc:
        if not dual_stack or exc.errno == errno.EBADF:
            raw.close()
            raise NetError(exc.errno, f"cannot set IPV6_V6ONLY: {exc.strerror}") from exc
        warn_dual_stack(
            f"this OS refuses IPV6_V6ONLY=0 ({exc.strerror}); the socket is IPv6-only "
            "(create_acceptor serves both families with two sockets instead)",
            stacklevel=2,
        )
    return Socket(raw)
