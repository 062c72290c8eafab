"""Performance tools: buffer pools, performance monitoring, vectorised packet batches."""

from ..schedulers import ThreadPool as ThreadPool
from ._memory_pool import MemoryPool as MemoryPool

__all__ = ["MemoryPool", "ThreadPool"]
