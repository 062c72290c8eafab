"""``simd_process_packets(PacketBatch.from_packets(...))`` beside the per-packet Python loop doing
the same work, on the same packets.

Run: ``.venv/bin/python benchmarks/bench_packets.py`` (``--quick`` for a smoke run). Each figure
is the best of several repetitions, and ratios compare figures measured in the same run (this
machine is shared and noisy: only paired ratios mean anything). Every result is checked against
the loop's before anything is printed.

* Packets: ``--packets`` (200,000), seeded random: 70 % IPv4 (one in ten with options), 30 %
  IPv6; payloads of 0 to 1,460 bytes (``--small``: 0 to 24); 2 % truncated, 1 % with a
  corrupted byte. Both sides touch every packet object, and with big packets those touches miss
  the CPU caches, which costs both the same and so lowers the ratio.
* Peer: ``_process_packets_loop``, a fair per-packet loop (precompiled ``struct`` formats, a
  textbook RFC 1071 fold, arrays built once at the end), given each batch's list of packets.
* Batch: ``simd_process_packets(PacketBatch.from_packets(packets))`` per batch of ``--batch``
  packets, ``from_packets`` included; then ``simd_process_packets`` alone on prebuilt batches,
  and ``batch.filter(acl)`` (parse + ``is_blocked_many`` against 1,000 rules + subset).
* Ceiling: what no numpy batch of ``bytes`` objects can beat. Any ``from_packets`` must learn
  each packet's length, one C-level pass over the objects at the least (``np.fromiter(map(len,
  packets))``, timed here); the ceiling is the loop's time over that pass plus ``parse only``,
  as if copying the headers cost nothing.
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import struct
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

from dsexec.perf import PacketBatch, PacketInfo, simd_process_packets
from dsexec.perf._packets import _process_packets_loop
from dsexec.security import AccessControlList

T = TypeVar("T")
FIELDS = ("version", "protocol", "total_length", "src", "dst", "checksum_ok", "valid")


def best_time(run: Callable[[], T], repeats: int) -> tuple[float, T]:
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    assert result is not None
    return best, result


def _checksum(header: bytes) -> int:
    total: int = sum(struct.unpack(f"!{len(header) // 2}H", header))
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def make_packets(count: int, rng: random.Random, *, small: bool = False) -> list[bytes]:
    sizes = [0, 4, 8, 12, 20, 24] if small else [0, 0, 20, 40, 100, 200, 576, 1200, 1460, 1460]
    packets: list[bytes] = []
    for _ in range(count):
        payload = rng.randbytes(rng.choice(sizes))
        if rng.random() < 0.7:
            options = rng.randbytes(4 * rng.randint(1, 10)) if rng.random() < 0.1 else b""
            ihl = 5 + len(options) // 4
            header = bytearray(
                struct.pack("!BBHHHBBH", 0x40 | ihl, 0, 4 * ihl + len(payload), 0, 0, 64, 6, 0)
                + rng.randbytes(8)
                + options
            )
            header[10:12] = struct.pack("!H", _checksum(bytes(header)))
            packet = bytes(header) + payload
        else:
            packet = struct.pack("!IHBB", 6 << 28, len(payload), 17, 64) + rng.randbytes(32)
            packet += payload
        roll = rng.random()
        if roll < 0.02:
            packet = packet[: rng.randrange(len(packet))]
        elif roll < 0.03:
            broken = bytearray(packet)
            broken[rng.randrange(len(broken))] ^= 0xFF
            packet = bytes(broken)
        packets.append(packet)
    return packets


def make_acl(rng: random.Random) -> AccessControlList:
    rules: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for _ in range(1_000):
        if rng.random() < 0.7:
            length = rng.choice([8, 16, 24, 24, 32, 32])
            value = rng.getrandbits(32) >> (32 - length) << (32 - length)
            rules.append(ipaddress.IPv4Network((value, length)))
        else:
            length = rng.choice([16, 32, 48, 64, 128])
            value = rng.getrandbits(128) >> (128 - length) << (128 - length)
            rules.append(ipaddress.IPv6Network((value, length)))
    return AccessControlList(blocked=rules)


def same(left: Sequence[PacketInfo], right: Sequence[PacketInfo]) -> bool:
    return all(
        (getattr(a, name) == getattr(b, name)).all()
        for a, b in zip(left, right, strict=True)
        for name in FIELDS
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--packets", type=int, default=200_000)
    parser.add_argument(
        "--batch", type=int, action="append", help="batch size(s); default 1,000 10,000 100,000"
    )
    parser.add_argument(
        "--small", action="store_true", help="payloads of 0 to 24 bytes (headers, mostly)"
    )
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    count = 4_000 if args.quick else args.packets
    batch_sizes = args.batch or ([1_000] if args.quick else [1_000, 10_000, 100_000])
    repeats = 1 if args.quick else 3
    rng = random.Random(args.seed)
    packets = make_packets(count, rng, small=args.small)
    acl = make_acl(rng)

    print(f"{count:,} packets, {sum(map(len, packets)) / count:.0f} bytes on average")
    print(
        f"{'batch':>8} {'loop ns/pkt':>12} {'batch ns/pkt':>13} {'ratio':>7} {'Mpkt/s':>7}"
        f" | {'parse only':>11} {'ratio':>7} | {'ceiling':>7} | {'filter(acl)':>12}"
    )
    for size in batch_sizes:
        print(row(packets, size, acl, repeats))


def row(packets: list[bytes], size: int, acl: AccessControlList, repeats: int) -> str:
    """Measure one batch size: loop, from_packets + parse, parse alone, filter."""
    count = len(packets)
    chunks = [packets[i : i + size] for i in range(0, count, size)]
    loop, expected = best_time(lambda: [_process_packets_loop(c) for c in chunks], repeats)
    whole, infos = best_time(
        lambda: [simd_process_packets(PacketBatch.from_packets(c)) for c in chunks], repeats
    )
    batches = [PacketBatch.from_packets(c) for c in chunks]
    parse, _ = best_time(lambda: [simd_process_packets(b) for b in batches], repeats)
    lengths, _ = best_time(
        lambda: [np.fromiter(map(len, c), dtype=np.int64, count=len(c)) for c in chunks], repeats
    )
    filtered, kept = best_time(lambda: [b.filter(acl) for b in batches], repeats)
    if not same(infos, expected):
        raise SystemExit("simd_process_packets disagrees with the per-packet loop")
    kept_count = sum(len(batch) for batch in kept)
    return (
        f"{size:>8,} {loop / count * 1e9:>12.0f} {whole / count * 1e9:>13.0f}"
        f" {loop / whole:>6.1f}x {count / whole / 1e6:>7.2f}"
        f" | {parse / count * 1e9:>8.0f} ns {loop / parse:>6.1f}x"
        f" | {loop / (lengths + parse):>6.1f}x"
        f" | {filtered / count * 1e9:>6.0f} ns/pkt ({kept_count / count:.0%} kept)"
    )


if __name__ == "__main__":
    main()
