"""Fault injection for ``dsexec.net``: make socket creation, accept, connect, recv and send
fail with chosen errnos, black-hole connects, and fake host names (trio's
``FakeSocketFactory`` / ``set_custom_socket_factory`` idea, through ``dsexec.net``'s seam).

::

    with inject_socket_faults() as faults:
        faults.fail("accept", errno.EMFILE, times=3)      # the next 3 accepts fail
        faults.fail("socket", errno.EAFNOSUPPORT, family=socket.AF_INET6, times=None)  # no IPv6
        faults.blackhole("::1")                           # connects there never complete
        faults.add_host("dual.test", ["::1", "127.0.0.1"])
        ...
        assert faults.calls["accept"] == 4

Every socket ``dsexec.net`` creates while the factory is installed is a ``socket.socket``
subclass that consults the factory before each ``accept``/``connect``/``recv``/``send``
(sockets it accepts are faulty too). A black-holed connect reports ``EINPROGRESS`` and never
becomes writable: its ``fileno()`` is the read end of a pipe nobody writes to (closed with the
socket).
"""

from __future__ import annotations

import errno as errno_module
import ipaddress
import os
import socket
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal, Self

from ..net._factory import (
    SYSTEM_SOCKET_FACTORY,
    AddrInfo,
    SocketFactory,
    get_socket_factory,
    set_socket_factory,
)

__all__ = ["FaultySocketFactory", "Operation", "inject_socket_faults"]

Operation = Literal[
    "socket", "bind", "accept", "connect", "recv", "send", "dual_stack", "resolve"
]
"""What can be made to fail. ``"dual_stack"``: setting ``IPV6_V6ONLY=0`` (OpenBSD refuses it);
``"resolve"``: ``getaddrinfo``, which then raises ``socket.gaierror`` with the given code (an
``EAI_*`` constant such as ``socket.EAI_NONAME``)."""

_OPERATIONS: frozenset[str] = frozenset(
    {"socket", "bind", "accept", "connect", "recv", "send", "dual_stack", "resolve"}
)
_RESOLVE_GATE_TIMEOUT = 30.0


class _Fault:
    __slots__ = ("error", "family", "remaining")

    def __init__(self, error: int, remaining: int | None, family: int | None) -> None:
        self.error = error
        self.remaining = remaining
        self.family = family


class FaultySocketFactory:
    """A :class:`dsexec.net.SocketFactory` that fails on demand; install it with
    :func:`inject_socket_faults`.

    ``calls`` counts every call of each operation (failed or not), so a test can check, for
    example, that an accept loop under ``EMFILE`` does not spin.
    """

    def __init__(self, base: SocketFactory | None = None) -> None:
        self._base = base
        self._lock = threading.Lock()
        self._faults: dict[str, list[_Fault]] = {}
        self._blackholes: list[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int | None]]
        self._blackholes = []
        self._hosts: dict[str, tuple[list[str], bool]] = {}
        self._gate = threading.Event()
        self.calls: Counter[str] = Counter()

    # -- configuration --------------------------------------------------------------------------

    def fail(
        self,
        operation: Operation,
        error: int,
        *,
        times: int | None = 1,
        family: int | None = None,
    ) -> Self:
        """Make the next ``times`` calls of ``operation`` (``None``: all of them) fail with
        ``OSError(error)``; with ``family``, only on sockets of that address family."""
        if operation not in _OPERATIONS:
            raise ValueError(f"fail: unknown operation {operation!r}; one of {sorted(_OPERATIONS)}")
        if times is not None and times < 1:
            raise ValueError(f"fail: times must be >= 1 or None, got {times}")
        with self._lock:
            self._faults.setdefault(operation, []).append(_Fault(error, times, family))
        return self

    def blackhole(self, host: str, port: int | None = None) -> Self:
        """Connects to ``host`` (an IP literal; on ``port``, or any) never complete."""
        self._blackholes.append((ipaddress.ip_address(host), port))
        return self

    def add_host(self, name: str, addresses: Sequence[str], *, block: bool = False) -> Self:
        """Resolve ``name`` to ``addresses`` (IP literals, in this order). With ``block``,
        resolving it waits until :meth:`release_resolution` (to test a stop while
        resolving)."""
        for address in addresses:
            ipaddress.ip_address(address)
        self._hosts[name] = (list(addresses), block)
        return self

    def release_resolution(self) -> None:
        """Let blocked resolutions (``add_host(..., block=True)``) finish."""
        self._gate.set()

    # -- used by the faulty sockets -------------------------------------------------------------

    def check(self, operation: str, family: int) -> None:
        """Count ``operation`` and raise the ``OSError`` a configured fault asks for."""
        with self._lock:
            self.calls[operation] += 1
            faults = self._faults.get(operation)
            if not faults:
                return
            for fault in faults:
                if fault.family is None or fault.family == family:
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            faults.remove(fault)
                    code = fault.error
                    break
            else:
                return
        raise OSError(code, os.strerror(code))

    def is_blackholed(self, address: Any) -> bool:
        """Whether connects to ``address`` are black-holed (never answered)."""
        if not self._blackholes or not isinstance(address, tuple):
            return False
        try:
            ip = ipaddress.ip_address(address[0])
        except ValueError:
            return False
        return any(
            ip == hole and (port is None or port == address[1])
            for hole, port in self._blackholes
        )

    # -- the SocketFactory protocol ---------------------------------------------------------------

    def socket(self, family: int, type: int, proto: int, /) -> socket.socket:
        self.check("socket", family)
        return _FaultySocket(family, type, proto, faults=self)

    def getaddrinfo(  # noqa: PLR0917 (socket.getaddrinfo's signature)
        self, host: str, port: int, family: int, type: int, proto: int, flags: int, /
    ) -> list[AddrInfo]:
        try:
            self.check("resolve", family)
        except OSError as exc:
            code = exc.errno or socket.EAI_FAIL
            raise socket.gaierror(code, f"injected resolution failure {code}") from None
        entry = self._hosts.get(host)
        if entry is None:
            base = self._base or SYSTEM_SOCKET_FACTORY
            return base.getaddrinfo(host, port, family, type, proto, flags)
        addresses, block = entry
        if block and not self._gate.wait(_RESOLVE_GATE_TIMEOUT):
            raise OSError(errno_module.ETIMEDOUT, "blocked resolution was never released")
        result: list[AddrInfo] = []
        for address in addresses:
            ip = ipaddress.ip_address(address)
            if ip.version == 6:
                result.append(
                    (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
                )
            else:
                result.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        return result

    def __repr__(self) -> str:
        return f"<FaultySocketFactory calls={dict(self.calls)}>"


class _FaultySocket(socket.socket):
    """A real socket that asks its factory before each call that can be made to fail."""

    def __init__(
        self,
        family: int = -1,
        type: int = -1,
        proto: int = -1,
        fileno: int | None = None,
        *,
        faults: FaultySocketFactory,
    ) -> None:
        super().__init__(family, type, proto, fileno)
        self._faults = faults
        self._hole: tuple[int, int] | None = None

    def bind(self, address: Any, /) -> None:
        self._faults.check("bind", self.family)
        super().bind(address)

    def accept(self) -> tuple[socket.socket, Any]:
        self._faults.check("accept", self.family)
        fd, address = self._accept()  # type: ignore[attr-defined]
        conn = _FaultySocket(self.family, self.type, self.proto, fd, faults=self._faults)
        if socket.getdefaulttimeout() is None and self.gettimeout():
            conn.setblocking(True)
        return conn, address

    def connect_ex(self, address: Any, /) -> int:
        try:
            self._faults.check("connect", self.family)
        except OSError as exc:
            return exc.errno or errno_module.EIO
        if self._faults.is_blackholed(address):
            if self._hole is None:
                self._hole = os.pipe()
            return errno_module.EINPROGRESS
        return super().connect_ex(address)

    def connect(self, address: Any, /) -> None:
        code = self.connect_ex(address)
        if code:
            raise OSError(code, os.strerror(code))

    def recv(self, bufsize: int, flags: int = 0, /) -> bytes:
        self._faults.check("recv", self.family)
        return super().recv(bufsize, flags)

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0, /) -> int:
        self._faults.check("recv", self.family)
        return super().recv_into(buffer, nbytes, flags)

    def send(self, data: Any, flags: int = 0, /) -> int:
        self._faults.check("send", self.family)
        return super().send(data, flags)

    def setsockopt(self, level: int, option: int, value: Any, *rest: Any) -> None:
        if level == socket.IPPROTO_IPV6 and option == socket.IPV6_V6ONLY and value == 0:
            self._faults.check("dual_stack", self.family)
        super().setsockopt(level, option, value, *rest)

    def fileno(self) -> int:
        hole = self._hole
        if hole is not None and super().fileno() >= 0:
            return hole[0]  # never readable nor writable: the connect never completes
        return super().fileno()

    def close(self) -> None:
        hole = self._hole
        if hole is not None:
            self._hole = None
            os.close(hole[0])
            os.close(hole[1])
        super().close()


@contextmanager
def inject_socket_faults(
    factory: FaultySocketFactory | None = None,
) -> Iterator[FaultySocketFactory]:
    """Install a :class:`FaultySocketFactory` (a new one by default) as ``dsexec.net``'s
    socket factory for the ``with`` block; the previous factory is restored on exit and
    blocked resolutions are released."""
    if factory is None:
        factory = FaultySocketFactory(get_socket_factory())
    previous = set_socket_factory(factory)
    try:
        yield factory
    finally:
        set_socket_factory(previous)
        factory.release_resolution()
