"""Schedulers: ``IoContext`` (selectors), ``VirtualTimeScheduler``, ``ThreadPool``,
``AnyioScheduler``, ``InlineScheduler``, and the :class:`Reactor` interface they share."""

from ._io_context import IoContext as IoContext
from ._io_context import IoContextStatistics as IoContextStatistics
from ._io_context import IoScheduler as IoScheduler
from ._reactor import FdWaiter as FdWaiter
from ._reactor import Reactor as Reactor
from ._reactor import ReactorScheduler as ReactorScheduler
from ._reactor import TimerHandle as TimerHandle
from ._reactor import reactor_of as reactor_of
from ._virtual_time import VirtualTimeScheduler as VirtualTimeScheduler
