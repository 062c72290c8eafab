"""Performance tools: buffer pools, performance monitoring, vectorised packet batches."""

from ..schedulers import ThreadPool as ThreadPool
from ._memory_pool import MemoryPool as MemoryPool
from ._monitor import OperationTimer as OperationTimer
from ._monitor import PerfMonitor as PerfMonitor
from ._monitor import PerfSnapshot as PerfSnapshot
from ._prometheus import prometheus_exposition as prometheus_exposition

__all__ = [
    "MemoryPool",
    "OperationTimer",
    "PerfMonitor",
    "PerfSnapshot",
    "ThreadPool",
    "prometheus_exposition",
]
