"""``PacketBatch`` and ``simd_process_packets``: IPv4 and IPv6 headers of many raw packets parsed
at once with numpy, and ``PacketBatch.filter(acl)`` dropping blocked sources.

What is parsed, per packet ``p`` of ``n = len(p)`` captured bytes
-------------------------------------------------------------------
Let ``h`` be the first 60 bytes of ``p`` (the longest IPv4 header), zero-padded: every field is
read from ``h``, so a field of a packet too short to hold it reads as zeros (garbage in, no
crash) and only ``valid`` says whether the packet can be trusted.

* ``version``: the high nibble of the first byte (0 for an empty packet).
* IPv4 (version 4): ``ihl`` is the low nibble, the header is ``4 * ihl`` bytes.
  ``protocol`` = byte 9; ``total_length`` = bytes 2..3; ``src``/``dst`` = bytes 12..15/16..19 in
  IPv4-mapped form (``::ffff:a.b.c.d``, the form ``AccessControlList.is_blocked_many`` takes).
  ``checksum_ok``: ``ihl >= 5``, the whole header is captured (``n >= 4 * ihl``) and its RFC 1071
  one's-complement sum, options included, is ``0xffff``. ``valid``: ``ihl >= 5``,
  ``n >= 4 * ihl`` and ``4 * ihl <= total_length <= n`` (bytes past ``total_length``, such as
  Ethernet padding, are allowed; fewer are a truncated packet). The checksum is not part of
  ``valid``: combine ``valid & checksum_ok`` to also drop corrupt headers.
* IPv6 (version 6): ``protocol`` = the next-header byte 6 (the first extension header's type if
  there is one); ``total_length`` = 40 + the payload length at bytes 4..5 (a jumbogram, payload
  length 0, counts as 40); ``src``/``dst`` = bytes 8..23/24..39; ``checksum_ok`` is true (IPv6 has
  no header checksum); ``valid``: ``n >= 40`` and ``total_length <= n``.
* Any other version, or an empty packet: ``protocol``, ``total_length``, ``src`` and ``dst`` are
  zero, ``checksum_ok`` and ``valid`` false.

How it is vectorised
--------------------
``from_packets`` makes three C-level passes over the packet objects: their types (when every
item is exactly ``bytes`` the tuple is kept as is, nothing is copied), their lengths, and their
first 60 bytes, which ``np.fromiter`` copies into one array of ``S60`` items (it truncates and
zero-pads: about half the cost per packet of ``struct`` packing ``60s`` codes), viewed as a
read-only ``(n, 60)`` uint8 array. Every field is then a few whole-column
operations. Fields that depend on the version are products of a column with the version's bool
mask (a product is one cheap pass, several times faster than ``np.where``, and zeroes the field
for the other versions); one table lookup on the first byte gives the header bytes a packet
needs (``4 * IHL``, 0 for IPv6, "never" otherwise), which is both the capture ``checksum_ok``
needs and the least ``total_length`` that is ``valid``. The addresses are one ``np.where`` over
16-byte items, choosing the IPv6 bytes or a prebuilt IPv4-mapped form. The checksum uses two
facts of RFC 1071: the sum may be taken in any byte order, and over 32-bit words (folding
``2**32`` to 1 mod ``0xffff``); so the sum is a ``uint64`` sum of the header's native-order
``uint32`` words -- the first five for every packet, the option words only for packets whose IHL
is above 5 -- and the header checks out when that sum is a non-zero multiple of ``0xffff``,
tested with a multiplication by the inverse of ``0xffff`` modulo ``2**64`` and one comparison.
``_process_packets_loop`` is the per-packet pure-Python version of the same work: the test
oracle and the benchmark's peer.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterable
from operator import countOf
from typing import Final, Protocol, cast

import attrs
import numpy as np
from numpy.typing import NDArray

__all__ = ["AddressFilter", "PacketBatch", "PacketInfo", "simd_process_packets"]

HEADER_BYTES: Final = 60
"""How many leading bytes of each packet a batch keeps for parsing: the longest IPv4 header."""

_IPV6_HEADER: Final = 40
_V4_MAPPED_PREFIX: Final = bytes(10) + b"\xff\xff"
_ADDRESS: Final = np.dtype("V16")
# An IPv4-mapped address with a zero IPv4 part, as one 16-byte item.
_V4_MAPPED_TEMPLATE: Final = np.frombuffer(_V4_MAPPED_PREFIX + bytes(4), dtype=_ADDRESS)[0]
_OPTION_WORD: Final = np.arange(10, dtype=np.uint8)[:, None]
# numpy scalars made once (making them per call costs microseconds).
_FOUR: Final = np.uint8(4)
_TEN: Final = np.uint8(10)
_FIRST_WITHOUT_OPTIONS: Final = np.uint8(0x45)
_FIRST_WITH_OPTIONS: Final = np.uint8(0x46)
_IPV6_HEADER_U8: Final = np.uint8(_IPV6_HEADER)
_ONE: Final = np.uint64(1)
_INVERSE_OF_FFFF: Final = np.uint64(pow(0xFFFF, -1, 2**64))
_MULTIPLES_OF_FFFF: Final = np.uint64((2**64 - 1) // 0xFFFF)


def _header_needs() -> NDArray[np.int64]:
    """Per first byte (version and IHL): the bytes a packet needs captured for its header to be
    checked, which is also the least ``total_length`` a valid packet may claim. IPv4 with
    IHL >= 5: ``4 * IHL``; IPv6: 0 (``total_length >= 40`` always, and its checksum is always
    true); anything else: more than any length, so nothing checks out."""
    needs = np.full(256, np.iinfo(np.int64).max, dtype=np.int64)
    needs[0x45:0x50] = 4 * np.arange(5, 16)
    needs[0x60:0x70] = 0
    return needs


_HEADER_NEEDS: Final = _header_needs()


class AddressFilter(Protocol):
    """Anything with ``is_blocked_many`` over an ``(n, 16)`` uint8 address array, such as
    ``dsexec.security.AccessControlList``: what :meth:`PacketBatch.filter` takes."""

    def is_blocked_many(self, addrs: NDArray[np.uint8], /) -> NDArray[np.bool_]:
        """One bool per row of ``addrs``: true for an address to drop."""
        ...


def _readonly(array: NDArray[np.generic]) -> None:
    array.flags.writeable = False


def _packet_tuple(packets: Iterable[bytes | bytearray | memoryview]) -> tuple[bytes, ...]:
    """``packets`` as a tuple of ``bytes`` (other bytes-like objects are copied)."""
    if isinstance(packets, bytes | bytearray | memoryview | str) or not isinstance(
        packets, Iterable
    ):
        raise TypeError(
            f"PacketBatch: packets must be an iterable of bytes objects (one per packet), "
            f"got {type(packets).__name__}"
        )
    items = tuple(packets)
    if countOf(map(type, items), bytes) == len(items):  # all exactly bytes: nothing to copy
        return cast(tuple[bytes, ...], items)
    converted: list[bytes] = []
    for index, packet in enumerate(items):
        if not isinstance(packet, bytes | bytearray | memoryview):
            raise TypeError(
                f"PacketBatch: packet {index} must be bytes, bytearray or memoryview, "
                f"got {type(packet).__name__}"
            )
        converted.append(bytes(packet))
    return tuple(converted)


# Each packet as one fixed-size bytes item: numpy cuts longer ones and zero-pads shorter ones.
_HEADER_ITEM: Final = np.dtype(f"S{HEADER_BYTES}")


def _first_bytes(packets: tuple[bytes, ...]) -> NDArray[np.uint8]:
    """The ``(n, 60)`` array of the packets' first 60 bytes, zero-padded."""
    items = np.fromiter(packets, dtype=_HEADER_ITEM, count=len(packets))
    return items.view(np.uint8).reshape(len(packets), HEADER_BYTES)


@attrs.frozen(eq=False)
class PacketBatch:
    """Raw IP packets (one ``bytes`` each, starting at the IP header) ready for vectorised
    parsing: ``PacketBatch.from_packets([...])`` or ``PacketBatch(packets)``.

    ``headers`` is the ``(n, 60)`` uint8 array of every packet's first 60 bytes, zero-padded,
    and ``captured`` the ``(n,)`` int64 array of their lengths; both read-only. Equality is
    identity (the arrays make ``==`` ambiguous).
    """

    packets: tuple[bytes, ...] = attrs.field(converter=_packet_tuple)
    """The packets, as given (``bytearray`` and ``memoryview`` ones copied to ``bytes``)."""
    headers: NDArray[np.uint8] = attrs.field(init=False, repr=False)
    """``(n, 60)`` uint8: the first 60 bytes of each packet, zero-padded."""
    captured: NDArray[np.int64] = attrs.field(init=False, repr=False)
    """``(n,)`` int64: the length of each packet, in bytes."""

    def __attrs_post_init__(self) -> None:
        packets = self.packets
        captured = np.fromiter(map(len, packets), dtype=np.int64, count=len(packets))
        headers = _first_bytes(packets)
        _readonly(headers)
        _readonly(captured)
        object.__setattr__(self, "headers", headers)
        object.__setattr__(self, "captured", captured)

    @classmethod
    def from_packets(cls, packets: Iterable[bytes | bytearray | memoryview], /) -> PacketBatch:
        """A batch of ``packets``: an iterable of ``bytes`` (or ``bytearray``/``memoryview``),
        each a raw IPv4 or IPv6 packet. ``TypeError`` names the first item that is not one."""
        return cls(packets)

    def __len__(self) -> int:
        return len(self.packets)

    def __repr__(self) -> str:
        return f"<PacketBatch of {len(self.packets)} packets>"

    def filter(self, acl: AddressFilter, /, *, info: PacketInfo | None = None) -> PacketBatch:
        """The packets whose source ``acl`` does not block, in order.

        Packets that are not ``valid`` are dropped too: their source cannot be trusted
        (fail closed). Pass ``info`` (this batch's ``simd_process_packets`` result) to reuse it.
        """
        if info is None:
            info = simd_process_packets(self)
        elif len(info) != len(self):
            raise ValueError(
                f"PacketBatch.filter: info describes {len(info)} packets, the batch has {len(self)}"
            )
        keep = info.valid & ~acl.is_blocked_many(info.src)
        return self._subset(keep)

    def _subset(self, keep: NDArray[np.bool_]) -> PacketBatch:
        """The batch of the packets where ``keep`` is true, without parsing them again."""
        batch = object.__new__(PacketBatch)
        headers, captured = self.headers[keep], self.captured[keep]
        _readonly(headers)
        _readonly(captured)
        object.__setattr__(batch, "packets", tuple(itertools.compress(self.packets, keep)))
        object.__setattr__(batch, "headers", headers)
        object.__setattr__(batch, "captured", captured)
        return batch


def _check_info(instance: PacketInfo, _attribute: object, _value: object) -> None:
    count = len(instance.version)
    for name, dtype, shape in (
        ("version", np.uint8, (count,)),
        ("protocol", np.uint8, (count,)),
        ("total_length", np.int64, (count,)),
        ("src", np.uint8, (count, 16)),
        ("dst", np.uint8, (count, 16)),
        ("checksum_ok", np.bool_, (count,)),
        ("valid", np.bool_, (count,)),
    ):
        array = getattr(instance, name)
        if not isinstance(array, np.ndarray) or array.dtype != dtype or array.shape != shape:
            got = f"{array.dtype} {array.shape}" if isinstance(array, np.ndarray) else array
            raise ValueError(
                f"PacketInfo: {name} must be a {np.dtype(dtype)} array of shape {shape}, "
                f"got {got!r}"
            )


@attrs.frozen(eq=False)
class PacketInfo:
    """What :func:`simd_process_packets` read from a batch: one numpy array per field, one row
    per packet, in batch order (read-only). See the module documentation for each field's exact
    meaning, including for truncated and malformed packets."""

    version: NDArray[np.uint8]
    """IP version nibble: 4, 6, or anything else for garbage (0 for an empty packet)."""
    protocol: NDArray[np.uint8]
    """IPv4 protocol / IPv6 next header (6 TCP, 17 UDP, ...)."""
    total_length: NDArray[np.int64]
    """Length the header claims: IPv4 total length, IPv6 40 + payload length."""
    src: NDArray[np.uint8]
    """``(n, 16)`` source addresses in IPv6 form, IPv4 mapped (``::ffff:a.b.c.d``)."""
    dst: NDArray[np.uint8]
    """``(n, 16)`` destination addresses, like ``src``."""
    checksum_ok: NDArray[np.bool_]
    """IPv4: the RFC 1071 header checksum holds; IPv6: true; other versions: false."""
    valid: NDArray[np.bool_] = attrs.field(validator=_check_info)
    """Well-formed and not truncated (IPv4: IHL >= 5; the claimed length is captured)."""

    def __len__(self) -> int:
        return len(self.version)

    def __repr__(self) -> str:
        return f"<PacketInfo of {len(self.version)} packets, {int(self.valid.sum())} valid>"


def simd_process_packets(batch: PacketBatch, /) -> PacketInfo:
    """Parse the IPv4 and IPv6 headers of every packet of ``batch`` at once (numpy)."""
    if not isinstance(batch, PacketBatch):
        raise TypeError(
            f"simd_process_packets: expected a PacketBatch (PacketBatch.from_packets(...)), "
            f"got {type(batch).__name__}"
        )
    headers, captured = batch.headers, batch.captured
    count = len(captured)
    first = headers[:, 0]
    version = first >> _FOUR
    is4 = version == 4
    is6 = version == 6
    needed = _HEADER_NEEDS.take(first)
    # Products with a bool column rather than np.where (several times slower): one cheap pass
    # each, and they zero the field for the versions it does not belong to.
    be16 = headers.view(">u2")  # big-endian 16-bit fields: [1] IPv4 total, [2] IPv6 payload
    length = be16[:, 1] * is4
    length |= be16[:, 2] * is6
    total_length = np.add(length, is6.view(np.uint8) * _IPV6_HEADER_U8, dtype=np.int64)
    protocol = headers[:, 9] * is4
    protocol |= headers[:, 6] * is6

    # The addresses as 16-byte items, sources in row 0 and destinations in row 1 (each row
    # contiguous): IPv6 bytes 8..39 where the version is 6, else the IPv4-mapped form of bytes
    # 12..19, else (after the fix-up) zeros.
    words = headers.view(np.uint32)  # (n, 15) native order
    mapped = np.empty((2, count, 4), dtype=np.uint32)
    mapped.view(_ADDRESS)[..., 0] = _V4_MAPPED_TEMPLATE
    mapped[:, :, 3] = words[:, 3:5].T
    addresses = np.where(is6, headers[:, 8:40].view(_ADDRESS).T, mapped.view(_ADDRESS)[..., 0])
    address_bytes = addresses.view(np.uint8).reshape(2, count, 16)
    unknown = np.flatnonzero(~(is4 | is6))
    if unknown.size:
        address_bytes[:, unknown] = 0

    # RFC 1071 over 32-bit native-order words (see the module docstring).
    total = np.add(words[:, 0], words[:, 1], dtype=np.uint64)
    total += words[:, 2]
    total += words[:, 3]
    total += words[:, 4]
    with_options = np.flatnonzero(first - _FIRST_WITH_OPTIONS < _TEN)  # 0x46..0x4F
    if with_options.size:
        in_header = first[with_options] - _FIRST_WITHOUT_OPTIONS > _OPTION_WORD  # (10, k)
        option_words = words[with_options, 5:].T
        total[with_options] += (option_words * in_header).sum(axis=0, dtype=np.uint64)
    # A non-zero multiple of 0xFFFF: times the inverse of 0xFFFF mod 2**64, minus one, it is
    # below (2**64 - 1) // 0xFFFF (multiples map to their quotient, zero wraps to the top).
    total *= _INVERSE_OF_FFFF
    total -= _ONE
    checksum_ok = (needed <= captured) & ((total < _MULTIPLES_OF_FFFF) | is6)
    valid = (needed <= total_length) & (total_length <= captured)
    return _info(
        version,
        protocol,
        total_length,
        address_bytes[0],
        address_bytes[1],
        checksum_ok,
        valid,
    )


def _info(  # noqa: PLR0917 - the fields of PacketInfo, in order
    version: NDArray[np.uint8],
    protocol: NDArray[np.uint8],
    total_length: NDArray[np.int64],
    src: NDArray[np.uint8],
    dst: NDArray[np.uint8],
    checksum_ok: NDArray[np.bool_],
    valid: NDArray[np.bool_],
) -> PacketInfo:
    arrays = (version, protocol, total_length, src, dst, checksum_ok, valid)
    for array in arrays:
        _readonly(array)
    return PacketInfo(*arrays)


# --- the per-packet reference ----------------------------------------------------------------

# version/IHL, total length, protocol, source, destination
_V4_FIELDS: Final = struct.Struct("!BxHxxxxxBxx4s4s")
_V6_FIELDS: Final = struct.Struct("!4xHB")  # payload length, next header
_HEADER_WORDS: Final = tuple(struct.Struct(f"!{2 * ihl}H") for ihl in range(16))
_NO_ADDRESS: Final = bytes(16)


def _process_packets_loop(packets: Iterable[bytes], /) -> PacketInfo:
    """What ``simd_process_packets(PacketBatch.from_packets(packets))`` returns, computed one
    packet at a time in plain Python (``struct``): the tests' oracle and the benchmarks' peer.

    A fair loop, not a strawman: precompiled ``struct`` formats, a textbook RFC 1071 fold, one
    pass, numpy arrays built once at the end.
    """
    versions: list[int] = []
    protocols: list[int] = []
    lengths: list[int] = []
    sources: list[bytes] = []
    destinations: list[bytes] = []
    checksums: list[bool] = []
    valids: list[bool] = []
    for packet in packets:
        captured = len(packet)
        header = packet if captured >= HEADER_BYTES else packet.ljust(HEADER_BYTES, b"\0")
        version = header[0] >> 4
        if version == 4:
            first, total_length, protocol, src, dst = _V4_FIELDS.unpack_from(header)
            ihl = first & 0x0F
            src = _V4_MAPPED_PREFIX + src
            dst = _V4_MAPPED_PREFIX + dst
            if ihl >= 5 and captured >= 4 * ihl:
                total = sum(_HEADER_WORDS[ihl].unpack_from(header))
                total = (total & 0xFFFF) + (total >> 16)
                total = (total & 0xFFFF) + (total >> 16)
                checksum_ok = total == 0xFFFF
                valid = 4 * ihl <= total_length <= captured
            else:
                checksum_ok = valid = False
        elif version == 6:
            payload_length, protocol = _V6_FIELDS.unpack_from(header)
            total_length = _IPV6_HEADER + payload_length
            src = header[8:24]
            dst = header[24:40]
            checksum_ok = True
            valid = captured >= _IPV6_HEADER and total_length <= captured
        else:
            protocol = total_length = 0
            src = dst = _NO_ADDRESS
            checksum_ok = valid = False
        versions.append(version)
        protocols.append(protocol)
        lengths.append(total_length)
        sources.append(src)
        destinations.append(dst)
        checksums.append(checksum_ok)
        valids.append(valid)
    count = len(versions)
    return _info(
        np.array(versions, dtype=np.uint8),
        np.array(protocols, dtype=np.uint8),
        np.array(lengths, dtype=np.int64),
        np.frombuffer(b"".join(sources), dtype=np.uint8).reshape(count, 16),
        np.frombuffer(b"".join(destinations), dtype=np.uint8).reshape(count, 16),
        np.array(checksums, dtype=bool),
        np.array(valids, dtype=bool),
    )
