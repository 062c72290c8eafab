"""``BufferPool``: what ``async_read(..., pool=...)`` needs from a buffer pool.

``dsexec.perf.MemoryPool`` satisfies it; the protocol lives here because ``dsexec.net`` sits
below ``dsexec.perf`` and must not import it.

Ownership rule of a pooled read: the operation acquires a block only when the socket is
readable, ``recv_into``s it, and delivers a ``memoryview`` of the bytes read (empty at EOF)
*over that block*. From ``set_value`` on, the receiver owns the block and gives it back with
``pool.release(view)`` once done with the bytes (a pool must accept the view it handed out, or
any view of the block). On error or stop the operation has already released it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["BufferPool"]


@runtime_checkable
class BufferPool(Protocol):
    """A source of reusable writable buffers: ``acquire()`` one, ``release(buf)`` it back."""

    def acquire(self) -> bytearray | memoryview:
        """A writable buffer (all of it may be overwritten)."""
        ...

    def release(self, buf: bytearray | memoryview, /) -> None:
        """Give back a buffer from ``acquire()``, or a ``memoryview`` of one."""
        ...
