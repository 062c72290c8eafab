"""dsexec: C++26 ``std::execution`` (senders and receivers) for Python.

``import dsexec as ex`` gives everything a pipeline needs::

    import dsexec as ex

    print(ex.sync_wait(ex.just(20) | ex.then(lambda x: x + 22)))  # 42
"""

from ._core import MISSING as MISSING
from ._core import AccessDenied as AccessDenied
from ._core import BusyResourceError as BusyResourceError
from ._core import ClosedResourceError as ClosedResourceError
from ._core import DsexecError as DsexecError
from ._core import Env as Env
from ._core import HttpError as HttpError
from ._core import NetError as NetError
from ._core import OperationState as OperationState
from ._core import Receiver as Receiver
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
from .schedulers import IoContext as IoContext
from .schedulers import IoScheduler as IoScheduler
from .schedulers import VirtualTimeScheduler as VirtualTimeScheduler
from .senders import just as just
from .senders import just_error as just_error
from .senders import just_stopped as just_stopped
from .senders import sync_wait as sync_wait
from .senders import then as then
from .senders import upon_error as upon_error
from .senders import upon_stopped as upon_stopped

__all__ = [
    "AccessDenied",
    "BusyResourceError",
    "ClosedResourceError",
    "DsexecError",
    "Env",
    "HttpError",
    "IoContext",
    "IoScheduler",
    "MISSING",
    "NetError",
    "OperationState",
    "Receiver",
    "Scheduler",
    "Sender",
    "SenderAdaptor",
    "StopCallback",
    "StopSource",
    "StopToken",
    "Stopped",
    "TimedScheduler",
    "TlsError",
    "VirtualTimeScheduler",
    "connect",
    "get_env",
    "get_scheduler",
    "get_stop_token",
    "just",
    "just_error",
    "just_stopped",
    "sync_wait",
    "then",
    "upon_error",
    "upon_stopped",
]
