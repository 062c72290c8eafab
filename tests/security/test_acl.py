"""AccessControlList: rules and their errors, blocked and allowed semantics, the dual-stack
bypass class (IPv4 <-> IPv4-mapped IPv6, both ways, addresses and networks), zone ids,
``decide``, and ``is_blocked_many`` against ``is_blocked`` and a naive model (hypothesis)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TypeAlias
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from dsexec.net import IPAddress
from dsexec.security import AccessControlList, AclDecision
from dsexec.security import _acl as acl_module

V4, V6 = ipaddress.IPv4Address, ipaddress.IPv6Address
N4, N6 = ipaddress.IPv4Network, ipaddress.IPv6Network
Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network


def mapped(address: str) -> str:
    return f"::ffff:{address}"


def rows(addresses: Sequence[str | IPAddress]) -> NDArray[np.uint8]:
    """The ``(n, 16)`` uint8 form ``is_blocked_many`` takes (IPv4 mapped)."""
    packed = []
    for text in addresses:
        address = ipaddress.ip_address(text)
        packed.append(
            address.packed
            if address.version == 6
            else ipaddress.IPv6Address(f"::ffff:{address}").packed
        )
    return np.frombuffer(b"".join(packed), dtype=np.uint8).reshape(len(packed), 16)


def all_answers(acl: AccessControlList, addresses: Sequence[str]) -> list[bool]:
    """``is_blocked`` for each address, after checking every other way of asking agrees."""
    single = [acl.is_blocked(address) for address in addresses]
    assert [acl.decide(address).blocked for address in addresses] == single
    assert acl.is_blocked_many(list(addresses)).tolist() == single
    assert acl.is_blocked_many(rows(addresses)).tolist() == single
    return single


# --- rules -----------------------------------------------------------------------------------


def test_rules_are_normalised_to_networks_in_order() -> None:
    acl = AccessControlList(
        blocked=["10.0.0.0/8", V4("192.0.2.7"), N6("2001:db8::/32"), "::1"], allowed=[V6("::2")]
    )
    assert acl.blocked == (N4("10.0.0.0/8"), N4("192.0.2.7/32"), N6("2001:db8::/32"), N6("::1/128"))
    assert acl.allowed == (N6("::2/128"),)


def test_the_defaults_block_nothing() -> None:
    acl = AccessControlList()
    assert (acl.blocked, acl.allowed) == ((), None)
    assert all_answers(acl, ["0.0.0.0", "255.255.255.255", "::", "::1", "ffff::1"]) == [False] * 5


def test_acls_with_the_same_rules_are_equal_and_hash_alike() -> None:
    first = AccessControlList(blocked=["10.0.0.0/8"], allowed=["::/0"])
    second = AccessControlList(blocked=[N4("10.0.0.0/8")], allowed=("::/0",))
    assert first == second
    assert hash(first) == hash(second)
    assert first != AccessControlList(blocked=["10.0.0.0/8"])


@pytest.mark.parametrize(
    "rule",
    ["10.0.0.0/33", "10.0.0", "127.1", "0177.0.0.1", "2130706433", " 10.0.0.0/8", "10.0.0.0/8\n",
     "1.2.3.04", "::ffff:1.2.3.04", "[::1]", "", "example.com", "2001:db8::/129", "::g"],
)  # fmt: skip
def test_a_bad_rule_is_a_value_error_naming_it(rule: str) -> None:
    with pytest.raises(ValueError, match="blocked rule") as caught:
        AccessControlList(blocked=[rule])
    assert repr(rule) in str(caught.value)


def test_a_network_with_host_bits_set_is_refused_with_a_hint() -> None:
    hint = r"allowed rule '10\.0\.0\.1/8'.*did you mean 10\.0\.0\.0/8"
    with pytest.raises(ValueError, match=hint):
        AccessControlList(allowed=["10.0.0.1/8"])


@pytest.mark.parametrize("rule", ["fe80::1%eth0", "fe80::%eth0/64"])
def test_a_rule_with_a_zone_id_is_refused(rule: str) -> None:
    with pytest.raises(ValueError, match="zone id"):
        AccessControlList(blocked=[rule])


def test_a_zoned_address_object_as_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="zone id"):
        AccessControlList(blocked=[V6("fe80::1%eth0")])


@pytest.mark.parametrize(
    "rule", [167772160, b"10.0.0.0/8", None, 1.5, ipaddress.IPv4Interface("10.0.0.1/8")]
)
def test_a_rule_of_the_wrong_type_is_a_type_error_naming_it(rule: object) -> None:
    with pytest.raises(TypeError, match="blocked rule") as caught:
        AccessControlList(blocked=[rule])  # type: ignore[list-item]
    assert repr(rule) in str(caught.value)


@pytest.mark.parametrize("rules", ["10.0.0.0/8", b"10.0.0.0/8", 10, N4("10.0.0.0/8")])
def test_rules_must_be_an_iterable_of_rules_not_one_rule(rules: object) -> None:
    with pytest.raises(TypeError, match="allowed must be an iterable of rules"):
        AccessControlList(allowed=rules)  # type: ignore[arg-type]


# --- semantics -------------------------------------------------------------------------------


def test_an_address_in_a_blocked_network_is_blocked() -> None:
    acl = AccessControlList(blocked=["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"])
    answers = all_answers(
        acl,
        ["10.0.0.0", "10.255.255.255", "9.255.255.255", "11.0.0.0", "192.0.2.7", "192.0.2.8",
         "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::", "2001:db7::1"],
    )  # fmt: skip
    assert answers == [True, True, False, False, True, False, True, True, False, False]


def test_with_an_allow_list_only_its_addresses_pass() -> None:
    acl = AccessControlList(allowed=["192.168.0.0/16", "2001:db8::/48"])
    answers = all_answers(acl, ["192.168.1.1", "192.169.0.0", "2001:db8::5", "2001:db8:1::", "::1"])
    assert answers == [False, True, False, True, True]


def test_a_blocked_rule_wins_over_an_allowed_one() -> None:
    acl = AccessControlList(blocked=["192.168.66.0/24"], allowed=["192.168.0.0/16"])
    assert all_answers(acl, ["192.168.66.6", "192.168.67.1"]) == [True, False]


def test_an_empty_allow_list_blocks_everything() -> None:
    acl = AccessControlList(allowed=())
    everything = ["0.0.0.0", "127.0.0.1", "255.255.255.255", "::", "::1", mapped("1.2.3.4"),
                  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"]  # fmt: skip
    assert all_answers(acl, everything) == [True] * len(everything)
    assert acl.decide("::1").reason == "not in the allow-list"


def test_an_ipv4_rule_blocks_the_ipv4_mapped_form() -> None:
    acl = AccessControlList(blocked=["10.0.0.0/8", "203.0.113.9"])
    answers = all_answers(acl, [mapped("10.1.2.3"), mapped("203.0.113.9"), mapped("11.0.0.1")])
    assert answers == [True, True, False]


def test_an_ipv4_mapped_rule_blocks_the_ipv4_form() -> None:
    acl = AccessControlList(blocked=["::ffff:10.0.0.0/104", mapped("203.0.113.9")])
    answers = all_answers(acl, ["10.1.2.3", "203.0.113.9", "11.0.0.1", "203.0.113.10"])
    assert answers == [True, True, False, False]


def test_an_ipv4_allow_list_admits_the_mapped_form_and_back() -> None:
    # PowerDNS#16537: an allowed IPv4 client refused when it arrives IPv4-mapped.
    acl = AccessControlList(allowed=["192.0.2.0/24", "::ffff:198.51.100.0/120"])
    answers = all_answers(
        acl, ["192.0.2.1", mapped("192.0.2.1"), "198.51.100.1", mapped("198.51.100.1"), "10.0.0.1"]
    )
    assert answers == [False, False, False, False, True]


def test_the_mapped_form_is_matched_whatever_its_spelling() -> None:
    # CVE-2024-29415 (ip): "::fFFf:127.0.0.1" was not recognised as loopback.
    acl = AccessControlList(blocked=["127.0.0.0/8"])
    spellings = ["::fFFf:127.0.0.1", "::ffff:7f00:1", "0:0:0:0:0:ffff:7f00:0001", "::FFFF:7F00:1"]
    assert all_answers(acl, spellings) == [True] * 4


def test_other_forms_embedding_ipv4_are_distinct_ipv6_addresses() -> None:
    acl = AccessControlList(blocked=["10.0.0.0/8"])
    embedded = ["::10.0.0.1", "64:ff9b::10.0.0.1", "2002:a00:1::1", "::ffff:0:10.0.0.1"]
    assert all_answers(acl, embedded) == [False] * 4
    nat64 = AccessControlList(blocked=["10.0.0.0/8", "64:ff9b::/96"])
    assert all_answers(nat64, ["64:ff9b::10.0.0.1"]) == [True]


def test_an_ipv6_network_covering_the_mapped_range_covers_ipv4() -> None:
    every = AccessControlList(blocked=["::/0"])
    assert all_answers(every, ["1.2.3.4", "::1", mapped("1.2.3.4")]) == [True, True, True]
    ipv4_only = AccessControlList(blocked=["0.0.0.0/0"])
    assert all_answers(ipv4_only, ["1.2.3.4", mapped("1.2.3.4"), "::1", "::1.2.3.4"]) == [
        True, True, False, False
    ]  # fmt: skip


def test_networks_at_the_edges_of_the_key_space() -> None:
    acl = AccessControlList(blocked=["::/128", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"])
    answers = all_answers(acl, ["::", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
                                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"])  # fmt: skip
    assert answers == [True, False, False, True]
    allow_top = AccessControlList(allowed=["ffff::/16", "255.255.255.255"])
    assert all_answers(allow_top, ["ffff::1", "fffe::1", "255.255.255.255", "255.255.255.254"]) == [
        False, True, False, True
    ]  # fmt: skip


def test_rules_that_cut_one_bucket_many_times_are_searched_exactly() -> None:
    # Many boundaries inside one /16 of IPv4 and one /64 of IPv6: the slow path of the batch.
    v4_rules = [f"10.1.{i}.{j}" for i in range(0, 200, 7) for j in (1, 5, 9)]
    v6_rules = [f"2001:db8::{i:x}/128" for i in range(1, 40, 3)]
    acl = AccessControlList(blocked=v4_rules + v6_rules + ["::5/128", "::1.0.0.0/104"])
    probes = [f"10.1.{i}.{j}" for i in range(0, 200, 7) for j in range(0, 11)]
    probes += [f"2001:db8::{i:x}" for i in range(45)] + [f"::{i:x}" for i in range(9)]
    probes += ["::1.0.0.1", "::1.255.255.255", "::2.0.0.0"]
    expected = [
        any(ipaddress.ip_address(p) in ipaddress.ip_network(r) for r in acl.blocked) for p in probes
    ]
    assert all_answers(acl, probes) == expected


# --- addresses asked about -------------------------------------------------------------------


@pytest.mark.parametrize("address", ["fe80::1%eth0", "fe80::1%1"])
def test_an_address_string_with_a_zone_id_is_a_value_error(address: str) -> None:
    acl = AccessControlList(blocked=["fe80::/10"])
    with pytest.raises(ValueError, match="zone id"):
        acl.is_blocked(address)
    with pytest.raises(ValueError, match="zone id"):
        acl.is_blocked_many(["::1", address])
    with pytest.raises(ValueError, match="zone id"):
        acl.decide(address)


def test_a_zoned_address_object_is_a_value_error() -> None:
    acl = AccessControlList(blocked=["fe80::/10"])
    with pytest.raises(ValueError, match=r"zone id.*IPv6Address\(int\(addr\)\)"):
        acl.is_blocked(V6("fe80::1%eth0"))
    with pytest.raises(ValueError, match="zone id"):
        acl.is_blocked_many([V6("fe80::1%eth0")])


@pytest.mark.parametrize(
    "address", ["127.1", "0177.0.0.1", "2130706433", "", "1.2.3.4/32", "[::1]"]
)
def test_a_bad_address_string_is_a_value_error_naming_it(address: str) -> None:
    acl = AccessControlList()
    with pytest.raises(ValueError, match=r"is_blocked: .* is not an IP address") as caught:
        acl.is_blocked(address)
    assert repr(address) in str(caught.value)
    with pytest.raises(ValueError, match="is_blocked_many"):
        acl.is_blocked_many([address])


@pytest.mark.parametrize(
    "address", [2130706433, b"\x7f\x00\x00\x01", None, ipaddress.IPv4Interface("10.0.0.1/8")]
)
def test_an_address_of_the_wrong_type_is_a_type_error(address: object) -> None:
    acl = AccessControlList()
    with pytest.raises(TypeError, match="is_blocked"):
        acl.is_blocked(address)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="is_blocked_many"):
        acl.is_blocked_many([address])  # type: ignore[list-item]


def test_is_blocked_many_of_nothing_is_an_empty_bool_array() -> None:
    acl = AccessControlList(allowed=())
    empties: list[Sequence[str] | NDArray[np.uint8]] = [[], (), np.zeros((0, 16), np.uint8)]
    for empty in empties:
        answer = acl.is_blocked_many(empty)
        assert answer.dtype == np.bool_
        assert answer.shape == (0,)


def test_is_blocked_many_takes_a_non_contiguous_array() -> None:
    acl = AccessControlList(blocked=["10.0.0.0/8"])
    wide = np.zeros((2, 32), dtype=np.uint8)
    wide[:, :16] = rows(["10.0.0.1", "11.0.0.1"])
    assert acl.is_blocked_many(wide[:, :16]).tolist() == [True, False]


def test_is_blocked_many_takes_a_memoryview_of_rows_as_an_array() -> None:
    acl = AccessControlList(blocked=["10.0.0.0/8"])
    batch = rows(["10.0.0.1", "11.0.0.1"])
    assert acl.is_blocked_many(memoryview(batch)).tolist() == [True, False]  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"shape \(n, 16\)"):
        acl.is_blocked_many(memoryview(np.zeros((2, 4), np.uint8)))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("addrs", "error", "match"),
    [
        (np.zeros((3, 4), dtype=np.uint8), ValueError, r"shape \(n, 16\).*\(3, 4\)"),
        (np.zeros(16, dtype=np.uint8), ValueError, r"shape \(n, 16\).*\(16,\)"),
        (np.zeros((3, 16), dtype=np.int64), TypeError, "dtype uint8, got int64"),
        ("10.0.0.1", TypeError, "sequence of addresses"),
        (b"\x00" * 16, TypeError, "sequence of addresses"),
        (42, TypeError, "sequence of addresses"),
    ],
)
def test_is_blocked_many_rejects_what_is_not_a_batch_of_addresses(
    addrs: object, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        AccessControlList().is_blocked_many(addrs)  # type: ignore[arg-type]


def test_is_blocked_many_takes_ipaddress_objects_and_a_numpy_string_array() -> None:
    acl = AccessControlList(blocked=["10.0.0.0/8"])
    assert acl.is_blocked_many([V4("10.0.0.1"), V6("::ffff:10.0.0.2"), V6("::1")]).tolist() == [
        True, True, False
    ]  # fmt: skip
    assert acl.is_blocked_many(np.array(["10.0.0.1", "::1"])).tolist() == [True, False]


# --- decide ----------------------------------------------------------------------------------


def test_decide_names_the_most_specific_blocked_rule() -> None:
    acl = AccessControlList(blocked=["10.0.0.0/8", "::ffff:10.1.0.0/112", "10.1.2.0/24"])
    decision = acl.decide(mapped("10.1.2.3"))
    assert decision == AclDecision(V6(mapped("10.1.2.3")), True, N4("10.1.2.0/24"))
    assert decision.reason == "blocked by rule 10.1.2.0/24"
    assert acl.decide("10.1.3.3").rule == N6("::ffff:10.1.0.0/112")
    assert acl.decide("10.9.9.9").rule == N4("10.0.0.0/8")


def test_decide_explains_allowed_and_unmatched_addresses() -> None:
    acl = AccessControlList(allowed=["192.0.2.0/24", "192.0.2.128/25"])
    assert acl.decide("192.0.2.200").reason == "allowed by rule 192.0.2.128/25"
    assert acl.decide(V4("192.0.2.1")) == AclDecision(V4("192.0.2.1"), False, N4("192.0.2.0/24"))
    assert acl.decide("10.0.0.1") == AclDecision(V4("10.0.0.1"), True, None)
    assert AccessControlList().decide("::1").reason == "no rule matched"


# --- properties ------------------------------------------------------------------------------


def _v4_networks() -> st.SearchStrategy[Network]:
    return st.builds(
        lambda value, length: N4((value >> (32 - length) << (32 - length), length)),
        st.integers(0, 2**32 - 1),
        st.integers(0, 32),
    )


def _v6_networks() -> st.SearchStrategy[Network]:
    def network(value: int, length: int) -> Network:
        return N6((value >> (128 - length) << (128 - length), length))

    anywhere = st.builds(network, st.integers(0, 2**128 - 1), st.integers(0, 128))
    # Mapped networks (::ffff:a.b.c.d/96+p), and ones near or around the mapped range.
    near_mapped = st.builds(
        network, st.integers(0, 2**32 - 1).map(lambda v: (0xFFFF << 32) | v), st.integers(80, 128)
    )
    low = st.builds(network, st.integers(0, 2**48), st.integers(64, 128))
    return st.one_of(anywhere, near_mapped, low)


_networks = st.one_of(_v4_networks(), _v6_networks())


def _forms(address: IPAddress) -> list[IPAddress]:
    """The address and its other spelling, if it has one (IPv4 <-> IPv4-mapped)."""
    if isinstance(address, V4):
        return [address, V6(f"::ffff:{address}")]
    return [address] if address.ipv4_mapped is None else [address, address.ipv4_mapped]


def _model_matches(rule: Network, address: IPAddress) -> bool:
    """Naive model: some spelling of the address is in the rule or its IPv4/mapped twin."""
    rules: list[Network] = [rule]
    if isinstance(rule, N4):
        rules.append(N6(f"::ffff:{rule.network_address}/{96 + rule.prefixlen}"))
    elif rule.prefixlen >= 96 and rule.network_address.ipv4_mapped is not None:
        rules.append(N4(f"{rule.network_address.ipv4_mapped}/{rule.prefixlen - 96}"))
    return any(
        form.version == net.version and form in net for form in _forms(address) for net in rules
    )


def _model_blocked(
    blocked: list[Network], allowed: list[Network] | None, address: IPAddress
) -> bool:
    if any(_model_matches(rule, address) for rule in blocked):
        return True
    return allowed is not None and not any(_model_matches(rule, address) for rule in allowed)


@st.composite
def _addresses(draw: st.DrawFn, rules: list[Network]) -> IPAddress:
    """An address anywhere, or at / next to the edge of a rule, in either spelling."""
    near_a_rule = draw(st.booleans())
    if rules and near_a_rule:
        rule = draw(st.sampled_from(rules))
        edge = draw(st.sampled_from([int(rule.network_address), int(rule.broadcast_address)]))
        value = edge + draw(st.sampled_from([-1, 0, 1]))
        top = 2**32 - 1 if rule.version == 4 else 2**128 - 1
        address: IPAddress = ipaddress.ip_address(min(max(value, 0), top))
        if isinstance(rule, N4):
            address = V4(int(address))
    else:
        address = draw(
            st.one_of(
                st.integers(0, 2**32 - 1).map(V4),
                st.integers(0, 2**128 - 1).map(V6),
                st.integers(0, 2**32 - 1).map(lambda v: V6((0xFFFF << 32) | v)),
            )
        )
    return draw(st.sampled_from(_forms(address)))


@st.composite
def _cases(draw: st.DrawFn) -> tuple[list[Network], list[Network] | None, list[IPAddress]]:
    blocked = draw(st.lists(_networks, max_size=12))
    allowed = draw(st.one_of(st.none(), st.lists(_networks, max_size=6)))
    addresses = draw(st.lists(_addresses(blocked + (allowed or [])), min_size=1, max_size=30))
    return blocked, allowed, addresses


@settings(max_examples=150, deadline=None)
@given(_cases())
def test_every_method_agrees_with_the_naive_model(
    case: tuple[list[Network], list[Network] | None, list[IPAddress]],
) -> None:
    blocked, allowed, addresses = case
    acl = AccessControlList(blocked=blocked, allowed=allowed)
    expected = [_model_blocked(blocked, allowed, address) for address in addresses]
    assert [acl.is_blocked(address) for address in addresses] == expected
    assert [acl.decide(address).blocked for address in addresses] == expected
    assert acl.is_blocked_many(addresses).tolist() == expected
    assert acl.is_blocked_many(rows(addresses)).tolist() == expected


@settings(max_examples=60, deadline=None)
@given(_cases())
def test_an_address_and_its_mapped_form_always_get_the_same_answer(
    case: tuple[list[Network], list[Network] | None, list[IPAddress]],
) -> None:
    blocked, allowed, addresses = case
    acl = AccessControlList(blocked=blocked, allowed=allowed)
    for address in addresses:
        answers = {acl.is_blocked(form) for form in _forms(address)}
        assert len(answers) == 1, address


@settings(max_examples=25, deadline=None)
@given(st.lists(_networks, min_size=1, max_size=60), st.randoms(use_true_random=False))
def test_a_large_batch_matches_the_single_answers(blocked: list[Network], random: object) -> None:
    # Many addresses per ACL, most of them inside or next to rules: exercises the cut buckets.
    import random as random_module

    assert isinstance(random, random_module.Random)
    half = len(blocked) // 2
    acl = AccessControlList(blocked=blocked[:half], allowed=blocked[half:])
    addresses: list[IPAddress] = []
    for _ in range(250):
        rule = random.choice(blocked)
        offset = random.randrange(-2, min(rule.num_addresses, 2**40) + 2)
        value = int(rule.network_address) + offset
        if isinstance(rule, N4):
            addresses.append(V4(value % 2**32))
        else:
            addresses.append(V6(value % 2**128))
    single = [acl.is_blocked(address) for address in addresses]
    assert acl.is_blocked_many(rows(addresses)).tolist() == single


@settings(max_examples=40, deadline=None)
@given(st.lists(_v4_networks(), min_size=1, max_size=40), st.randoms(use_true_random=False))
def test_ipv4_leaves_and_the_search_past_their_limit_agree(
    blocked: list[Network], random: object
) -> None:
    # Keys in a cut /24 are answered from a leaf of 256 addresses; past _MAX_V4_LEAVES leaves
    # (a huge block list) they are searched instead. Both must give the single answers.
    import random as random_module

    assert isinstance(random, random_module.Random)
    addresses: list[IPAddress] = []
    for _ in range(200):
        rule = random.choice(blocked)
        offset = random.randrange(-300, min(rule.num_addresses, 2**20) + 300)
        addresses.append(V4((int(rule.network_address) + offset) % 2**32))
    with_leaves = AccessControlList(blocked=blocked)
    with mock.patch.object(acl_module, "_MAX_V4_LEAVES", 0):
        searched = AccessControlList(blocked=blocked)
    if with_leaves._v4_leaves.size:  # some /24 is cut: the other ACL searches instead
        assert searched._v4_leaf_row is None
    single = [with_leaves.is_blocked(address) for address in addresses]
    assert with_leaves.is_blocked_many(rows(addresses)).tolist() == single
    assert searched.is_blocked_many(rows(addresses)).tolist() == single


def _dense_rules(random: object, count: int) -> list[Network]:
    """Block-list-like rules: clusters of long IPv4 prefixes in a few /16s (many cut /24s),
    short IPv4 and IPv6 prefixes, and mapped IPv6 networks."""
    import random as random_module

    assert isinstance(random, random_module.Random)
    rules: list[Network] = []
    for _ in range(count):
        roll = random.random()
        if roll < 0.5:
            base = random.choice([0x0A000000, 0xC0A80000, random.getrandbits(32) & 0xFFFF0000])
            length = random.choice([16, 22, 24, 25, 26, 28, 30, 31, 32, 32, 32])
            value = (base | random.getrandbits(16)) >> (32 - length) << (32 - length)
            rules.append(N4((value, length)))
        elif roll < 0.7:
            length = random.randint(1, 32)
            rules.append(N4((random.getrandbits(32) >> (32 - length) << (32 - length), length)))
        elif roll < 0.8:
            length = random.randint(96, 128)
            value = ((0xFFFF << 32) | random.getrandbits(32)) >> (128 - length) << (128 - length)
            rules.append(N6((value, length)))
        else:
            length = random.randint(1, 128)
            rules.append(N6((random.getrandbits(128) >> (128 - length) << (128 - length), length)))
    return rules


@pytest.mark.parametrize("seed", range(12))
def test_large_dense_acls_answer_batches_as_single_addresses(seed: int) -> None:
    # Thousands of rules, a third of the addresses next to one: both the IPv4 leaves and the
    # search past their limit against the bisect of is_blocked.
    import random as random_module

    random = random_module.Random(seed)
    rules = _dense_rules(random, random.choice([50, 500, 3_000]))
    allowed = rules[len(rules) // 2 :] if seed % 3 == 0 else None
    blocked = rules[: len(rules) // 2] if allowed is not None else rules
    addresses: list[IPAddress] = []
    for _ in range(3_000):
        rule = random.choice(rules)
        offset = random.randrange(-300, min(rule.num_addresses, 2**24) + 300)
        value = int(rule.network_address) + offset
        addresses.append(V4(value % 2**32) if isinstance(rule, N4) else V6(value % 2**128))
    with_leaves = AccessControlList(blocked=blocked, allowed=allowed)
    with mock.patch.object(acl_module, "_MAX_V4_LEAVES", 0):
        searched = AccessControlList(blocked=blocked, allowed=allowed)
    single = [with_leaves.is_blocked(address) for address in addresses]
    assert with_leaves.is_blocked_many(rows(addresses)).tolist() == single
    assert searched.is_blocked_many(rows(addresses)).tolist() == single
