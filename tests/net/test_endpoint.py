"""Endpoint: the address + port value, and the sockaddr helpers."""

from __future__ import annotations

import ipaddress

import attrs
import pytest

from dsexec.net import Endpoint
from dsexec.net._endpoint import address_of_sockaddr, endpoint_of_sockaddr, parse_ip


@pytest.mark.parametrize(
    ("address", "port", "text"),
    [
        ("::1", 8080, "[::1]:8080"),
        ("127.0.0.1", 80, "127.0.0.1:80"),
        ("::", 0, "[::]:0"),
        # an IPv4-mapped address as ipaddress writes it: mixed notation from Python 3.13 on
        # (RFC 5952, section 5), hexadecimal before
        ("::ffff:10.0.0.1", 443, f"[{ipaddress.IPv6Address('::ffff:10.0.0.1')}]:443"),
        (ipaddress.IPv4Address("10.1.2.3"), 65535, "10.1.2.3:65535"),
    ],
)
def test_endpoint_str_brackets_ipv6_only(
    address: str | ipaddress.IPv4Address, port: int, text: str
) -> None:
    endpoint = Endpoint(address, port)
    assert str(endpoint) == text
    assert Endpoint.parse(text) == endpoint


def test_endpoint_converts_strings_to_ipaddress_objects() -> None:
    endpoint = Endpoint("::1", 1)
    assert endpoint.address == ipaddress.IPv6Address("::1")
    assert endpoint.family.name == "AF_INET6"
    assert Endpoint("1.2.3.4", 1).family.name == "AF_INET"


def test_endpoint_is_a_frozen_hashable_value() -> None:
    endpoint = Endpoint("127.0.0.1", 80)
    assert endpoint == Endpoint(ipaddress.IPv4Address("127.0.0.1"), 80)
    assert len({endpoint, Endpoint("127.0.0.1", 80)}) == 1
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        endpoint.port = 81  # type: ignore[misc]


@pytest.mark.parametrize("port", [-1, 65536, 100000])
def test_endpoint_rejects_ports_out_of_range(port: int) -> None:
    with pytest.raises(ValueError, match=r"port must be in 0\.\.65535"):
        Endpoint("::1", port)


@pytest.mark.parametrize("port", ["80", 80.0, True])
def test_endpoint_rejects_non_int_ports(port: object) -> None:
    with pytest.raises(TypeError, match="port must be an int"):
        Endpoint("::1", port)  # type: ignore[arg-type]


@pytest.mark.parametrize("address", ["localhost", "1.2.3", "::g"])
def test_endpoint_rejects_non_ip_addresses(address: str) -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        Endpoint(address, 80)


@pytest.mark.parametrize("text", ["::1", "[::1]80", "1.2.3.4", "[::1]:x"])
def test_endpoint_parse_rejects_text_without_port(text: str) -> None:
    with pytest.raises(ValueError, match=r"Endpoint\.parse"):
        Endpoint.parse(text)


def test_endpoint_unmapped_turns_ipv4_mapped_into_ipv4() -> None:
    mapped = Endpoint("::ffff:192.0.2.7", 8080)
    assert mapped.unmapped() == Endpoint("192.0.2.7", 8080)
    plain = Endpoint("::1", 8080)
    assert plain.unmapped() is plain


def test_endpoint_to_sockaddr_matches_the_family() -> None:
    assert Endpoint("127.0.0.1", 80).to_sockaddr() == ("127.0.0.1", 80)
    assert Endpoint("::1", 80).to_sockaddr() == ("::1", 80, 0, 0)


def test_sockaddr_helpers_unmap_ipv4_mapped_peers() -> None:
    assert address_of_sockaddr(("::ffff:127.0.0.1", 5, 0, 0)) == ipaddress.IPv4Address(
        "127.0.0.1"
    )
    assert address_of_sockaddr(("::1", 5, 0, 0)) == ipaddress.IPv6Address("::1")
    assert endpoint_of_sockaddr(("::ffff:10.0.0.2", 7, 0, 0)) == Endpoint("10.0.0.2", 7)
    assert endpoint_of_sockaddr(("10.0.0.2", 7)) == Endpoint("10.0.0.2", 7)


def test_parse_ip_accepts_brackets_and_objects() -> None:
    assert parse_ip("[::1]") == ipaddress.IPv6Address("::1")
    address = ipaddress.IPv4Address("1.1.1.1")
    assert parse_ip(address) is address
    with pytest.raises(TypeError, match="expected an IP address"):
        parse_ip(42)  # type: ignore[arg-type]
