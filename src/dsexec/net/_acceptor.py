"""``create_acceptor`` and ``Acceptor``: listening TCP sockets, dual-stack by default.

Theory of operation
-------------------
An acceptor is one listening socket, or two on the same port where one cannot serve both
families. How it is built from ``host`` and ``dual_stack`` (OS facts in ``_dual_stack.py``):

=====================  =============================================  ========================
host                   what is tried                                  fallback (with a
                                                                      ``DualStackWarning``)
=====================  =============================================  ========================
IPv4 (``0.0.0.0``)     one ``AF_INET`` socket; ``dual_stack`` is      none
                       ignored
IPv6, dual_stack       one ``AF_INET6`` socket, ``IPV6_V6ONLY=0``     no IPv6 on the host:
                       set explicitly before ``bind``                 ``AF_INET`` on the IPv4
                                                                      counterpart (``::`` ->
                                                                      ``0.0.0.0``, ``::1`` ->
                                                                      ``127.0.0.1``); V6ONLY=0
                                                                      refused: an IPv6-only
                                                                      socket plus an IPv4 one
                                                                      on the same port
IPv6, not dual_stack   one ``AF_INET6`` socket, ``IPV6_V6ONLY=1``     no IPv6: IPv4 as above
=====================  =============================================  ========================

Each socket gets ``SO_REUSEADDR`` (not on Windows, where it means "steal the port"), optionally
``SO_REUSEPORT``, is non-blocking and listens with ``min(backlog, 65535)``; the kernel caps that
further (Linux: ``net.core.somaxconn``, 4096 since 5.4 and 128 before; macOS:
``kern.ipc.somaxconn``, 128). Failures raise ``NetError`` with the errno and a message naming
the address: ``[Errno 98] port 8080 on [::] is already in use; ...``.

``enable_dual_stack(flag)`` after creation: ``IPV6_V6ONLY`` cannot change on a bound socket, so
when the flag changes the listening socket(s) are closed and new ones bound to the *same* port
(connections waiting in the old backlog are reset; established connections are untouched). A
pending ``async_accept`` is moved to the new socket(s). This happens on the calling thread,
which must be the loop thread of any reactor an accept used (or no loop may be running). If the
new bind fails, the old configuration is restored and the ``NetError`` raised; if even that
fails, the acceptor is closed.

``close()`` wakes a pending ``async_accept`` with ``ClosedResourceError`` (on its loop thread;
posted there from other threads) and closes the sockets after every reactor was told.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import warnings
from typing import Final, Literal, Protocol, final

from .._core import ClosedResourceError, ClosingContext, NetError
from ..schedulers._reactor import Reactor, on_loop
from ._checks import check_int
from ._closing import close_watched
from ._dual_stack import (
    NO_IPV6_ERRNOS,
    DualStackWarning,
    set_v6only,
    v4_counterpart,
    warn_dual_stack,
)
from ._endpoint import Endpoint, IPAddress, endpoint_of_sockaddr, parse_ip
from ._factory import get_socket_factory

__all__ = ["DEFAULT_BACKLOG", "MAX_BACKLOG", "Acceptor", "create_acceptor"]

DEFAULT_BACKLOG: Final = 4096
"""Default ``listen`` backlog; the kernel lowers it to its own cap (``somaxconn``)."""
MAX_BACKLOG: Final = 65535
"""Larger backlogs are capped to this (the kernels store it in 16 bits)."""

# Tries to find one free port for both halves of a two-socket acceptor asked for port 0.
_PAIR_PORT_TRIES: Final = 8

_Mode = Literal["ipv4", "dual", "v6only", "pair", "ipv4-fallback", "v6only-fallback"]


class AcceptWaiter(Protocol):
    """What an acceptor asks of a pending ``async_accept`` operation (loop thread only)."""

    def acceptor_closed(self) -> None:
        """The acceptor was closed: stop waiting, complete with ``ClosedResourceError``."""

    def detach(self) -> None:
        """The listening sockets are about to be replaced: withdraw fd waits."""

    def reattach(self) -> None:
        """The new listening sockets are in place: resume waiting on them."""


def _where(ip: IPAddress) -> str:
    return f"[{ip}]" if ip.version == 6 else str(ip)


def _listen_error(exc: OSError, ip: IPAddress, port: int) -> NetError:
    code = exc.errno
    where = _where(ip)
    if code == errno.EADDRINUSE:
        message = (
            f"port {port} on {where} is already in use; stop the other server or choose "
            "another port (0 picks a free one)"
        )
    elif code == errno.EACCES:
        message = (
            f"no permission to listen on port {port} on {where}; ports below 1024 need "
            "privileges, use a higher port"
        )
    elif code == errno.EADDRNOTAVAIL:
        message = f"address {ip} is not available on this host (listening on {where}:{port})"
    else:
        message = f"cannot listen on {where}:{port}: {exc.strerror or exc}"
    error = NetError(code, message)
    error.__cause__ = exc
    return error


def _configure(sock: socket.socket, reuse_port: bool) -> None:
    if os.name != "nt":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        option = getattr(socket, "SO_REUSEPORT", None)
        if option is None:
            raise OSError(errno.ENOPROTOOPT, "SO_REUSEPORT is not supported on this OS")
        sock.setsockopt(socket.SOL_SOCKET, option, 1)
    sock.setblocking(False)


def _sockaddr(ip: IPAddress, port: int) -> tuple[str, int] | tuple[str, int, int, int]:
    return Endpoint(ip, port).to_sockaddr()


def _listen_v4(ip: IPAddress, port: int, backlog: int, reuse_port: bool) -> socket.socket:
    try:
        sock = get_socket_factory().socket(socket.AF_INET, socket.SOCK_STREAM, 0)
    except OSError as exc:
        raise _listen_error(exc, ip, port) from exc
    try:
        _configure(sock, reuse_port)
        sock.bind(_sockaddr(ip, port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise _listen_error(exc, ip, port) from exc
    return sock


class _PairPortTaken(Exception):
    """The IPv4 half of a two-socket acceptor found the IPv6 half's port taken."""

    def __init__(self, error: NetError) -> None:
        super().__init__(str(error))
        self.error = error


def _open(
    ip: IPAddress, port: int, *, dual: bool, backlog: int, reuse_port: bool, stacklevel: int
) -> tuple[list[socket.socket], _Mode]:
    """Bound, listening socket(s) for ``ip``:``port`` and the mode they ended up in."""
    if ip.version == 4:
        return [_listen_v4(ip, port, backlog, reuse_port)], "ipv4"
    for _ in range(_PAIR_PORT_TRIES if port == 0 else 1):
        try:
            return _open_v6(
                ip,
                port,
                dual=dual,
                backlog=backlog,
                reuse_port=reuse_port,
                stacklevel=stacklevel + 1,
            )
        except _PairPortTaken as taken:
            error = taken.error
    raise error


def _fall_back_to_v4(
    ip: IPAddress, port: int, exc: OSError, *, backlog: int, reuse_port: bool, stacklevel: int
) -> tuple[list[socket.socket], _Mode]:
    v4 = v4_counterpart(ip)
    if v4 is None:
        raise _listen_error(exc, ip, port) from exc
    sock = _listen_v4(v4, port, backlog, reuse_port)
    warn_dual_stack(
        f"IPv6 is not available on this host ({exc.strerror}); listening on "
        f"{_where(v4)}:{sock.getsockname()[1]} (IPv4 only) instead of {_where(ip)}",
        stacklevel=stacklevel,
    )
    return [sock], "ipv4-fallback"


def _open_v6(
    ip: IPAddress, port: int, *, dual: bool, backlog: int, reuse_port: bool, stacklevel: int
) -> tuple[list[socket.socket], _Mode]:
    factory = get_socket_factory()
    try:
        sock = factory.socket(socket.AF_INET6, socket.SOCK_STREAM, 0)
    except OSError as exc:
        if exc.errno in NO_IPV6_ERRNOS:
            return _fall_back_to_v4(
                ip, port, exc, backlog=backlog, reuse_port=reuse_port, stacklevel=stacklevel + 1
            )
        raise _listen_error(exc, ip, port) from exc
    refused: OSError | None = None
    try:
        try:
            set_v6only(sock, not dual)
        except OSError as exc:
            if not dual:
                raise
            refused = exc
            with contextlib.suppress(OSError):  # IPv6-only, whatever this OS defaults to
                set_v6only(sock, True)
        _configure(sock, reuse_port)
        sock.bind(_sockaddr(ip, port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        unusable = ip.is_unspecified or ip.is_loopback
        if exc.errno in NO_IPV6_ERRNOS and unusable:
            return _fall_back_to_v4(
                ip, port, exc, backlog=backlog, reuse_port=reuse_port, stacklevel=stacklevel + 1
            )
        raise _listen_error(exc, ip, port) from exc
    if refused is None:
        return [sock], "dual" if dual else "v6only"
    v4 = v4_counterpart(ip)
    actual_port: int = sock.getsockname()[1]
    if v4 is None:
        warn_dual_stack(
            f"this OS refuses IPV6_V6ONLY=0 ({refused.strerror}) and {ip} has no IPv4 "
            f"counterpart: {_where(ip)}:{actual_port} serves IPv6 clients only",
            stacklevel=stacklevel,
        )
        return [sock], "v6only-fallback"
    try:
        sock4 = _listen_v4(v4, actual_port, backlog, reuse_port)
    except NetError as exc:
        sock.close()
        if port == 0 and exc.errno == errno.EADDRINUSE:
            raise _PairPortTaken(exc) from exc
        raise
    warn_dual_stack(
        f"this OS refuses IPV6_V6ONLY=0 ({refused.strerror}); port {actual_port} is served "
        f"by two sockets, {_where(ip)} (IPv6 only) and {_where(v4)} (IPv4)",
        stacklevel=stacklevel,
    )
    return [sock, sock4], "pair"


@final
class Acceptor(ClosingContext):
    """Listening TCP socket(s) on one port; build with :func:`create_acceptor`.

    ``async_accept(sch, acceptor)`` takes the connections. A context manager (``close()`` on
    exit).
    """

    __slots__ = (
        "__weakref__",
        "_backlog",
        "_closed",
        "_host",
        "_mode",
        "_reactors",
        "_reuse_port",
        "_sockets",
        "_want_dual",
        "backoff_logged",
        "fds",
        "waiters",
    )

    # The package-internal contract with async_accept (plain names: see _socket.py).
    fds: tuple[int, ...]
    """The fds of the listening sockets (empty once closed, or while re-binding)."""
    waiters: set[AcceptWaiter]
    """The pending accept operations, told of closing and re-binding."""
    backoff_logged: bool
    """Whether an accept failure for lack of fds was logged since the last success."""

    def __init__(
        self,
        host: IPAddress,
        sockets: list[socket.socket],
        mode: _Mode,
        *,
        want_dual: bool,
        backlog: int,
        reuse_port: bool,
    ) -> None:
        self._host = host
        self._install(sockets, mode)
        self._want_dual = want_dual
        self._backlog = backlog
        self._reuse_port = reuse_port
        self._closed = False
        self.waiters: set[AcceptWaiter] = set()
        self._reactors: list[Reactor] = []
        self.backoff_logged = False

    def _install(self, sockets: list[socket.socket], mode: _Mode) -> None:
        self._sockets = tuple(sockets)
        self.fds = tuple(sock.fileno() for sock in sockets)
        self._mode: _Mode = mode

    # -- properties ---------------------------------------------------------------------------

    @property
    def dual_stack(self) -> bool:
        """Whether IPv4 clients are served through the IPv6 address as well: one socket with
        ``IPV6_V6ONLY=0``, or an IPv6 + IPv4 pair on one port."""
        return self._mode in ("dual", "pair")

    @property
    def host(self) -> IPAddress:
        """The address asked for (the socket may be on its IPv4 fallback, see
        ``local_endpoint``)."""
        return self._host

    @property
    def local_endpoint(self) -> Endpoint:
        """Address and real port of the (first) listening socket, e.g. ``[::]:8080``."""
        self._check_open("local_endpoint")
        return endpoint_of_sockaddr(self._sockets[0].getsockname())

    @property
    def local_endpoints(self) -> tuple[Endpoint, ...]:
        """Address and port of every listening socket (two for an IPv6 + IPv4 pair)."""
        self._check_open("local_endpoints")
        return tuple(endpoint_of_sockaddr(sock.getsockname()) for sock in self._sockets)

    @property
    def port(self) -> int:
        """The real port (the one the OS picked when 0 was asked)."""
        return self.local_endpoint.port

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        """The listening socket(s); do not close them behind the acceptor."""
        return self._sockets

    @property
    def backlog(self) -> int:
        """The backlog passed to ``listen`` (after capping at 65535)."""
        return self._backlog

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._closed

    # -- dual-stack after creation --------------------------------------------------------------

    def enable_dual_stack(self, flag: bool = True) -> None:
        """Serve IPv4 clients through the IPv6 address too (``True``) or not (``False``).

        A no-op when the acceptor already is in that state (``create_acceptor`` is dual-stack by
        default, so the C++ idiom ``acceptor.enable_dual_stack(true)`` costs nothing), and on an
        IPv4 fallback acceptor (the host has no IPv6). Otherwise the socket(s) are re-bound to
        the same port, see the module comment. ``ValueError`` on an acceptor bound to an IPv4
        address when ``flag`` is true; ``ClosedResourceError`` once closed.
        """
        self._check_open("enable_dual_stack")
        flag = bool(flag)
        mode = self._mode
        if self._host.version == 4:
            if flag:
                raise ValueError(
                    f"enable_dual_stack: this acceptor listens on IPv4 address {self._host}; "
                    "dual-stack needs an IPv6 address such as '::'"
                )
            return
        if flag and mode in ("dual", "pair", "ipv4-fallback", "v6only-fallback"):
            self._want_dual = True
            return
        if not flag and mode in ("v6only", "ipv4-fallback"):
            self._want_dual = False
            return
        self._rebind(flag)

    def _rebind(self, flag: bool) -> None:
        for reactor in self._reactors:
            if not on_loop(reactor):
                raise RuntimeError(
                    "enable_dual_stack: the acceptor is used by a loop running on another "
                    "thread; call it from that loop's thread (post it) or before starting it"
                )
        port = self.port
        ops = list(self.waiters)
        for op in ops:
            op.detach()
        close_watched(self.fds, self._sockets, self._reactors)
        self._install([], self._mode)
        try:
            sockets, mode = _open(
                self._host,
                port,
                dual=flag,
                backlog=self._backlog,
                reuse_port=self._reuse_port,
                stacklevel=4,
            )
        except NetError as exc:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DualStackWarning)
                    sockets, mode = _open(
                        self._host,
                        port,
                        dual=self._want_dual,
                        backlog=self._backlog,
                        reuse_port=self._reuse_port,
                        stacklevel=4,
                    )
            except NetError:
                self.close()
                raise exc from None
            self._install(sockets, mode)
            for op in ops:
                op.reattach()
            raise
        self._want_dual = flag
        self._install(sockets, mode)
        for op in ops:
            op.reattach()

    # -- lifetime -----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop listening; idempotent. A pending ``async_accept`` completes with
        ``ClosedResourceError``; connections not yet accepted are reset by the OS."""
        if self._closed:
            return
        self._closed = True
        ops = list(self.waiters)
        self.waiters.clear()
        for op in ops:
            op.acceptor_closed()
        fds, sockets = self.fds, self._sockets
        self._install([], self._mode)
        close_watched(fds, sockets, self._reactors)

    def note_reactor(self, reactor: Reactor) -> None:
        """Remember that an accept waits on ``reactor``, so ``close()`` can tell it."""
        if reactor not in self._reactors:
            self._reactors.append(reactor)

    def _check_open(self, what: str) -> None:
        if self._closed:
            raise ClosedResourceError(f"Acceptor.{what}: the acceptor is closed")

    def __repr__(self) -> str:
        if self._closed:
            return "<Acceptor closed>"
        where = " + ".join(str(ep) for ep in self.local_endpoints)
        kind = {
            "ipv4": "IPv4",
            "dual": "dual-stack",
            "v6only": "IPv6 only",
            "pair": "dual-stack, two sockets",
            "ipv4-fallback": "IPv4 only (no IPv6)",
            "v6only-fallback": "IPv6 only (dual-stack refused)",
        }[self._mode]
        return f"<Acceptor {where} {kind}>"


def create_acceptor(
    port: int,
    host: str | IPAddress = "::",
    *,
    dual_stack: bool = True,
    backlog: int = DEFAULT_BACKLOG,
    reuse_port: bool = False,
) -> Acceptor:
    """A bound, listening :class:`Acceptor` on ``host``:``port`` (``port=0``: a free port,
    read it back from ``acceptor.port``).

    ``host`` is an IP literal (``"::"``, ``"::1"``, ``"0.0.0.0"``, ...). With an IPv6 host the
    socket is ``AF_INET6`` with ``IPV6_V6ONLY`` set explicitly to ``not dual_stack``; where that
    is impossible it falls back (IPv4 only, or two sockets on one port) with a
    :class:`DualStackWarning`. ``backlog`` is capped at 65535 (and by the kernel's own limit).
    ``reuse_port`` sets ``SO_REUSEPORT`` (several processes sharing a port).

    Raises ``NetError`` (an ``OSError`` with ``errno``), e.g. ``[Errno 98] port 8080 on [::]
    is already in use; ...``; ``ValueError``/``TypeError`` for bad arguments.
    """
    port = check_int("create_acceptor", "port", port, 0, 65535)
    try:
        ip = parse_ip(host)
    except ValueError:
        raise ValueError(
            f"create_acceptor: host must be an IP address such as '::' or '0.0.0.0', got {host!r}"
        ) from None
    backlog = min(check_int("create_acceptor", "backlog", backlog, 0), MAX_BACKLOG)
    sockets, mode = _open(
        ip, port, dual=bool(dual_stack), backlog=backlog, reuse_port=reuse_port, stacklevel=3
    )
    return Acceptor(
        ip, sockets, mode, want_dual=bool(dual_stack), backlog=backlog, reuse_port=reuse_port
    )
