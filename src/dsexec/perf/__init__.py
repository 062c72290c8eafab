"""Performance tools: buffer pools, performance monitoring, vectorised packet batches."""

from ._memory_pool import MemoryPool as MemoryPool

__all__ = ["MemoryPool"]
