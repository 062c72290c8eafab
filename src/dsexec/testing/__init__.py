"""Tools to test pipelines, like ``trio.testing``: contract-checking receivers, virtual time,
an impulse scheduler, fault-injecting socket factories and pytest fixtures."""

from ..schedulers import VirtualTimeScheduler as VirtualTimeScheduler
from ._faults import FaultySocketFactory as FaultySocketFactory
from ._faults import Operation as Operation
from ._faults import inject_socket_faults as inject_socket_faults
from ._impulse import ImpulseScheduler as ImpulseScheduler
from ._impulse import ManualSender as ManualSender
from ._receivers import ContractViolation as ContractViolation
from ._receivers import ExpectErrorReceiver as ExpectErrorReceiver
from ._receivers import ExpectStoppedReceiver as ExpectStoppedReceiver
from ._receivers import ExpectValueReceiver as ExpectValueReceiver
from ._receivers import ReceiverOptions as ReceiverOptions
from ._receivers import RecordingReceiver as RecordingReceiver
from ._receivers import collect_contract_violations as collect_contract_violations
from ._schedulers import RunnerKind as RunnerKind
from ._schedulers import SchedulerRunner as SchedulerRunner
from ._schedulers import available_runner_kinds as available_runner_kinds
