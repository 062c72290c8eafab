"""``Endpoint``: an IP address and a port, as an immutable value, plus the address helpers the
rest of ``dsexec.net`` shares.

An IPv4 client of a dual-stack (IPv6) socket shows up with an *IPv4-mapped* IPv6 address,
``::ffff:a.b.c.d`` (RFC 4291 section 2.5.5.2). Everything user-facing in ``dsexec.net`` reports
such a peer as the plain ``IPv4Address`` ``a.b.c.d``: one client has one address whichever
family its server socket happened to be, so access lists and logs never see two spellings.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from typing import Any, Final, TypeAlias

import attrs

from ._checks import check_int

__all__ = ["Endpoint", "IPAddress", "address_of_sockaddr", "endpoint_of_sockaddr", "parse_ip"]

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
"""Either kind of IP address."""

_MAX_PORT: Final = 65535


def parse_ip(value: str | IPAddress, /) -> IPAddress:
    """``value`` as an ``ipaddress`` object; ``ValueError`` if it is not an IP literal.

    Brackets (``"[::1]"``) and a zone (``"fe80::1%eth0"``) are accepted.
    """
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected an IP address as str or ipaddress object, got {value!r}")
    text = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    return ipaddress.ip_address(text)


def _unmap(address: IPAddress) -> IPAddress:
    if address.version == 6:
        mapped = address.ipv4_mapped
        if mapped is not None:
            return mapped
    return address


def _check_port(_instance: object, _attribute: object, value: Any) -> None:
    check_int("Endpoint", "port", value, 0, _MAX_PORT)


@attrs.frozen(order=False)
class Endpoint:
    """An IP address and a TCP port: ``str(ep)`` is ``"[::1]:8080"`` or ``"127.0.0.1:80"``.

    ``address`` accepts a string or an ``ipaddress`` object; ``port`` must be in 0..65535.
    The address is kept as given: ``Endpoint("::ffff:1.2.3.4", 80)`` stays IPv6 (use
    :meth:`unmapped` for the IPv4 form); endpoints that ``dsexec.net`` reports for peers are
    already unmapped.
    """

    address: IPAddress = attrs.field(converter=parse_ip)
    port: int = attrs.field(validator=_check_port)

    @property
    def family(self) -> socket.AddressFamily:
        """``AF_INET`` or ``AF_INET6``."""
        return socket.AF_INET if self.address.version == 4 else socket.AF_INET6

    def unmapped(self) -> Endpoint:
        """This endpoint with an IPv4-mapped IPv6 address turned into plain IPv4."""
        address = _unmap(self.address)
        return self if address is self.address else Endpoint(address, self.port)

    def to_sockaddr(self) -> tuple[str, int] | tuple[str, int, int, int]:
        """The address tuple ``socket.connect``/``bind`` take for this endpoint's family."""
        address = self.address
        if address.version == 4:
            return (str(address), self.port)
        scope = address.scope_id
        if scope:
            return (str(address), self.port, 0, socket.if_nametoindex(scope))
        return (str(address), self.port, 0, 0)

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        """Parse ``"[::1]:8080"`` or ``"127.0.0.1:80"`` (the ``str()`` form)."""
        if text.startswith("["):
            host, sep, port = text[1:].partition("]:")
        else:
            host, sep, port = text.rpartition(":")
        if not sep or not port.isdigit() or (":" in host and not text.startswith("[")):
            raise ValueError(f"Endpoint.parse: expected '[v6]:port' or 'v4:port', got {text!r}")
        return cls(host, int(port))

    def __str__(self) -> str:
        if self.address.version == 6:
            return f"[{self.address}]:{self.port}"
        return f"{self.address}:{self.port}"


def address_of_sockaddr(sockaddr: Any, /) -> IPAddress:
    """The peer address of a socket address tuple, IPv4-mapped IPv6 turned into IPv4."""
    host: str = sockaddr[0]
    if len(sockaddr) == 4 and sockaddr[3] and "%" not in host:
        # Linux reports the zone in scope_id only; keep it so the address stays usable.
        with contextlib.suppress(OSError):
            host = f"{host}%{socket.if_indextoname(sockaddr[3])}"
    return _unmap(ipaddress.ip_address(host))


def endpoint_of_sockaddr(sockaddr: Any, /) -> Endpoint:
    """An unmapped :class:`Endpoint` from a socket address tuple."""
    return Endpoint(address_of_sockaddr(sockaddr), sockaddr[1])
