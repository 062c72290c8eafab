"""Performance tools: buffer pools, performance monitoring, vectorised packet batches."""

from ..schedulers import ThreadPool as ThreadPool
from ._memory_pool import MemoryPool as MemoryPool
from ._monitor import OperationTimer as OperationTimer
from ._monitor import PerfMonitor as PerfMonitor
from ._monitor import PerfSnapshot as PerfSnapshot
from ._packets import AddressFilter as AddressFilter
from ._packets import PacketBatch as PacketBatch
from ._packets import PacketInfo as PacketInfo
from ._packets import simd_process_packets as simd_process_packets
from ._prometheus import prometheus_exposition as prometheus_exposition

__all__ = [
    "AddressFilter",
    "MemoryPool",
    "OperationTimer",
    "PacketBatch",
    "PacketInfo",
    "PerfMonitor",
    "PerfSnapshot",
    "ThreadPool",
    "prometheus_exposition",
    "simd_process_packets",
]
