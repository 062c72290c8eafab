"""Name resolution off the loop thread, and ``async_resolve(sch, host, port)``.

Theory of operation
-------------------
``getaddrinfo`` blocks (DNS, ``/etc/hosts``, NSS modules), so a host name is resolved on a
short-lived daemon thread named ``dsexec-resolver`` through the socket factory's
``getaddrinfo`` (``_factory.py``). An IP literal needs no resolution and is answered inline.

The thread reports back through a socketpair whose read end the operation waits on with
``add_reader``: that wakes the loop from any thread, and -- unlike a bare ``post`` -- counts as
pending work, so ``IoContext.run()`` keeps running while a name is being resolved. The thread
owns the write end: it stores the result in a mailbox, sends one byte and closes its end, so
the operation never touches an fd that might already be closed and reused.

Stop while resolving: the operation withdraws its wait, closes its read end and completes with
``set_stopped`` at once. ``getaddrinfo`` cannot be interrupted; the thread finishes on its own,
its byte goes nowhere (``EPIPE``, ignored) and its late result is dropped.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any, TypeVar, final

from .._core import NetError, Receiver, Sender
from ..schedulers._reactor import (
    IoScheduler,
    Reactor,
    ReactorOperation,
    ReactorSender,
    reactor_of,
)
from ._checks import check_int
from ._endpoint import Endpoint, endpoint_of_sockaddr, parse_ip
from ._factory import AddrInfo, SocketFactory, get_socket_factory

__all__ = ["ResolveJob", "ResolvingOp", "async_resolve", "numeric_addresses", "resolve_error"]

T = TypeVar("T")

RESOLVER_THREAD_NAME = "dsexec-resolver"

Resolved = list[tuple[socket.AddressFamily, tuple[Any, ...]]]
"""Resolved addresses: (family, sockaddr) pairs in the resolver's order."""


def numeric_addresses(host: str, port: int) -> Resolved | None:
    """The address of an IP-literal ``host`` without resolving, or ``None`` for a name."""
    try:
        ip = parse_ip(host)
    except ValueError:
        return None
    endpoint = Endpoint(ip, port)
    return [(endpoint.family, endpoint.to_sockaddr())]


def resolve_error(host: str, exc: BaseException) -> NetError:
    """The ``NetError`` for a failed resolution of ``host``."""
    code = exc.errno if isinstance(exc, OSError) else None
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    error = NetError(code, f"cannot resolve {host!r}: {reason}")
    error.__cause__ = exc
    return error


def _unique(infos: list[AddrInfo]) -> Resolved:
    seen: set[tuple[Any, ...]] = set()
    result: Resolved = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6) or sockaddr in seen:
            continue
        seen.add(sockaddr)
        result.append((family, sockaddr))
    return result


@final
class _Mailbox:
    __slots__ = ("error", "result")

    def __init__(self) -> None:
        self.result: list[AddrInfo] | None = None
        self.error: BaseException | None = None


def _resolve_in_thread(
    factory: SocketFactory, host: str, port: int, mailbox: _Mailbox, wake: socket.socket
) -> None:
    try:
        mailbox.result = factory.getaddrinfo(host, port, 0, socket.SOCK_STREAM, 0, 0)
    except Exception as exc:  # gaierror, UnicodeError for bad names, ...
        mailbox.error = exc
    finally:
        with contextlib.suppress(OSError):
            wake.send(b"\0")
        wake.close()


@final
class ResolveJob:
    """One resolution on a worker thread; ``callback(addresses, error)`` runs on the loop
    thread unless ``cancel()`` was called first. Start and cancel on the loop thread."""

    __slots__ = ("_callback", "_fd", "_mailbox", "_reactor", "_wake")

    def __init__(
        self,
        reactor: Reactor,
        callback: Callable[[Resolved | None, BaseException | None], None],
    ) -> None:
        self._reactor = reactor
        self._callback = callback
        self._mailbox = _Mailbox()
        self._wake: socket.socket | None = None
        self._fd = -1

    def start(self, host: str, port: int) -> None:
        """Start resolving; raises ``OSError`` if no socketpair or thread can be had."""
        wake_read, wake_write = socket.socketpair()
        try:
            wake_read.setblocking(False)
            self._reactor.add_reader(wake_read.fileno(), self)
        except BaseException:
            wake_read.close()
            wake_write.close()
            raise
        self._wake = wake_read
        self._fd = wake_read.fileno()
        thread = threading.Thread(
            target=_resolve_in_thread,
            args=(get_socket_factory(), host, port, self._mailbox, wake_write),
            name=RESOLVER_THREAD_NAME,
            daemon=True,
        )
        try:
            thread.start()
        except BaseException:
            wake_write.close()
            self.cancel()
            raise

    def cancel(self) -> None:
        """Forget the resolution: withdraw the wait and close the read end (idempotent)."""
        wake = self._wake
        if wake is None:
            return
        self._wake = None
        reactor = self._reactor
        reactor.remove_reader(self._fd, self)
        reactor.notify_closing(self._fd)
        wake.close()

    def fd_ready(self) -> None:
        if self._wake is None:
            return
        self.cancel()
        mailbox = self._mailbox
        if mailbox.error is not None:
            self._callback(None, mailbox.error)
        else:
            self._callback(_unique(mailbox.result or []), None)

    def fd_closed(self, error: BaseException, /) -> None:
        wake = self._wake
        if wake is None:
            return
        self._wake = None
        wake.close()
        self._callback(None, error)


class ResolvingOp(ReactorOperation[T]):
    """A socket operation that starts by resolving its host: ``_begin`` resolves it (inline for
    an IP literal, else on a resolver thread) and hands the addresses to ``_on_addresses`` on
    the loop thread; a failed resolution fails the operation with a ``NetError`` naming the
    host. ``_cancel`` (on stop) drops a pending resolution; its late result is ignored."""

    __slots__ = ("_host", "_job", "_port")

    def __init__(self, reactor: Reactor, receiver: Receiver[T], host: str, port: int) -> None:
        super().__init__(reactor, receiver)
        self._host = host
        self._port = port
        self._job: ResolveJob | None = None

    def _begin(self) -> None:
        numeric = numeric_addresses(self._host, self._port)
        if numeric is not None:
            self._resolved(numeric, None)
            return
        job = ResolveJob(self._reactor, self._resolved)
        try:
            job.start(self._host, self._port)
        except OSError as exc:
            self._fail(resolve_error(self._host, exc))
            return
        self._job = job

    def _resolved(self, addresses: Resolved | None, error: BaseException | None) -> None:
        self._job = None
        if error is not None:
            self._fail(resolve_error(self._host, error))
            return
        assert addresses is not None
        self._on_addresses(addresses)

    def _on_addresses(self, addresses: Resolved) -> None:
        raise NotImplementedError

    def _cancel(self) -> None:
        job = self._job
        if job is not None:
            self._job = None
            job.cancel()


@final
class _ResolveOp(ResolvingOp[list[Endpoint]]):
    __slots__ = ()

    def _on_addresses(self, addresses: Resolved) -> None:
        self._succeed([endpoint_of_sockaddr(sockaddr) for _family, sockaddr in addresses])


# ``data`` is ``(reactor, host, port)``.
_ResolveSender = ReactorSender.variant(
    "async_resolve", reactor_operation=_ResolveOp, describe=lambda data: f"{data[1]!r}, {data[2]}"
)


def async_resolve(
    scheduler: IoScheduler, host: str, port: int, /
) -> Sender[list[Endpoint]]:
    """Resolve ``host`` (TCP) off the loop thread: ``Sender[list[Endpoint]]`` in the
    resolver's order (IPv4-mapped results unmapped). An IP literal completes inline.

    Errors: ``NetError`` naming the host (``gaierror``'s code as ``errno``). On stop: completes
    with ``set_stopped`` at once; the late result is dropped.
    """
    reactor = reactor_of(scheduler, "async_resolve")
    if not isinstance(host, str):
        raise TypeError(f"async_resolve: host must be a str, got {type(host).__name__}")
    port = check_int("async_resolve", "port", port, 0, 65535)
    return _ResolveSender(None, (reactor, host, port))
