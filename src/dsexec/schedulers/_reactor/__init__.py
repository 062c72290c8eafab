"""The reactor layer: the :class:`Reactor` interface every event loop offers, the
:class:`IoScheduler` type the socket senders take, the one cancellable-operation base
(:class:`ReactorOperation`) and the loop-thread helpers. Backends live in ``_backends``."""

from ._interface import FdWaiter as FdWaiter
from ._interface import Reactor as Reactor
from ._interface import TimerHandle as TimerHandle
from ._interface import on_loop as on_loop
from ._interface import run_on_loop as run_on_loop
from ._operation import ReactorOperation as ReactorOperation
from ._operation import ReactorSender as ReactorSender
from ._reactor_of import reactor_of as reactor_of
from ._running_loop import running_loop as running_loop
from ._scheduler import IoScheduler as IoScheduler
from ._signals import on_signals as on_signals
