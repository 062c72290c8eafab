"""``AccessControlList.is_blocked_many`` beside a loop of ``is_blocked``, on the same addresses.

Run: ``.venv/bin/python benchmarks/bench_acl.py`` (``--quick`` for a smoke run). Each figure is
the best of several repetitions, and ratios compare figures measured in the same run (this
machine is shared and noisy: only paired ratios mean anything). Every batch answer is checked
against the loop's answers before anything is printed.

* The ACL: ``--rules`` (1,000) blocked networks, seeded random: 70 % IPv4 (/8 to /32, mostly /24
  and /32 as in real block lists), 30 % IPv6 (/16 to /128).
* The addresses: ``--addresses`` (100,000), 70 % IPv4, 30 % IPv6; a third drawn inside a rule
  (so a fair share is blocked and many fall in the table buckets that need a search).
* Peer: ``[acl.is_blocked(a) for a in addresses]`` over ``ipaddress`` objects, its cheapest input.
* ``is_blocked_many`` on the ``(n, 16)`` uint8 array (IPv4 mapped), the form packets arrive in;
  then on the list of ``ipaddress`` objects and on strings, which it has to convert one by one
  (strings are beside a loop over strings, since both parse them).
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from dsexec.net import IPAddress
from dsexec.security import AccessControlList

T = TypeVar("T")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def best_time(run: Callable[[], T], repeats: int) -> tuple[float, T]:
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    assert result is not None
    return best, result


def make_rules(count: int, rng: random.Random) -> list[Network]:
    rules: list[Network] = []
    for _ in range(count):
        if rng.random() < 0.7:
            length = rng.choice([8, 12, 16, 20, 22, 24, 24, 24, 28, 32, 32, 32])
            value = rng.getrandbits(32) >> (32 - length) << (32 - length)
            rules.append(ipaddress.IPv4Network((value, length)))
        else:
            length = rng.choice([16, 29, 32, 48, 56, 64, 64, 96, 128, 128])
            value = rng.getrandbits(128) >> (128 - length) << (128 - length)
            rules.append(ipaddress.IPv6Network((value, length)))
    return rules


def make_addresses(count: int, rules: Sequence[Network], rng: random.Random) -> list[IPAddress]:
    addresses: list[IPAddress] = []
    for index in range(count):
        address: IPAddress
        if index % 3 == 0:
            rule = rng.choice(rules)
            offset = rng.randrange(min(rule.num_addresses, 2**64))
            address = rule.network_address + offset
        elif rng.random() < 0.7:
            address = ipaddress.IPv4Address(rng.getrandbits(32))
        else:
            address = ipaddress.IPv6Address(rng.getrandbits(128))
        addresses.append(address)
    return addresses


def as_rows(addresses: Sequence[IPAddress]) -> NDArray[np.uint8]:
    mapped_prefix = bytes(10) + b"\xff\xff"
    packed = b"".join(
        address.packed if address.version == 6 else mapped_prefix + address.packed
        for address in addresses
    )
    return np.frombuffer(packed, dtype=np.uint8).reshape(len(addresses), 16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--rules", type=int, default=1_000)
    parser.add_argument("--addresses", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    count = 5_000 if args.quick else args.addresses
    repeats = 1 if args.quick else 5
    rng = random.Random(args.seed)
    rules = make_rules(args.rules, rng)
    addresses = make_addresses(count, rules, rng)
    texts = [str(address) for address in addresses]
    rows = as_rows(addresses)

    build, acl = best_time(lambda: AccessControlList(blocked=rules), repeats)
    loop, expected = best_time(lambda: [acl.is_blocked(a) for a in addresses], repeats)
    text_loop, text_expected = best_time(lambda: [acl.is_blocked(t) for t in texts], 1)
    batch_rows, answer_rows = best_time(lambda: acl.is_blocked_many(rows), repeats * 4)
    batch_objects, answer_objects = best_time(lambda: acl.is_blocked_many(addresses), repeats)
    batch_texts, answer_texts = best_time(lambda: acl.is_blocked_many(texts), 1)
    for answers in (answer_rows, answer_objects, answer_texts):
        if answers.tolist() != expected:
            raise SystemExit("is_blocked_many disagrees with is_blocked")
    if text_expected != expected:
        raise SystemExit("is_blocked on strings disagrees with is_blocked on objects")

    print(
        f"{len(rules):,} rules (compiled in {build * 1e3:.1f} ms), {count:,} addresses, "
        f"{sum(expected) / count:.0%} blocked"
    )
    print(f"{'method':<44} {'ns/address':>11} {'addresses/s':>14} {'vs its loop':>12}")
    rows_out = [
        ("loop of is_blocked(ipaddress object)", loop, loop),
        ("is_blocked_many((n, 16) uint8 array)", batch_rows, loop),
        ("is_blocked_many(list of ipaddress objects)", batch_objects, loop),
        ("loop of is_blocked(str)", text_loop, text_loop),
        ("is_blocked_many(list of str)", batch_texts, text_loop),
    ]
    for name, seconds, peer in rows_out:
        print(f"{name:<44} {seconds / count * 1e9:>11.1f} {count / seconds:>14,.0f} "
              f"{peer / seconds:>11.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
