"""The socket factory seam of ``dsexec.net`` (trio's ``set_custom_socket_factory`` and
``set_custom_hostname_resolver`` in one object).

Every socket ``dsexec.net`` creates -- listening sockets, connection attempts -- comes from the
installed :class:`SocketFactory`, and every host name it resolves goes through the factory's
``getaddrinfo``. Accepted sockets come from the listening socket's own ``accept()`` method, and
reads and writes call the socket object's ``recv``/``recv_into``/``send``, so a factory that
returns a ``socket.socket`` subclass controls every system call of the layer without any cost on
the hot path. ``dsexec.testing.inject_socket_faults`` uses this seam to inject ``EMFILE``,
``EAFNOSUPPORT``, black-holed connects and the like.
"""

from __future__ import annotations

import socket
from typing import Any, Protocol, TypeAlias

__all__ = ["AddrInfo", "SocketFactory", "get_socket_factory", "set_socket_factory"]

AddrInfo: TypeAlias = tuple[
    socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]
]
"""One ``socket.getaddrinfo`` result: family, type, proto, canonname, sockaddr."""


class SocketFactory(Protocol):
    """Where ``dsexec.net`` gets its sockets and its name resolution from."""

    def socket(self, family: int, type: int, proto: int, /) -> socket.socket:
        """A new socket, as ``socket.socket(family, type, proto)`` would create it."""
        ...

    def getaddrinfo(  # noqa: PLR0917 (socket.getaddrinfo's signature)
        self, host: str, port: int, family: int, type: int, proto: int, flags: int, /
    ) -> list[AddrInfo]:
        """Resolve ``host`` as ``socket.getaddrinfo`` does; may block (it runs off the loop)."""
        ...


class _SystemSocketFactory:
    """The default factory: the real ``socket.socket`` and ``socket.getaddrinfo``."""

    __slots__ = ()

    def socket(self, family: int, type: int, proto: int, /) -> socket.socket:
        return socket.socket(family, type, proto)

    def getaddrinfo(  # noqa: PLR0917 (socket.getaddrinfo's signature)
        self, host: str, port: int, family: int, type: int, proto: int, flags: int, /
    ) -> list[AddrInfo]:
        infos: list[AddrInfo] = []
        infos.extend(socket.getaddrinfo(host, port, family, type, proto, flags))
        return infos

    def __repr__(self) -> str:
        return "<system socket factory>"


SYSTEM_SOCKET_FACTORY: SocketFactory = _SystemSocketFactory()

_current: SocketFactory = SYSTEM_SOCKET_FACTORY


def get_socket_factory() -> SocketFactory:
    """The factory ``dsexec.net`` uses now."""
    return _current


def set_socket_factory(factory: SocketFactory | None, /) -> SocketFactory:
    """Install ``factory`` (``None``: the system one) for the whole process; returns the
    previous one, so a caller can put it back. Tests use ``dsexec.testing.inject_socket_faults``
    instead, which restores the previous factory on exit."""
    global _current
    previous = _current
    _current = SYSTEM_SOCKET_FACTORY if factory is None else factory
    return previous
