"""dsexec: C++26 ``std::execution`` (senders and receivers) for Python.

``import dsexec as ex`` gives everything a pipeline needs::

    import dsexec as ex

    print(ex.sync_wait(ex.just(20) | ex.then(lambda x: x + 22)))  # 42
"""

from ._compiled import compiled as compiled
from ._core import MISSING as MISSING
from ._core import AccessDenied as AccessDenied
from ._core import BusyResourceError as BusyResourceError
from ._core import ClosedResourceError as ClosedResourceError
from ._core import DsexecError as DsexecError
from ._core import Env as Env
from ._core import HttpError as HttpError
from ._core import LimitOverrunError as LimitOverrunError
from ._core import NetError as NetError
from ._core import OperationState as OperationState
from ._core import Receiver as Receiver
from ._core import RestartableOperation as RestartableOperation
from ._core import Scheduler as Scheduler
from ._core import Sender as Sender
from ._core import SenderAdaptor as SenderAdaptor
from ._core import StopCallback as StopCallback
from ._core import Stopped as Stopped
from ._core import StopSource as StopSource
from ._core import StopToken as StopToken
from ._core import TimedScheduler as TimedScheduler
from ._core import TlsError as TlsError
from ._core import connect as connect
from ._core import get_env as get_env
from ._core import get_scheduler as get_scheduler
from ._core import get_stop_token as get_stop_token
from .schedulers import AnyioScheduler as AnyioScheduler
from .schedulers import InlineScheduler as InlineScheduler
from .schedulers import IoContext as IoContext
from .schedulers import IoScheduler as IoScheduler
from .schedulers import ThreadPool as ThreadPool
from .schedulers import VirtualTimeScheduler as VirtualTimeScheduler
from .schedulers import as_awaitable as as_awaitable
from .schedulers import from_coroutine as from_coroutine
from .schedulers import on_signals as on_signals
from .schedulers import sync_wait as sync_wait
from .senders import CountingScope as CountingScope
from .senders import Result as Result
from .senders import bulk as bulk
from .senders import continues_on as continues_on
from .senders import finally_ as finally_
from .senders import into_result as into_result
from .senders import just as just
from .senders import just_error as just_error
from .senders import just_stopped as just_stopped
from .senders import let_error as let_error
from .senders import let_stopped as let_stopped
from .senders import let_value as let_value
from .senders import repeat as repeat
from .senders import repeat_n as repeat_n
from .senders import repeat_until as repeat_until
from .senders import retry as retry
from .senders import schedule as schedule
from .senders import schedule_after as schedule_after
from .senders import schedule_at as schedule_at
from .senders import start_detached as start_detached
from .senders import starts_on as starts_on
from .senders import stop_when as stop_when
from .senders import stopped_as_error as stopped_as_error
from .senders import stopped_as_optional as stopped_as_optional
from .senders import then as then
from .senders import timeout as timeout
from .senders import unstoppable as unstoppable
from .senders import upon_error as upon_error
from .senders import upon_stopped as upon_stopped
from .senders import when_all as when_all
from .senders import when_any as when_any

__all__ = [
    "AccessDenied",
    "AnyioScheduler",
    "BusyResourceError",
    "ClosedResourceError",
    "CountingScope",
    "DsexecError",
    "Env",
    "HttpError",
    "InlineScheduler",
    "IoContext",
    "IoScheduler",
    "LimitOverrunError",
    "MISSING",
    "NetError",
    "OperationState",
    "Receiver",
    "RestartableOperation",
    "Result",
    "Scheduler",
    "Sender",
    "SenderAdaptor",
    "StopCallback",
    "StopSource",
    "StopToken",
    "Stopped",
    "ThreadPool",
    "TimedScheduler",
    "TlsError",
    "VirtualTimeScheduler",
    "as_awaitable",
    "bulk",
    "compiled",
    "connect",
    "continues_on",
    "finally_",
    "from_coroutine",
    "get_env",
    "get_scheduler",
    "get_stop_token",
    "into_result",
    "just",
    "just_error",
    "just_stopped",
    "let_error",
    "let_stopped",
    "let_value",
    "on_signals",
    "repeat",
    "repeat_n",
    "repeat_until",
    "retry",
    "schedule",
    "schedule_after",
    "schedule_at",
    "start_detached",
    "starts_on",
    "stop_when",
    "stopped_as_error",
    "stopped_as_optional",
    "sync_wait",
    "then",
    "timeout",
    "unstoppable",
    "upon_error",
    "upon_stopped",
    "when_all",
    "when_any",
]
