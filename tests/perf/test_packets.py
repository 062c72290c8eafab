"""PacketBatch and simd_process_packets: every field of hand-built IPv4/IPv6 packets, options,
truncation and corruption, the empty batch, against the per-packet reference on generated
packets (hypothesis), one packet at a time against the whole batch, and filter(acl)."""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from dsexec.perf import PacketBatch, PacketInfo, simd_process_packets
from dsexec.perf._packets import _process_packets_loop
from dsexec.security import AccessControlList

FIELDS = ("version", "protocol", "total_length", "src", "dst", "checksum_ok", "valid")


def checksum(header: bytes) -> int:
    """RFC 1071: the one's complement of the one's complement sum of the 16-bit words."""
    total: int = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4(
    src: str = "192.0.2.1",
    dst: str = "198.51.100.2",
    *,
    payload: bytes = b"hello",
    protocol: int = 6,
    options: bytes = b"",
    total_length: int | None = None,
    good_checksum: bool = True,
) -> bytes:
    assert len(options) % 4 == 0
    ihl = 5 + len(options) // 4
    length = 4 * ihl + len(payload) if total_length is None else total_length
    header = bytearray(
        struct.pack(
            "!BBHHHBBH4s4s",
            0x40 | ihl,
            0,
            length,
            0x1234,
            0,
            64,
            protocol,
            0,
            ipaddress.IPv4Address(src).packed,
            ipaddress.IPv4Address(dst).packed,
        )
        + options
    )
    header[10:12] = struct.pack("!H", checksum(bytes(header)) ^ (0 if good_checksum else 0x0101))
    return bytes(header) + payload


def ipv6(
    src: str = "2001:db8::1",
    dst: str = "2001:db8::2",
    *,
    payload: bytes = b"hello",
    next_header: int = 17,
    payload_length: int | None = None,
) -> bytes:
    length = len(payload) if payload_length is None else payload_length
    return (
        struct.pack("!IHBB", 6 << 28, length, next_header, 64)
        + ipaddress.IPv6Address(src).packed
        + ipaddress.IPv6Address(dst).packed
        + payload
    )


def v6_bytes(address: str) -> list[int]:
    parsed = ipaddress.ip_address(address)
    if parsed.version == 4:
        parsed = ipaddress.IPv6Address(f"::ffff:{parsed}")
    return list(parsed.packed)


def process(packets: Sequence[bytes]) -> PacketInfo:
    return simd_process_packets(PacketBatch.from_packets(packets))


def assert_same(left: PacketInfo, right: PacketInfo) -> None:
    for name in FIELDS:
        a: NDArray[np.generic] = getattr(left, name)
        b: NDArray[np.generic] = getattr(right, name)
        assert a.dtype == b.dtype, name
        assert a.shape == b.shape, name
        assert np.array_equal(a, b), name


# --- the batch -------------------------------------------------------------------------------


def test_from_packets_keeps_the_packets_their_first_60_bytes_and_lengths() -> None:
    long_packet = bytes(range(100))
    batch = PacketBatch.from_packets([b"\x45\x00", long_packet, b""])
    assert len(batch) == 3
    assert batch.packets == (b"\x45\x00", long_packet, b"")
    assert batch.headers.shape == (3, 60)
    assert batch.headers.dtype == np.uint8
    assert batch.headers[0].tolist() == [0x45, 0] + [0] * 58
    assert batch.headers[1].tolist() == list(range(60))
    assert batch.headers[2].tolist() == [0] * 60
    assert batch.captured.tolist() == [2, 100, 0]


def test_trailing_zero_bytes_are_counted_in_the_length() -> None:
    batch = PacketBatch.from_packets([b"\x45" + bytes(30), bytes(70)])
    assert batch.captured.tolist() == [31, 70]


def test_the_batch_arrays_are_read_only() -> None:
    batch = PacketBatch.from_packets([ipv4()])
    with pytest.raises(ValueError, match="read-only"):
        batch.headers[0, 0] = 0
    with pytest.raises(ValueError, match="read-only"):
        batch.captured[0] = 0
    info = simd_process_packets(batch)
    with pytest.raises(ValueError, match="read-only"):
        info.valid[0] = False


def test_bytearray_and_memoryview_packets_are_copied_to_bytes() -> None:
    source = bytearray(ipv4())
    batch = PacketBatch.from_packets([source, memoryview(ipv6()), ipv4()])
    assert all(type(packet) is bytes for packet in batch.packets)
    source[0] = 0
    assert batch.packets[0][0] == 0x45
    assert simd_process_packets(batch).valid.tolist() == [True, True, True]


def test_bytes_packets_are_kept_as_given_without_copies() -> None:
    given = [ipv4(), ipv6(), b""]
    batch = PacketBatch.from_packets(given)
    assert all(kept is packet for kept, packet in zip(batch.packets, given, strict=True))
    as_tuple = tuple(given)
    assert PacketBatch.from_packets(as_tuple).packets is as_tuple


def test_bytes_subclass_packets_are_copied_to_plain_bytes() -> None:
    class Frame(bytes):
        pass

    batch = PacketBatch.from_packets([ipv4(), Frame(ipv6()), Frame(b"")])
    assert [type(packet) for packet in batch.packets] == [bytes, bytes, bytes]
    assert batch.packets == (ipv4(), ipv6(), b"")
    assert batch.captured.tolist() == [len(ipv4()), len(ipv6()), 0]
    assert simd_process_packets(batch).valid.tolist() == [True, True, False]


def test_a_bad_item_from_a_generator_is_a_type_error_naming_its_index() -> None:
    items = (packet for packet in [ipv4(), bytearray(ipv6()), "45", ipv4()])
    with pytest.raises(TypeError, match="packet 2 must be bytes, bytearray or memoryview, got str"):
        PacketBatch.from_packets(items)  # type: ignore[arg-type]


@pytest.mark.parametrize("count", [1, 7, 4095, 4096, 4097, 8199])
def test_headers_are_the_first_60_bytes_cut_or_zero_padded(count: int) -> None:
    # NUL bytes at the start, inside and at the end of a packet stay what they are.
    shapes = [
        ipv4(payload=b"x" * 50),
        ipv6()[:30],
        b"",
        bytes(range(200)),
        ipv4()[:3],
        ipv4(payload=bytes(70)),
        bytes(10),
        b"\x45\x00\x00" + bytes(57) + b"\x01",
    ]
    packets = [shapes[index % len(shapes)][: 61 - index % 7] for index in range(count)]
    batch = PacketBatch.from_packets(packets)
    expected = b"".join(packet[:60].ljust(60, b"\0") for packet in packets)
    assert batch.headers.shape == (count, 60)
    assert batch.headers.tobytes() == expected
    assert batch.captured.tolist() == [len(packet) for packet in packets]
    assert not batch.headers.flags.writeable
    assert_same(simd_process_packets(batch), _process_packets_loop(packets))


@pytest.mark.parametrize("item", ["45000014", 42, None, [0x45]])
def test_a_packet_that_is_not_bytes_is_a_type_error_naming_its_index(item: object) -> None:
    with pytest.raises(TypeError, match="packet 1 must be bytes"):
        PacketBatch.from_packets([ipv4(), item, ipv4()])  # type: ignore[list-item]


@pytest.mark.parametrize("packets", [ipv4(), "packets", bytearray(b"x"), 5])
def test_one_packet_instead_of_a_list_is_a_type_error(packets: object) -> None:
    with pytest.raises(TypeError, match="iterable of bytes objects"):
        PacketBatch.from_packets(packets)  # type: ignore[arg-type]


def test_simd_process_packets_wants_a_batch() -> None:
    with pytest.raises(TypeError, match="expected a PacketBatch"):
        simd_process_packets([ipv4()])  # type: ignore[arg-type]


def test_the_empty_batch_gives_empty_arrays() -> None:
    info = process([])
    assert len(info) == 0
    assert info.src.shape == (0, 16)
    assert info.valid.dtype == np.bool_
    assert_same(info, _process_packets_loop([]))
    assert len(PacketBatch.from_packets([]).filter(AccessControlList())) == 0


# --- fields of hand-built packets ------------------------------------------------------------


def test_an_ipv4_packet_is_parsed_with_mapped_addresses() -> None:
    info = process([ipv4("10.1.2.3", "172.16.0.9", protocol=17, payload=b"x" * 30)])
    assert info.version.tolist() == [4]
    assert info.protocol.tolist() == [17]
    assert info.total_length.tolist() == [50]
    assert info.src.tolist() == [v6_bytes("10.1.2.3")]
    assert info.dst.tolist() == [v6_bytes("172.16.0.9")]
    assert info.checksum_ok.tolist() == [True]
    assert info.valid.tolist() == [True]


def test_an_ipv6_packet_is_parsed() -> None:
    info = process([ipv6("2001:db8::7", "fe80::1", next_header=58, payload=b"y" * 24)])
    assert info.version.tolist() == [6]
    assert info.protocol.tolist() == [58]
    assert info.total_length.tolist() == [64]
    assert info.src.tolist() == [v6_bytes("2001:db8::7")]
    assert info.dst.tolist() == [v6_bytes("fe80::1")]
    assert info.checksum_ok.tolist() == [True]
    assert info.valid.tolist() == [True]


def test_a_corrupt_ipv4_checksum_is_reported_but_the_packet_stays_valid() -> None:
    good, bad = ipv4(), ipv4(good_checksum=False)
    flipped = bytearray(good)
    flipped[15] ^= 0x40  # a bit of the source address changes under the checksum
    info = process([good, bad, bytes(flipped)])
    assert info.checksum_ok.tolist() == [True, False, False]
    assert info.valid.tolist() == [True, True, True]


@pytest.mark.parametrize("option_words", [1, 2, 5, 10])
def test_the_checksum_covers_the_options(option_words: int) -> None:
    options = bytes(range(1, 4 * option_words + 1))
    packet = ipv4(options=options)
    corrupted = bytearray(packet)
    corrupted[20 + 4 * option_words - 1] ^= 0xFF  # last option byte
    info = process([packet, bytes(corrupted)])
    assert info.checksum_ok.tolist() == [True, False]
    assert info.valid.tolist() == [True, True]
    assert info.total_length.tolist() == [len(packet)] * 2


def test_the_checksum_of_headers_with_the_largest_words() -> None:
    # Options and addresses of 0xFF bytes push the 32-bit word sum towards its 2**36 bound.
    full = ipv4("255.255.255.255", "255.255.255.255", options=b"\xff" * 40, protocol=255)
    wrong = bytearray(full)
    wrong[59] = 0xFE
    zero_sum = bytearray(ipv4(options=bytes(40)))
    zero_sum[10:12] = b"\0\0"  # a header whose sum is not a multiple of 0xFFFF
    batch = [full, bytes(wrong), bytes(zero_sum)]
    info = process(batch)
    assert info.checksum_ok.tolist() == [True, False, False]
    assert_same(info, _process_packets_loop(batch))


def test_other_versions_among_ipv4_and_ipv6_have_zero_addresses() -> None:
    batch = [ipv4(), b"\x55" * 60, ipv6(), b"", b"\x75" + bytes(range(59)), ipv4()[:1]]
    info = process(batch)
    assert info.version.tolist() == [4, 5, 6, 0, 7, 4]
    assert info.src[[1, 3, 4]].tolist() == [[0] * 16] * 3
    assert info.dst[[1, 3, 4]].tolist() == [[0] * 16] * 3
    assert info.src[0].tolist() == v6_bytes("192.0.2.1")
    assert info.src[2].tolist() == v6_bytes("2001:db8::1")
    assert_same(info, _process_packets_loop(batch))


def test_bytes_after_the_ipv4_header_do_not_count_in_its_checksum() -> None:
    packet = bytearray(ipv4(payload=bytes(40)))
    packet[20:60] = b"\xff" * 40  # payload bytes within the first 60 are not header
    assert process([bytes(packet)]).checksum_ok.tolist() == [True]


def test_an_ihl_below_5_is_invalid_and_fails_the_checksum() -> None:
    packet = bytearray(ipv4())
    for ihl in (0, 4):
        packet[0] = 0x40 | ihl
        info = process([bytes(packet)])
        assert (info.version.tolist(), info.valid.tolist()) == ([4], [False])
        assert info.checksum_ok.tolist() == [False]


def test_a_truncated_packet_is_invalid() -> None:
    v4, v6 = ipv4(payload=b"p" * 20), ipv6(payload=b"p" * 20)
    info = process([v4[:-1], v6[:-1], v4[:19], v6[:39], v4[:10], v6[:1]])
    assert info.valid.tolist() == [False] * 6
    # A cut payload leaves the header readable and its checksum checkable.
    assert info.checksum_ok.tolist() == [True, True, False, True, False, True]
    assert info.version.tolist() == [4, 6, 4, 6, 4, 6]


def test_a_header_cut_inside_its_options_is_invalid() -> None:
    packet = ipv4(options=bytes(8), payload=b"")
    info = process([packet[:24]])
    assert (info.valid.tolist(), info.checksum_ok.tolist()) == ([False], [False])


def test_bytes_past_the_total_length_are_allowed() -> None:
    padded = ipv4(payload=b"") + bytes(26)  # Ethernet pads short frames to 46 bytes
    info = process([padded, ipv6(payload=b"") + b"trailer"])
    assert info.valid.tolist() == [True, True]
    assert info.total_length.tolist() == [20, 40]


def test_a_total_length_below_the_header_length_is_invalid() -> None:
    info = process([ipv4(total_length=19), ipv4(options=bytes(4), total_length=20)])
    assert info.valid.tolist() == [False, False]


def test_an_ipv6_payload_length_beyond_the_capture_is_invalid() -> None:
    info = process([ipv6(payload=b"abc", payload_length=4), ipv6(payload_length=0xFFFF)])
    assert info.valid.tolist() == [False, False]
    assert info.total_length.tolist() == [44, 40 + 0xFFFF]


@pytest.mark.parametrize("packet", [b"", b"\x00", b"\x55" * 60, b"\xf0" + bytes(50), b"\x15"])
def test_other_versions_and_empty_packets_are_invalid_and_zeroed(packet: bytes) -> None:
    info = process([packet])
    assert info.version.tolist() == [packet[0] >> 4 if packet else 0]
    assert (info.protocol.tolist(), info.total_length.tolist()) == ([0], [0])
    assert info.src.tolist() == info.dst.tolist() == [[0] * 16]
    assert (info.checksum_ok.tolist(), info.valid.tolist()) == ([False], [False])


def test_a_packet_info_checks_its_arrays() -> None:
    info = process([ipv4(), ipv6()])
    with pytest.raises(ValueError, match=r"src must be a uint8 array of shape \(2, 16\)"):
        PacketInfo(
            info.version, info.protocol, info.total_length, info.src[:, :4], info.dst,
            info.checksum_ok, info.valid,
        )  # fmt: skip
    with pytest.raises(ValueError, match="total_length must be a int64 array"):
        PacketInfo(
            info.version, info.protocol, info.total_length.astype(np.int32), info.src, info.dst,
            info.checksum_ok, info.valid,
        )  # fmt: skip


# --- against the per-packet reference --------------------------------------------------------


@st.composite
def packets(draw: st.DrawFn) -> bytes:
    """A well-formed packet, then maybe truncated, corrupted, re-versioned or random."""
    kind = draw(st.sampled_from(["v4", "v6", "random"]))
    option_words = draw(st.integers(0, 10))
    if kind == "random":
        return draw(st.binary(max_size=80))
    payload = draw(st.binary(max_size=40))
    if kind == "v4":
        packet = ipv4(
            str(ipaddress.IPv4Address(draw(st.integers(0, 2**32 - 1)))),
            str(ipaddress.IPv4Address(draw(st.integers(0, 2**32 - 1)))),
            payload=payload,
            protocol=draw(st.integers(0, 255)),
            options=draw(st.binary(min_size=4 * option_words, max_size=4 * option_words)),
            good_checksum=draw(st.booleans()),
        )  # fmt: skip
    else:
        packet = ipv6(
            str(ipaddress.IPv6Address(draw(st.integers(0, 2**128 - 1)))),
            str(ipaddress.IPv6Address(draw(st.integers(0, 2**128 - 1)))),
            payload=payload,
            next_header=draw(st.integers(0, 255)),
        )
    mutable = bytearray(packet)
    for _ in range(draw(st.integers(0, 2))):  # corrupt a byte (version/IHL and lengths too)
        where = draw(st.sampled_from([0, 2, 3, 4, 5, draw(st.integers(0, len(mutable) - 1))]))
        mutable[where] = draw(st.integers(0, 255))
    cut = draw(st.one_of(st.just(len(mutable)), st.integers(0, len(mutable))))
    return bytes(mutable[:cut])


@settings(max_examples=200, deadline=None)
@given(st.lists(packets(), max_size=40))
def test_the_batch_matches_the_per_packet_reference(batch: list[bytes]) -> None:
    assert_same(process(batch), _process_packets_loop(batch))


@settings(max_examples=50, deadline=None)
@given(st.lists(packets(), min_size=1, max_size=20))
def test_one_packet_at_a_time_matches_the_whole_batch(batch: list[bytes]) -> None:
    whole = process(batch)
    for index, packet in enumerate(batch):
        alone = process([packet])
        for name in FIELDS:
            assert np.array_equal(getattr(alone, name)[0], getattr(whole, name)[index]), name


def test_the_reference_agrees_on_hand_built_packets() -> None:
    batch = [
        ipv4(), ipv4(options=bytes(range(40))), ipv4(good_checksum=False), ipv4()[:24], ipv6(),
        ipv6()[:39], b"", b"\x60", b"\x45", ipv4(total_length=10), bytes(range(60, 160)),
    ]  # fmt: skip
    expected = _process_packets_loop(batch)
    assert expected.valid.tolist() == [True, True, True, False, True] + [False] * 6
    assert_same(process(batch), expected)


# --- filter ----------------------------------------------------------------------------------


def test_filter_drops_blocked_sources_of_either_family_in_order() -> None:
    acl = AccessControlList(blocked=["10.0.0.0/8", "2001:db8:bad::/48"])
    kept = [ipv4("192.0.2.1"), ipv6("2001:db8::1"), ipv4("192.0.2.2", "10.0.0.1")]
    dropped = [ipv4("10.1.1.1"), ipv6("2001:db8:bad::1"), ipv6("::ffff:10.0.0.5")]
    batch = PacketBatch.from_packets(
        [dropped[0], kept[0], dropped[1], kept[1], dropped[2], kept[2]]
    )
    survivors = batch.filter(acl)
    assert survivors.packets == tuple(kept)
    assert np.array_equal(survivors.headers, PacketBatch.from_packets(kept).headers)
    assert survivors.captured.tolist() == [len(packet) for packet in kept]
    assert_same(simd_process_packets(survivors), process(kept))


def test_filter_drops_invalid_packets_and_keeps_bad_checksums() -> None:
    acl = AccessControlList()
    batch = PacketBatch.from_packets([ipv4()[:-1], ipv4(good_checksum=False), b"", ipv6()])
    assert batch.filter(acl).packets == (ipv4(good_checksum=False), ipv6())


def test_filter_with_an_allow_list_keeps_only_allowed_sources() -> None:
    acl = AccessControlList(allowed=["192.0.2.0/24"])
    batch = PacketBatch.from_packets([ipv4("192.0.2.9"), ipv4("192.0.3.9"), ipv6()])
    assert batch.filter(acl).packets == (ipv4("192.0.2.9"),)


def test_filter_reuses_a_given_info_and_checks_its_length() -> None:
    batch = PacketBatch.from_packets([ipv4("10.0.0.1"), ipv4("192.0.2.1")])
    info = simd_process_packets(batch)
    acl = AccessControlList(blocked=["10.0.0.0/8"])
    assert batch.filter(acl, info=info).packets == (ipv4("192.0.2.1"),)
    with pytest.raises(ValueError, match="info describes 1 packets, the batch has 2"):
        batch.filter(acl, info=process([ipv4()]))


def test_filter_takes_any_address_filter() -> None:
    class DropIpv6:
        def is_blocked_many(self, addrs: NDArray[np.uint8], /) -> NDArray[np.bool_]:
            mapped = (addrs[:, :10] == 0).all(axis=1) & (addrs[:, 10:12] == 0xFF).all(axis=1)
            result: NDArray[np.bool_] = ~mapped
            return result

    batch = PacketBatch.from_packets([ipv6(), ipv4(), ipv6()])
    assert batch.filter(DropIpv6()).packets == (ipv4(),)
