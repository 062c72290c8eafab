"""``AccessControlList``: block and allow lists of addresses and CIDR networks, asked about one
address (``is_blocked``, ``decide``) or a whole numpy batch (``is_blocked_many``), immune to the
dual-stack bypass.

Some facts about addresses on a dual-stack server
-------------------------------------------------
* An IPv4 client of an ``AF_INET6`` socket with ``IPV6_V6ONLY=0`` shows up as the IPv4-mapped
  IPv6 address ``::ffff:a.b.c.d`` (RFC 4291 section 2.5.5.2); on an ``AF_INET`` socket the same
  client is ``a.b.c.d``. An ACL that compares spellings lets a blocked IPv4 client in through
  the other family (tinymux#800, 3proxy#807) or refuses an allowed one (PowerDNS#16537).
* So every address and every rule is first put in one 128-bit *key space* in which ``a.b.c.d``
  *is* ``::ffff:a.b.c.d``: IPv4 values are mapped. The rule ``10.0.0.0/8`` and the rule
  ``::ffff:10.0.0.0/104`` are the same interval there, and ``10.1.2.3`` and ``::ffff:10.1.2.3``
  get the same answer from every method, whatever the rules. An IPv6 network is the same
  interval as always, so one that contains the mapped range ``::ffff:0:0/96`` contains the IPv4
  addresses too: ``::/0`` is every address (block ``0.0.0.0/0`` to refuse all of IPv4 only).
* Other IPv6 forms that embed an IPv4 address -- IPv4-compatible ``::a.b.c.d`` (deprecated, RFC
  4291 section 2.5.5.1), NAT64 ``64:ff9b::a.b.c.d`` (RFC 6052), 6to4 ``2002:aabb:ccdd::/48``,
  Teredo ``2001::/32`` -- are *other addresses*: traffic from them comes from an IPv6 host (a
  translator, a tunnel end, or whoever configured that address); a kernel never re-spells an
  IPv4 peer that way. An IPv4 rule does not match them; a rule for their IPv6 prefix does
  (block ``64:ff9b::/96`` to refuse a NAT64 range). Reading them as IPv4 would let an IPv6 host
  that picks such an address borrow an IPv4 allow rule.
* Zone ids (``fe80::1%eth0``) are refused with ``ValueError``, in rules and in addresses: a rule
  cannot say which link it means, and dropping the zone silently would make hosts on two links
  one. Strip it yourself (``ipaddress.IPv6Address(int(addr))``) when "any link" is meant.
* Parsing is ``ipaddress``'s: strict dotted quads (no ``127.1``, ``0177.0.0.1`` or
  ``2130706433``, the parser confusion behind CVE-2024-29415 in ``ip``), hex in any case.

How a question is answered
--------------------------
The rules are compiled once into sorted *boundaries* in the key space: the blocked set (the
blocked rules, plus everything outside the allow-list when there is one) is a union of disjoint
intervals ``[start, end)``, and a key is blocked exactly when an odd number of boundaries is
``<=`` it (its *rank* is odd). ``is_blocked`` bisects that list of Python ints.

``is_blocked_many`` looks every key up in a table of 2**16 buckets -- one per /16 of IPv4 for
mapped keys, one per top 16 bits for the rest of the space -- that answers each key whose bucket
no boundary cuts. A cut IPv4 /16 has a second-level row of 256 /24 buckets, and a cut /24 a leaf
of its 256 addresses' answers (built from the boundaries by a running parity, up to
``_MAX_V4_LEAVES`` leaves; past that, a key in a cut /24 is found by ``searchsorted`` among the
IPv4 boundaries). The bucket of every key is computed without ``np.where`` (a product with the
"mapped" mask chooses between the two 16-bit fields, several times cheaper). A key in another
cut bucket is ranked among
that bucket's own boundaries (contiguous in the sorted list, usually two or four), compared one
by one on (high, low) ``uint64`` halves; a bucket with many is searched (``searchsorted`` on the
high halves, then on the low halves among equal highs). Every path reads the same boundaries;
``decide`` looks the most specific rule up per prefix length instead, and a property test
checks all of them against a naive model.
"""

from __future__ import annotations

import contextlib
import ipaddress
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from typing import Final, TypeAlias

import attrs
import numpy as np
from numpy.typing import NDArray

from ..net import IPAddress

__all__ = ["AccessControlList", "AclDecision", "IPNetwork", "Rule"]

IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
"""Either kind of IP network."""

Rule: TypeAlias = str | IPAddress | IPNetwork
"""What an ACL rule may be given as: a string (``"10.0.0.0/8"``, ``"::1"``) or an ``ipaddress``
address or network object."""

_V4_MAPPED: Final = 0xFFFF << 32  # ::ffff:0.0.0.0, the key of IPv4 address 0
_KEY_BITS: Final = 128
_MAX_KEY: Final = (1 << _KEY_BITS) - 1
_BUCKET_BITS: Final = 16
_BUCKETS: Final = 1 << _BUCKET_BITS
_V4_SHIFT: Final = 32 - _BUCKET_BITS  # a mapped key's bucket: the top 16 bits of its IPv4 value
_V6_SHIFT: Final = _KEY_BITS - _BUCKET_BITS  # any other key's bucket: its top 16 bits
_ALLOWED, _BLOCKED, _CUT = 0, 1, 2  # bucket states
_FEW_TIES: Final = 4  # boundaries sharing a key's high half that _rank compares one by one
_FEW_BOUNDS: Final = 6  # boundaries in a bucket that are compared one by one, not searched
# Third level for IPv4: cut /24 buckets get a leaf of 256 addresses' states, up to this many
# leaves (256 bytes each: 4 MiB); past it, keys in cut /24 buckets are searched instead.
_MAX_V4_LEAVES: Final = 1 << 14
# Bytes 8..11 of a key, as the third native-order uint32 of a row: 00 00 ff ff when mapped.
_MAPPED_WORD: Final = np.frombuffer(b"\0\0\xff\xff", dtype=np.uint32)[0]
_BUCKETS_INT32: Final = np.int32(_BUCKETS)
_ADDRESS_TYPES: Final = "str, ipaddress.IPv4Address or ipaddress.IPv6Address"


# --- parsing ---------------------------------------------------------------------------------


def _parse_rule(which: str, rule: object) -> IPNetwork:
    """``rule`` as a network; ``ValueError``/``TypeError`` naming it if it is not one."""
    prefix = f"AccessControlList: {which} rule {rule!r}"
    if isinstance(rule, ipaddress.IPv4Interface | ipaddress.IPv6Interface):
        raise TypeError(f"{prefix} is an interface (address and network); pass .ip or .network")
    network: IPNetwork
    if isinstance(rule, ipaddress.IPv4Network | ipaddress.IPv6Network):
        network = rule
    elif isinstance(rule, ipaddress.IPv4Address):
        network = ipaddress.IPv4Network(rule)
    elif isinstance(rule, ipaddress.IPv6Address):
        network = ipaddress.IPv6Network(rule)
    elif isinstance(rule, str):
        if "%" in rule:
            raise ValueError(f"{prefix} has a zone id; rules match addresses without zones")
        try:
            network = ipaddress.ip_network(rule)
        except ValueError as exc:
            hint = ""
            with contextlib.suppress(ValueError):
                hint = f" (did you mean {ipaddress.ip_network(rule, strict=False)}?)"
            raise ValueError(f"{prefix} is not an IP address or CIDR network: {exc}{hint}") from exc
    else:
        raise TypeError(f"{prefix} must be a str or an ipaddress address or network object")
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.scope_id:
        raise ValueError(f"{prefix} has a zone id; rules match addresses without zones")
    return network


def _rules(which: str, rules: object) -> tuple[IPNetwork, ...]:
    # A network is iterable (over its addresses): one rule, not a list of them.
    single = str | bytes | bytearray | ipaddress.IPv4Network | ipaddress.IPv6Network
    if isinstance(rules, single) or not isinstance(rules, Iterable):
        raise TypeError(
            f"AccessControlList: {which} must be an iterable of rules (put a single rule in a "
            f"list), got {rules!r}"
        )
    return tuple(_parse_rule(which, rule) for rule in rules)


def _blocked_rules(rules: Iterable[Rule]) -> tuple[IPNetwork, ...]:
    return _rules("blocked", rules)


def _allowed_rules(rules: Iterable[Rule] | None) -> tuple[IPNetwork, ...] | None:
    return None if rules is None else _rules("allowed", rules)


def _address_key(ip: object, caller: str) -> int:
    """The key of one address: its 128-bit value, IPv4 mapped (``::ffff:a.b.c.d``)."""
    if type(ip) is ipaddress.IPv4Address:
        return int(ip) | _V4_MAPPED
    if type(ip) is ipaddress.IPv6Address and ip.scope_id is None:
        return int(ip)
    return _address_key_slow(ip, caller)


def _address_key_slow(ip: object, caller: str) -> int:
    if isinstance(ip, str):
        if "%" in ip:
            raise ValueError(
                f"AccessControlList.{caller}: {ip!r} has a zone id; an ACL matches addresses "
                "without zones (strip it if any link is meant)"
            )
        try:
            ip = ipaddress.ip_address(ip)
        except ValueError as exc:
            raise ValueError(f"AccessControlList.{caller}: {ip!r} is not an IP address") from exc
    if isinstance(ip, ipaddress.IPv4Interface | ipaddress.IPv6Interface):
        raise TypeError(f"AccessControlList.{caller}: {ip!r} is an interface; pass its .ip")
    if isinstance(ip, ipaddress.IPv4Address):
        return int(ip) | _V4_MAPPED
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id is not None:
            raise ValueError(
                f"AccessControlList.{caller}: {ip!r} has a zone id; an ACL matches addresses "
                "without zones (strip it with ipaddress.IPv6Address(int(addr)) if any link is "
                "meant)"
            )
        return int(ip)
    raise TypeError(f"AccessControlList.{caller}: expected {_ADDRESS_TYPES}, got {ip!r}")


def _key_range(network: IPNetwork) -> tuple[int, int]:
    """First and last key of ``network``, inclusive."""
    first, last = int(network.network_address), int(network.broadcast_address)
    if network.version == 4:
        return first | _V4_MAPPED, last | _V4_MAPPED
    return first, last


def _key_prefix(network: IPNetwork) -> int:
    return network.prefixlen + (96 if network.version == 4 else 0)


# --- compiling the rules ---------------------------------------------------------------------


def _merge(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Inclusive ranges merged into sorted, disjoint, non-adjacent ones."""
    merged: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            if last > merged[-1][1]:
                merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return merged


def _complement(merged: list[tuple[int, int]]) -> list[tuple[int, int]]:
    gaps: list[tuple[int, int]] = []
    following = 0
    for first, last in merged:
        if first > following:
            gaps.append((following, first - 1))
        following = last + 1
    if following <= _MAX_KEY:
        gaps.append((following, _MAX_KEY))
    return gaps


def _boundaries(blocked: tuple[IPNetwork, ...], allowed: tuple[IPNetwork, ...] | None) -> list[int]:
    """Sorted keys where the answer flips; a key is blocked iff an odd number are ``<=`` it."""
    ranges = [_key_range(rule) for rule in blocked]
    if allowed is not None:
        ranges += _complement(_merge(_key_range(rule) for rule in allowed))
    bounds: list[int] = []
    for first, last in _merge(ranges):
        bounds.append(first)
        if last < _MAX_KEY:
            bounds.append(last + 1)
    return bounds


def _bucket_states(
    bounds: list[int], base: int, shift: int, count: int = _BUCKETS
) -> NDArray[np.int8]:
    """State of each bucket ``[base + i << shift, base + (i + 1) << shift)``, ``i < count``:
    ``_ALLOWED`` or ``_BLOCKED`` throughout, or ``_CUT`` by a boundary inside it."""
    size = 1 << shift
    region_end = base + (count << shift)
    states = np.full(count, _ALLOWED, dtype=np.int8)
    # Blocked intervals are [bounds[0], bounds[1]), [bounds[2], bounds[3]), ...; the last one
    # may run to the end of the key space. Visit those that overlap the region.
    index = bisect_right(bounds, base)
    index -= index & 1  # back to the start of the interval that holds base, if any
    while index < len(bounds) and bounds[index] < region_end:
        first = max(bounds[index], base) - base
        end = (bounds[index + 1] if index + 1 < len(bounds) else _MAX_KEY + 1) - base
        end = min(end, region_end - base)
        index += 2
        if end <= 0:
            continue
        full_from, full_to = -(-first // size), end // size
        if full_from < full_to:
            states[full_from:full_to] = _BLOCKED
        if first % size:
            states[first // size] = _CUT
        if end % size:
            states[end // size] = _CUT
    return states


def _v4_leaves(
    cut_v4: NDArray[np.intp],
    v4_table: NDArray[np.int8],
    v4_bounds: NDArray[np.uint32],
    rank_base: int,
) -> tuple[NDArray[np.int32] | None, NDArray[np.int8]]:
    """The third IPv4 level: for each cut /24 of ``v4_table`` (rows of 256 /24 states, one row
    per cut /16 of ``cut_v4``), a leaf of its 256 addresses' states, ``_BLOCKED`` or
    ``_ALLOWED``. Returns the leaf index of each ``v4_table`` entry (-1: no leaf) and the leaves,
    flat; ``(None, empty)`` when there would be more than ``_MAX_V4_LEAVES``.

    An address is blocked when an odd number of boundaries (``rank_base`` below the mapped
    range, ``v4_bounds`` in it) are ``<=`` it: a leaf starts from the parity of the boundaries
    below its /24 and toggles at each boundary inside it (a running sum).
    """
    cut = np.flatnonzero(v4_table == _CUT)
    if len(cut) > _MAX_V4_LEAVES:
        return None, np.zeros(0, dtype=np.int8)
    leaf_row = np.full(len(v4_table), -1, dtype=np.int32)
    if not len(cut):
        return leaf_row, np.zeros(0, dtype=np.int8)
    leaf_row[cut] = np.arange(len(cut), dtype=np.int32)
    # The /24 of each leaf, as an IPv4 value shifted right by 8 (ascending, as ``cut`` is).
    slash24 = (cut_v4[cut >> 8].astype(np.uint32) << np.uint32(8)) | (cut & 0xFF).astype(np.uint32)
    below = rank_base + np.searchsorted(v4_bounds, slash24 << np.uint32(8), side="left")
    toggles = np.zeros((len(cut), 256), dtype=np.int32)
    inside = np.searchsorted(slash24, v4_bounds >> np.uint32(8))
    inside[inside == len(cut)] = 0
    hit = np.flatnonzero(slash24[inside] == v4_bounds >> np.uint32(8))
    np.add.at(toggles, (inside[hit], v4_bounds[hit] & 0xFF), 1)
    parity = (below[:, None] + np.cumsum(toggles, axis=1)) & 1
    leaves = np.where(parity == 1, _BLOCKED, _ALLOWED).astype(np.int8).reshape(-1)
    return leaf_row, leaves


def _split_keys(bounds: list[int]) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    high = np.array([bound >> 64 for bound in bounds], dtype=np.uint64)
    low = np.array([bound & 0xFFFF_FFFF_FFFF_FFFF for bound in bounds], dtype=np.uint64)
    return high, low


def _rows_of(addrs: object) -> NDArray[np.uint8]:
    """``addrs`` as a C-contiguous ``(n, 16)`` uint8 array of keys (IPv4 mapped)."""
    if isinstance(addrs, memoryview):  # a buffer of rows, as an array is (not iterable in 2-D)
        addrs = np.asarray(addrs)
    if isinstance(addrs, np.ndarray) and (addrs.dtype == np.uint8 or addrs.ndim != 1):
        if addrs.dtype != np.uint8:
            raise TypeError(
                f"AccessControlList.is_blocked_many: an address array must have dtype uint8, "
                f"got {addrs.dtype}"
            )
        if addrs.ndim != 2 or addrs.shape[1] != 16:
            raise ValueError(
                "AccessControlList.is_blocked_many: an address array must have shape (n, 16) "
                f"(one IPv6-form address per row), got {addrs.shape}"
            )
        return np.ascontiguousarray(addrs)
    if isinstance(addrs, str | bytes | bytearray) or not isinstance(addrs, Iterable):
        raise TypeError(
            "AccessControlList.is_blocked_many: expected a sequence of addresses or an (n, 16) "
            f"uint8 array, got {addrs!r}"
        )
    keys = [_address_key(ip, "is_blocked_many") for ip in addrs]
    packed = b"".join([key.to_bytes(16, "big") for key in keys])
    return np.frombuffer(packed, dtype=np.uint8).reshape(len(keys), 16)


# --- the public values -----------------------------------------------------------------------


@attrs.frozen
class AclDecision:
    """What an :class:`AccessControlList` decided for one address, and why (for audit logs).

    ``rule`` is the most specific blocked rule that matched when ``blocked``; when not
    ``blocked``, the most specific allowed rule that matched (``None`` without an allow-list).
    ``blocked`` with ``rule`` ``None`` means the address is on no rule of the allow-list.
    """

    address: IPAddress
    blocked: bool
    rule: IPNetwork | None

    @property
    def reason(self) -> str:
        """The decision in words: ``"blocked by rule 10.0.0.0/8"``, ``"not in the allow-list"``,
        ``"allowed by rule ::1/128"`` or ``"no rule matched"``."""
        if self.rule is not None:
            return f"{'blocked' if self.blocked else 'allowed'} by rule {self.rule}"
        return "not in the allow-list" if self.blocked else "no rule matched"


_RuleIndex: TypeAlias = list[tuple[int, dict[int, IPNetwork]]]


def _rule_index(rules: Iterable[IPNetwork]) -> _RuleIndex:
    """Per key prefix length, longest first: masked key -> the first rule of that network."""
    by_length: dict[int, dict[int, IPNetwork]] = {}
    for rule in rules:
        by_length.setdefault(_key_prefix(rule), {}).setdefault(_key_range(rule)[0], rule)
    return [
        (_MAX_KEY ^ ((1 << (_KEY_BITS - length)) - 1), by_length[length])
        for length in sorted(by_length, reverse=True)
    ]


def _most_specific(index: _RuleIndex, key: int) -> IPNetwork | None:
    for mask, networks in index:
        rule = networks.get(key & mask)
        if rule is not None:
            return rule
    return None


@attrs.frozen
class AccessControlList:
    """Blocked and allowed addresses and CIDR networks, matched across IPv4 and IPv6 spellings.

    ``blocked`` and ``allowed`` are iterables of rules: strings (``"10.0.0.0/8"``,
    ``"2001:db8::/32"``, ``"192.0.2.7"``) or ``ipaddress`` address or network objects. A bad
    rule is a ``ValueError`` (a wrong type a ``TypeError``) naming it; a network with host bits
    set (``"10.0.0.1/8"``) is a bad rule. An address is blocked when it matches a blocked
    rule, or when ``allowed`` is given and it matches none of it: ``allowed=None`` (the
    default) means no allow-list, and ``allowed=()`` blocks everything.

    IPv4 and IPv4-mapped IPv6 (``::ffff:a.b.c.d``) are the same address for every rule and every
    method, both ways, for addresses and networks: ``10.0.0.0/8`` blocks ``::ffff:10.1.2.3``,
    and ``::ffff:10.0.0.0/104`` blocks ``10.1.2.3``. Other IPv6 forms embedding IPv4 (``::a.b.c.d``,
    ``64:ff9b::a.b.c.d``, 6to4, Teredo) are distinct IPv6 addresses. Zone ids are refused.
    """

    blocked: tuple[IPNetwork, ...] = attrs.field(default=(), converter=_blocked_rules)
    """The blocked rules, as networks (an address is a /32 or /128), in the order given."""
    allowed: tuple[IPNetwork, ...] | None = attrs.field(default=None, converter=_allowed_rules)
    """The allow-list as networks, or ``None`` for none."""

    _bounds: list[int] = attrs.field(init=False, repr=False, eq=False)
    _bounds_high: NDArray[np.uint64] = attrs.field(init=False, repr=False, eq=False)
    _bounds_low: NDArray[np.uint64] = attrs.field(init=False, repr=False, eq=False)
    _table: NDArray[np.int8] = attrs.field(init=False, repr=False, eq=False)
    _v6_first: NDArray[np.intp] = attrs.field(init=False, repr=False, eq=False)
    _v4_row: NDArray[np.intp] = attrs.field(init=False, repr=False, eq=False)
    _v4_table: NDArray[np.int8] = attrs.field(init=False, repr=False, eq=False)
    _v4_bounds: NDArray[np.uint32] = attrs.field(init=False, repr=False, eq=False)
    _v4_rank_base: int = attrs.field(init=False, repr=False, eq=False)
    _v4_leaf_row: NDArray[np.int32] | None = attrs.field(init=False, repr=False, eq=False)
    _v4_leaves: NDArray[np.int8] = attrs.field(init=False, repr=False, eq=False)
    _blocked_index: _RuleIndex = attrs.field(init=False, repr=False, eq=False)
    _allowed_index: _RuleIndex = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        bounds = _boundaries(self.blocked, self.allowed)
        high, low = _split_keys(bounds)
        table = np.concatenate(
            [
                _bucket_states(bounds, _V4_MAPPED, _V4_SHIFT),  # mapped keys: per IPv4 /16
                _bucket_states(bounds, 0, _V6_SHIFT),  # every other key: per top 16 bits
            ]
        )
        # Index of the first boundary of each top-16-bit bucket (and the end of the last).
        bucket_starts = np.arange(_BUCKETS, dtype=np.uint64) << np.uint64(_V6_SHIFT - 64)
        v6_first = np.searchsorted(high, bucket_starts, side="left")
        v6_first = np.append(v6_first, len(bounds))
        # Second level for IPv4: each cut /16 bucket gets a row of 256 /24 buckets.
        cut_v4 = np.flatnonzero(table[:_BUCKETS] == _CUT)
        v4_row = np.full(_BUCKETS, -1, dtype=np.intp)
        v4_row[cut_v4] = np.arange(len(cut_v4))
        v4_table = np.concatenate(
            [np.zeros(0, dtype=np.int8)]
            + [
                _bucket_states(bounds, _V4_MAPPED + (int(b) << _V4_SHIFT), _V4_SHIFT - 8, 256)
                for b in cut_v4
            ]
        )
        # Boundaries inside the mapped range, as IPv4 values: a mapped key's rank is the number
        # of boundaries below the range plus a search among these.
        v4_bounds = np.array(
            [b - _V4_MAPPED for b in bounds if _V4_MAPPED <= b <= _V4_MAPPED | 0xFFFF_FFFF],
            dtype=np.uint32,
        )
        rank_base = bisect_left(bounds, _V4_MAPPED)
        leaf_row, leaves = _v4_leaves(cut_v4, v4_table, v4_bounds, rank_base)
        for name, value in (
            ("_bounds", bounds),
            ("_bounds_high", high),
            ("_bounds_low", low),
            ("_table", table),
            ("_v6_first", v6_first),
            ("_v4_row", v4_row),
            ("_v4_table", v4_table),
            ("_v4_bounds", v4_bounds),
            ("_v4_rank_base", rank_base),
            ("_v4_leaf_row", leaf_row),
            ("_v4_leaves", leaves),
            ("_blocked_index", _rule_index(self.blocked)),
            ("_allowed_index", _rule_index(self.allowed or ())),
        ):
            object.__setattr__(self, name, value)

    def is_blocked(self, ip: str | IPAddress, /) -> bool:
        """Whether ``ip`` (a string or an ``ipaddress`` address) is refused.

        ``ValueError`` for a string that is not an address or has a zone id (``fe80::1%eth0``),
        ``TypeError`` for anything else that is not an address.
        """
        return bisect_right(self._bounds, _address_key(ip, "is_blocked")) & 1 == 1

    def is_blocked_many(
        self, addrs: Sequence[str | IPAddress] | NDArray[np.uint8], /
    ) -> NDArray[np.bool_]:
        """:meth:`is_blocked` for a whole batch, vectorised: a bool array, one answer per address.

        ``addrs`` is a sequence of strings or ``ipaddress`` addresses, or an ``(n, 16)`` uint8
        array of addresses in IPv6 form, IPv4 mapped (what ``PacketInfo.src`` holds). The array
        form is the fast one; a sequence is converted address by address first.
        """
        rows = _rows_of(addrs)
        # Native-order words, only compared with same-order constants: bytes 0..7 zero and
        # bytes 8..11 00 00 ff ff.
        mapped = (rows.view(np.uint64)[:, 0] == 0) & (rows.view(np.uint32)[:, 2] == _MAPPED_WORD)
        halves = rows.view(">u2")
        # The bucket: the top 16 bits of the IPv4 address, or (after those) of the key. A
        # product with the mask chooses, in cheap whole-column passes (np.where costs more).
        bucket = halves[:, 0].astype(np.int32)
        bucket += _BUCKETS_INT32
        mapped_part = halves[:, 6].astype(np.int32)
        mapped_part -= bucket
        mapped_part *= mapped
        bucket += mapped_part
        states = self._table[bucket]
        blocked: NDArray[np.bool_] = states == _BLOCKED
        cut = states == _CUT
        if cut.any():
            v4 = np.flatnonzero(cut & mapped)
            if v4.size:
                self._blocked_ipv4(rows, bucket, v4, blocked)
            v6 = np.flatnonzero(cut & ~mapped)
            if v6.size:
                self._blocked_other(rows, bucket, v6, blocked)
        return blocked

    def _blocked_other(
        self,
        rows: NDArray[np.uint8],
        bucket: NDArray[np.int32],
        keys: NDArray[np.intp],
        blocked: NDArray[np.bool_],
    ) -> None:
        """Answer the other keys of cut buckets: the boundaries of a bucket are contiguous in
        the sorted list, so a key's rank is the bucket's first index plus how many of the
        bucket's boundaries are ``<=`` it -- counted step by step where there are few."""
        halves = rows[keys].view(">u8").astype(np.uint64)
        high, low = halves[:, 0], halves[:, 1]
        top = bucket[keys] - _BUCKETS
        first = self._v6_first[top]
        count = self._v6_first[top + 1] - first
        rank = first.copy()
        few = np.flatnonzero(count <= _FEW_BOUNDS)
        for step in range(_FEW_BOUNDS):
            few = few[count[few] > step]
            if not few.size:
                break
            index = first[few] + step
            bound_high, bound_low = self._bounds_high[index], self._bounds_low[index]
            rank[few] += (bound_high < high[few]) | (
                (bound_high == high[few]) & (bound_low <= low[few])
            )
        many = np.flatnonzero(count > _FEW_BOUNDS)
        if many.size:
            rank[many] = self._rank(high[many], low[many])
        blocked[keys] = (rank & 1).astype(bool)

    def _blocked_ipv4(
        self,
        rows: NDArray[np.uint8],
        bucket: NDArray[np.int32],
        v4: NDArray[np.intp],
        blocked: NDArray[np.bool_],
    ) -> None:
        """Answer the mapped keys ``v4`` of cut /16 buckets: per /24, then by a search."""
        sub = (self._v4_row[bucket[v4]] << 8) | rows[v4, 14]
        states = self._v4_table[sub]
        blocked[v4] = states == _BLOCKED
        in_cut = states == _CUT
        cut = v4[in_cut]
        if not cut.size:
            return
        leaf_row = self._v4_leaf_row
        if leaf_row is not None:  # third level: the leaf of the /24, per address
            leaf = (leaf_row[sub[in_cut]] << 8) | rows[cut, 15]
            blocked[cut] = self._v4_leaves[leaf] == _BLOCKED
            return
        ipv4 = rows[cut].view(">u4")[:, 3].astype(np.uint32)
        rank = self._v4_rank_base + np.searchsorted(self._v4_bounds, ipv4, "right")
        blocked[cut] = (rank & 1).astype(bool)

    def _rank(self, high: NDArray[np.uint64], low: NDArray[np.uint64]) -> NDArray[np.intp]:
        """How many boundaries are ``<=`` each key, comparing (high, low) lexicographically."""
        end = np.searchsorted(self._bounds_high, high, side="right")
        rank = end.copy()
        # Most keys share their high half with no boundary: then the rank is ``end``.
        tied = np.flatnonzero((end > 0) & (self._bounds_high[end - 1] == high))
        if not tied.size:
            return rank
        first = end.copy()
        first[tied] = np.searchsorted(self._bounds_high, high[tied], side="left")
        rank[tied] = first[tied]
        ties = end - first
        # Boundaries with the same high half as the key: compare the low halves. A few ties
        # (a network longer than /64 has both ends in one /64) one step at a time...
        few = ties <= _FEW_TIES
        for step in range(_FEW_TIES):
            tied = np.flatnonzero(few & (ties > step))
            if not tied.size:
                break
            rank[tied] += self._bounds_low[first[tied] + step] <= low[tied]
        # ...and groups of more (high == 0: :: and IPv4-compatible rules) by a search each.
        several = np.flatnonzero(~few)
        if several.size:
            ordered = several[np.argsort(first[several], kind="stable")]
            splits = np.flatnonzero(np.diff(first[ordered])) + 1
            for group in np.split(ordered, splits):
                start, stop = first[group[0]], end[group[0]]
                rank[group] += np.searchsorted(self._bounds_low[start:stop], low[group], "right")
        return rank

    def decide(self, ip: str | IPAddress, /) -> AclDecision:
        """The decision for ``ip`` with the rule behind it (see :class:`AclDecision`).

        ``decide(ip).blocked == is_blocked(ip)``; same errors as :meth:`is_blocked`.
        """
        key = _address_key(ip, "decide")
        address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
        rule = _most_specific(self._blocked_index, key)
        if rule is not None:
            return AclDecision(address, True, rule)
        if self.allowed is None:
            return AclDecision(address, False, None)
        rule = _most_specific(self._allowed_index, key)
        return AclDecision(address, rule is None, rule)
