"""MemoryPool: reuse, zeroing, overflow, foreign buffers, the BufferPool protocol."""

from __future__ import annotations

import pytest

from dsexec.net import BufferPool
from dsexec.perf import MemoryPool


def test_acquire_hands_out_blocks_of_the_block_size() -> None:
    pool = MemoryPool(1024, 4)
    block = pool.acquire()
    assert isinstance(block, bytearray)
    assert len(block) == 1024
    assert (pool.available, pool.in_use) == (3, 1)
    pool.release(block)
    assert (pool.available, pool.in_use) == (4, 0)


def test_released_blocks_are_reused_most_recent_first() -> None:
    pool = MemoryPool(16, 2)
    first = pool.acquire()
    pool.release(first)
    assert pool.acquire() is first


def test_release_accepts_a_view_of_the_block() -> None:
    pool = MemoryPool(16, 1)
    block = pool.acquire()
    view = memoryview(block)[2:5]
    pool.release(view)
    assert pool.in_use == 0
    assert pool.acquire() is block


def test_zero_on_release_wipes_the_bytes() -> None:
    pool = MemoryPool(8, 1, zero_on_release=True)
    assert pool.zero_on_release
    block = pool.acquire()
    block[:] = b"secret!!"
    view = memoryview(block)  # an outstanding view does not prevent the wipe
    pool.release(block)
    assert bytes(view) == bytes(8)
    assert pool.acquire() == bytes(8)


def test_without_zeroing_the_bytes_stay() -> None:
    pool = MemoryPool(4, 1)
    block = pool.acquire()
    block[:] = b"data"
    pool.release(block)
    assert pool.acquire() == b"data"


def test_acquire_beyond_count_allocates_and_the_pool_shrinks_back() -> None:
    pool = MemoryPool(8, 2)
    blocks = [pool.acquire() for _ in range(5)]
    assert len({id(block) for block in blocks}) == 5
    assert pool.overflow == 3
    assert pool.in_use == 5
    for block in blocks:
        pool.release(block)
    assert pool.available == 2  # extra blocks are dropped, not hoarded
    assert pool.in_use == 0


@pytest.mark.parametrize(
    "foreign", [bytearray(8), memoryview(bytearray(8))], ids=["bytearray", "memoryview"]
)
def test_releasing_a_foreign_buffer_raises_value_error(foreign: bytearray | memoryview) -> None:
    pool = MemoryPool(8, 1)
    with pytest.raises(ValueError, match="not leased from this pool"):
        pool.release(foreign)


def test_releasing_twice_raises_value_error() -> None:
    pool = MemoryPool(8, 1)
    block = pool.acquire()
    pool.release(block)
    with pytest.raises(ValueError, match="released twice"):
        pool.release(block)
    assert pool.available == 1


def test_lease_releases_on_exit_even_on_error() -> None:
    pool = MemoryPool(8, 1)
    with pool.lease() as block:
        assert pool.in_use == 1
        block[0] = 1
    assert pool.in_use == 0
    with pytest.raises(RuntimeError, match="boom"), pool.lease():
        raise RuntimeError("boom")
    assert pool.in_use == 0


@pytest.mark.parametrize(
    ("block_size", "count", "match"),
    [(0, 1, "block_size must be an int >= 1"), (8, -1, "count must be an int >= 0")],
)
def test_bad_sizes_raise_value_error(block_size: int, count: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MemoryPool(block_size, count)


def test_memory_pool_is_a_buffer_pool() -> None:
    pool = MemoryPool(8, 1)
    assert isinstance(pool, BufferPool)
    typed: BufferPool = pool
    typed.release(typed.acquire())
    assert repr(pool) == "<MemoryPool 1 x 8 B, 1 free, 0 in use>"
    assert (pool.block_size, pool.count) == (8, 1)
