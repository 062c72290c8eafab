"""Schedulers: ``IoContext`` (epoll/selectors), ``VirtualTimeScheduler``, ``ThreadPool``,
``AnyioScheduler``, ``InlineScheduler``; :class:`IoScheduler`, the type of every scheduler with an
I/O reactor behind it, and the :class:`Reactor` interface they share."""

from ._anyio import AnyioScheduler as AnyioScheduler
from ._anyio_bridge import as_awaitable as as_awaitable
from ._anyio_bridge import from_coroutine as from_coroutine
from ._inline import InlineScheduler as InlineScheduler
from ._io_context import IoContext as IoContext
from ._io_context import IoContextScheduler as IoContextScheduler
from ._io_context import IoContextStatistics as IoContextStatistics
from ._reactor import FdWaiter as FdWaiter
from ._reactor import IoScheduler as IoScheduler
from ._reactor import Reactor as Reactor
from ._reactor import TimerHandle as TimerHandle
from ._reactor import reactor_of as reactor_of
from ._signals import on_signals as on_signals
from ._thread_pool import ThreadPool as ThreadPool
from ._virtual_time import VirtualTimeScheduler as VirtualTimeScheduler
