"""The P2300 model in Python: senders, receivers, operation states, environments, stop tokens.

Private package: the public names are re-exported by :mod:`dsexec`.
"""

from ._adaptor import SenderAdaptor as SenderAdaptor
from ._algorithm import BasicSender as BasicSender
from ._algorithm import ForwardingReceiver as ForwardingReceiver
from ._algorithm import FunctionSender as FunctionSender
from ._algorithm import JoiningAdaptor as JoiningAdaptor
from ._algorithm import PreservingAdaptor as PreservingAdaptor
from ._algorithm import ReceiverSender as ReceiverSender
from ._algorithm import ReplayReceiver as ReplayReceiver
from ._algorithm import SenderArgumentSender as SenderArgumentSender
from ._algorithm import WrappingOperation as WrappingOperation
from ._checks import callable_name as callable_name
from ._checks import check_count as check_count
from ._checks import check_deadline as check_deadline
from ._checks import check_delay as check_delay
from ._completion import ERROR as ERROR
from ._completion import STOPPED as STOPPED
from ._completion import STOPPED_COMPLETION as STOPPED_COMPLETION
from ._completion import VALUE as VALUE
from ._completion import Completion as Completion
from ._completion import CompletionSink as CompletionSink
from ._completion import StoringReceiver as StoringReceiver
from ._env import EMPTY_ENV as EMPTY_ENV
from ._env import Env as Env
from ._env import get_scheduler as get_scheduler
from ._env import get_stop_token as get_stop_token
from ._exceptions import AccessDenied as AccessDenied
from ._exceptions import BusyResourceError as BusyResourceError
from ._exceptions import ClosedResourceError as ClosedResourceError
from ._exceptions import DsexecError as DsexecError
from ._exceptions import HttpError as HttpError
from ._exceptions import LimitOverrunError as LimitOverrunError
from ._exceptions import NetError as NetError
from ._exceptions import Stopped as Stopped
from ._exceptions import TlsError as TlsError
from ._resource import ClosingContext as ClosingContext
from ._scheduler import Scheduler as Scheduler
from ._scheduler import TimedScheduler as TimedScheduler
from ._sender import MISSING as MISSING
from ._sender import Adaptor as Adaptor
from ._sender import OperationState as OperationState
from ._sender import Receiver as Receiver
from ._sender import RestartableOperation as RestartableOperation
from ._sender import Sender as Sender
from ._sender import connect as connect
from ._sender import get_env as get_env
from ._sender import require_callable as require_callable
from ._sender import require_sender as require_sender
from ._stop_token import NEVER_STOP_TOKEN as NEVER_STOP_TOKEN
from ._stop_token import ChildStopSource as ChildStopSource
from ._stop_token import StopCallback as StopCallback
from ._stop_token import StopObserver as StopObserver
from ._stop_token import StopSource as StopSource
from ._stop_token import StopToken as StopToken
