"""Schedulers, room by room:

* ``_reactor``: the :class:`Reactor` interface, :class:`IoScheduler` (the type of every
  scheduler with a reactor), the one cancellable-operation base, ``on_signals``;
* ``_backends``: ``IoContext`` (epoll/selectors) and the reactors on asyncio and trio loops;
* ``_anyio``: ``AnyioScheduler``, ``as_awaitable``, ``from_coroutine``;
* ``_pools``: ``ThreadPool``;
* ``_testing``: ``VirtualTimeScheduler`` and ``InlineScheduler``;
* ``sync_wait``, which drives an ``IoContext``.
"""

from ._anyio._bridge import as_awaitable as as_awaitable
from ._anyio._bridge import from_coroutine as from_coroutine
from ._anyio._scheduler import AnyioScheduler as AnyioScheduler
from ._backends._io_context import IoContext as IoContext
from ._backends._io_context import IoContextScheduler as IoContextScheduler
from ._backends._io_context import IoContextStatistics as IoContextStatistics
from ._pools._thread_pool import ThreadPool as ThreadPool
from ._reactor import FdWaiter as FdWaiter
from ._reactor import IoScheduler as IoScheduler
from ._reactor import Reactor as Reactor
from ._reactor import TimerHandle as TimerHandle
from ._reactor import on_signals as on_signals
from ._reactor import reactor_of as reactor_of
from ._sync_wait import sync_wait as sync_wait
from ._testing._inline import InlineScheduler as InlineScheduler
from ._testing._virtual_time import VirtualTimeScheduler as VirtualTimeScheduler
