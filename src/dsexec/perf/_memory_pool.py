"""``MemoryPool``: fixed-size reusable buffers (the C++ design's ``memory_pool
buffer_pool{1024, 1000}``), with optional zeroing on release ("automatic secure memory cleanup").

``count`` blocks of ``block_size`` bytes are allocated up front. ``acquire()`` hands out a free
block -- most recently released first, so it is warm in the CPU cache -- and ``release(buf)``
takes it back (the block itself or any ``memoryview`` of it, as ``async_read(..., pool=pool)``
delivers). When all ``count`` blocks are out, ``acquire()`` does *not* fail: it allocates a
fresh block, counted in ``overflow``, so a burst of connections slows down a little instead of
erroring; once released, such blocks are kept only while fewer than ``count`` are free, so the
pool shrinks back to its size. Releasing a buffer that is not currently leased from this pool
(a foreign one, or one released twice) raises ``ValueError``.

It satisfies ``dsexec.net.BufferPool``. Each operation is a single list/dict step, atomic under
the GIL, so the pool may be used from several threads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import final

__all__ = ["MemoryPool"]


def _check_size(name: str, value: object, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"MemoryPool: {name} must be an int >= {minimum}, got {value!r}")


@final
class MemoryPool:
    """``count`` reusable ``bytearray`` blocks of ``block_size`` bytes.

    ``acquire()`` / ``release(buf)``, or ``with pool.lease() as block: ...``. With
    ``zero_on_release=True`` every released block is overwritten with zeros before reuse.
    """

    __slots__ = ("_block_size", "_count", "_free", "_leased", "_overflow", "_zero", "_zeros")

    def __init__(self, block_size: int, count: int, *, zero_on_release: bool = False) -> None:
        _check_size("block_size", block_size, 1)
        _check_size("count", count, 0)
        self._block_size = block_size
        self._count = count
        self._free = [bytearray(block_size) for _ in range(count)]
        self._leased: dict[int, bytearray] = {}
        self._overflow = 0
        self._zero = bool(zero_on_release)
        self._zeros = bytes(block_size) if zero_on_release else b""

    @property
    def block_size(self) -> int:
        """Size of every block, in bytes."""
        return self._block_size

    @property
    def count(self) -> int:
        """Number of blocks the pool keeps."""
        return self._count

    @property
    def available(self) -> int:
        """Free blocks ready for ``acquire()`` without allocating."""
        return len(self._free)

    @property
    def in_use(self) -> int:
        """Blocks acquired and not yet released."""
        return len(self._leased)

    @property
    def overflow(self) -> int:
        """Blocks allocated because the pool was empty, since creation."""
        return self._overflow

    @property
    def zero_on_release(self) -> bool:
        """Whether released blocks are zeroed."""
        return self._zero

    def acquire(self) -> bytearray:
        """A block of ``block_size`` bytes; a fresh one (``overflow``) if none is free."""
        try:
            block = self._free.pop()
        except IndexError:
            block = bytearray(self._block_size)
            self._overflow += 1
        self._leased[id(block)] = block
        return block

    def release(self, buf: bytearray | memoryview, /) -> None:
        """Give back a block from ``acquire()`` (or a ``memoryview`` of it).

        ``ValueError`` if it is not leased from this pool (foreign, or released twice).
        """
        obj = buf.obj if isinstance(buf, memoryview) else buf
        block = self._leased.pop(id(obj), None)
        if block is None:
            raise ValueError(
                "MemoryPool.release: this buffer is not leased from this pool "
                "(a foreign buffer, or released twice)"
            )
        if self._zero:
            memoryview(block)[:] = self._zeros
        if len(self._free) < self._count:
            self._free.append(block)

    @contextmanager
    def lease(self) -> Iterator[bytearray]:
        """``with pool.lease() as block:`` -- acquire, and release on exit (also on errors)."""
        block = self.acquire()
        try:
            yield block
        finally:
            self.release(block)

    def __repr__(self) -> str:
        return (
            f"<MemoryPool {self._count} x {self._block_size} B, {len(self._free)} free, "
            f"{len(self._leased)} in use>"
        )
