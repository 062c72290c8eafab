"""Performance tools: buffer pools, performance monitoring, vectorised packet batches."""

from ..schedulers import ThreadPool as ThreadPool
from ._memory_pool import MemoryPool as MemoryPool
from ._packets import AddressFilter as AddressFilter
from ._packets import PacketBatch as PacketBatch
from ._packets import PacketInfo as PacketInfo
from ._packets import simd_process_packets as simd_process_packets

__all__ = [
    "AddressFilter",
    "MemoryPool",
    "PacketBatch",
    "PacketInfo",
    "ThreadPool",
    "simd_process_packets",
]
