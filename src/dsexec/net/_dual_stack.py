"""Dual-stack sockets: one ``AF_INET6`` socket serving IPv6 *and* IPv4 clients.

Some facts about dual-stack sockets
-----------------------------------
* An ``AF_INET6`` TCP socket with ``IPV6_V6ONLY=0`` bound to ``::`` also accepts IPv4
  connections; their peers appear as IPv4-mapped addresses ``::ffff:a.b.c.d`` (RFC 3493
  section 5.3, RFC 4291 section 2.5.5.2). ``dsexec.net`` reports them as plain IPv4.
* The default of ``IPV6_V6ONLY`` differs per OS: Linux takes it from
  ``net.ipv6.bindv6only`` (normally 0, i.e. dual-stack); Windows (since Vista), FreeBSD and
  NetBSD default to 1; macOS defaults to 0. So ``dsexec.net`` always sets it *explicitly*.
* It must be set *before* ``bind()``: Linux refuses to change it on a bound socket (``EINVAL``).
  Turning dual-stack on or off for a listening acceptor therefore means closing the socket and
  binding a new one to the same port (see ``Acceptor.enable_dual_stack``).
* OpenBSD (and DragonFly) never map IPv4 into IPv6: setting ``IPV6_V6ONLY=0`` fails. There an
  acceptor holds two sockets on one port, an IPv6-only one and an IPv4 one.
* A host without IPv6 (kernel built without it, ``ipv6.disable=1``, some containers) fails
  ``socket(AF_INET6)`` with ``EAFNOSUPPORT`` (or ``EPROTONOSUPPORT``), or ``bind("::1")`` with
  ``EADDRNOTAVAIL`` when IPv6 is disabled on the interfaces. Then ``::`` falls back to
  ``0.0.0.0`` and ``::1`` to ``127.0.0.1``, with a :class:`DualStackWarning`.
* ``IPV6_V6ONLY`` only matters for the wildcard ``::`` (and for IPv4-mapped bind addresses): an
  IPv4 client cannot reach ``::1`` or any other genuine IPv6 address.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import warnings
from typing import Final

from ._endpoint import IPAddress

__all__ = [
    "NO_IPV6_ERRNOS",
    "DualStackWarning",
    "set_v6only",
    "v4_counterpart",
    "warn_dual_stack",
]

NO_IPV6_ERRNOS: Final = frozenset(
    {errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT, errno.EADDRNOTAVAIL}
)
"""Errors meaning "this host has no usable IPv6": fall back to IPv4."""

_WILDCARD_V4: Final = ipaddress.IPv4Address("0.0.0.0")
_LOOPBACK_V4: Final = ipaddress.IPv4Address("127.0.0.1")


class DualStackWarning(RuntimeWarning):
    """Warned when a socket or acceptor cannot be dual-stack as asked and falls back: to IPv4
    only (no IPv6 on this host), to IPv6 only, or to two sockets (IPv6 + IPv4) on one port."""


def warn_dual_stack(message: str, *, stacklevel: int) -> None:
    """Warn ``message`` as a :class:`DualStackWarning`; ``stacklevel`` as the caller would pass
    it to ``warnings.warn`` (this function's own frame is skipped)."""
    warnings.warn(DualStackWarning(message), stacklevel=stacklevel + 1)


def set_v6only(sock: socket.socket, v6only: bool) -> None:
    """Set ``IPV6_V6ONLY`` explicitly (every OS has its own default); raises ``OSError`` where
    the OS refuses (OpenBSD for 0)."""
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if v6only else 0)


def v4_counterpart(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address that serves the IPv4 half of ``address``: ``::`` -> ``0.0.0.0``,
    ``::1`` -> ``127.0.0.1``, ``::ffff:a.b.c.d`` -> ``a.b.c.d``; ``None`` for other IPv6."""
    if address.version == 4:
        return address
    assert isinstance(address, ipaddress.IPv6Address)
    if address.is_unspecified:
        return _WILDCARD_V4
    if address.is_loopback:
        return _LOOPBACK_V4
    return address.ipv4_mapped
