"""The machinery every algorithm is built from, so each algorithm module holds only its logic.

stdexec builds its algorithms from one ``__basic_sender`` parametrised by a tag per algorithm;
dsexec does the same with one base class:

* :class:`BasicSender` stores the upstream sender (``None`` for a factory such as ``just``)
  and the algorithm's checked arguments (``data``). An algorithm's sender is a subclass that
  sets ``name`` and defines ``connect`` -- nothing else -- plus, where they apply, ``check``
  (argument validation when the pipeline is built), ``restartable`` and ``describe`` (for
  ``repr``, which reads like the pipeline that built it).
* :meth:`BasicSender.call` (and :meth:`BasicSender.call_optional` for algorithms without
  arguments) implement both call forms, ``then(f)`` and ``then(sender, f)``, with the argument
  checked either way; each public function keeps its typed ``@overload``\\ s and is one line.
* :class:`ForwardingReceiver` passes every completion on; an algorithm that changes one channel
  (``then``, ``upon_error``, ``stopped_as_optional``...) subclasses it and overrides that one.
  :class:`ReceiverSender` connects the upstream to such a receiver, adding no operation state
  of its own (so it is restartable when its upstream is).
* :class:`PreservingAdaptor` and :class:`JoiningAdaptor` type the pipe forms whose result type
  depends on the upstream's (``timeout(s)``: ``Sender[T] -> Sender[T]``).

A sender subclass rather than a separate tag object keeps ``connect`` one call deep: the
per-hop cost of a ``then`` chain is the same as a hand-written sender's.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

from mypy_extensions import mypyc_attr

from ._adaptor import SenderAdaptor
from ._checks import callable_name
from ._env import Env
from ._sender import (
    MISSING,
    OperationState,
    Receiver,
    RestartableOperation,
    Sender,
    require_callable,
    require_sender,
)

__all__ = [
    "BasicSender",
    "ForwardingReceiver",
    "WrappingOperation",
    "FunctionSender",
    "OperationFactory",
    "JoiningAdaptor",
    "PreservingAdaptor",
    "ReceiverSender",
    "ReplayReceiver",
    "SenderArgumentSender",
]

T = TypeVar("T")
U_co = TypeVar("U_co", covariant=True)


@mypyc_attr(allow_interpreted_subclasses=True)
class ForwardingReceiver(Generic[T]):
    """A receiver that passes every completion, and its environment, on to ``receiver``.

    Subclass it and override the one channel an algorithm changes; ``data`` holds what that
    override needs (``then``'s function).
    """

    __slots__ = ("data", "receiver")

    def __init__(self, receiver: Receiver[Any], data: Any = None) -> None:
        self.receiver = receiver
        self.data = data

    def set_value(self, value: T, /) -> None:
        """Pass the value on."""
        self.receiver.set_value(value)

    def set_error(self, error: BaseException, /) -> None:
        """Pass the error on."""
        self.receiver.set_error(error)

    def set_stopped(self) -> None:
        """Pass "stopped" on."""
        self.receiver.set_stopped()

    def get_env(self) -> Env:
        """The downstream receiver's environment."""
        return self.receiver.get_env()

    def complete_with(self, fn: Any, *args: Any) -> None:
        """Complete downstream with ``fn(*args)``, or with its exception as the error: what a
        channel-mapping override does."""
        try:
            result = fn(*args)
        except Exception as exc:
            self.receiver.set_error(exc)
            return
        self.receiver.set_value(result)


class ReplayReceiver(ForwardingReceiver[Any]):
    """Receiver of a second operation that, on its value, replays ``data`` (a stored
    :class:`~dsexec._core._completion.Completion`) to ``receiver``; its error or stop replaces
    it. ``continues_on`` (the hop) and ``finally_`` (the cleanup) are built on it."""

    __slots__ = ()

    def set_value(self, value: object, /) -> None:
        """The second operation succeeded: deliver the stored completion."""
        self.data.deliver(self.receiver)


@mypyc_attr(allow_interpreted_subclasses=True)
class WrappingOperation(RestartableOperation):
    """Base of an operation state that is its upstream's receiver and owns the upstream's
    operation state, ``_child`` (set by the subclass's ``__init__``: ``upstream.connect(self)``).

    ``start()`` starts the child, and a loop's :meth:`enter_loop` / :meth:`retire` reach it,
    so the operation restarts as its upstream's does (``let_value``,
    ``PerfMonitor.measured``). A child that is no :class:`RestartableOperation` keeps nothing
    between rounds: the hooks then do nothing.
    """

    __slots__ = ("_child",)

    _child: OperationState

    def start(self) -> None:
        """Start (or restart) the upstream's operation."""
        self._child.start()

    def enter_loop(self) -> None:
        """Pass a loop's ``enter_loop`` on to the upstream's operation."""
        child = self._child
        if isinstance(child, RestartableOperation):
            child.enter_loop()

    def retire(self) -> None:
        """Pass a loop's ``retire`` on to the upstream's operation."""
        child = self._child
        if isinstance(child, RestartableOperation):
            child.retire()


class OperationFactory(Protocol):
    """How a :class:`BasicSender` builds its operation state: usually the operation's class,
    constructed as ``Operation(upstream, data, receiver)``."""

    def __call__(
        self, upstream: Any, data: Any, receiver: Receiver[Any], /
    ) -> OperationState:
        """Build the operation state of the sender ``(upstream, data)`` for ``receiver``."""
        ...


@mypyc_attr(allow_interpreted_subclasses=True)
class BasicSender(Sender[Any]):
    """Base of the senders of dsexec's algorithms: ``(upstream, data)``, immutable once built.

    A subclass sets ``name`` and ``operation`` (``connect`` is ``operation(upstream, data,
    receiver)``), or overrides ``connect``; it may override ``check`` (validate and normalise
    the arguments, raising ``TypeError``/``ValueError`` naming the algorithm), ``describe`` and
    ``restartable``. ``restartable_with_upstream = True`` makes it restartable exactly when its
    upstream is (for senders whose operation is the upstream's, or restarts it).
    """

    __slots__ = ("data", "upstream")

    name: ClassVar[str] = "sender"
    operation: ClassVar[OperationFactory]
    restartable_with_upstream: ClassVar[bool] = False

    def __init__(self, upstream: Sender[Any] | None, data: Any = None) -> None:
        self.upstream = upstream
        self.data = data

    def connect(self, receiver: Receiver[Any], /) -> OperationState:
        return self.operation(self.upstream, self.data, receiver)

    @property
    def restartable(self) -> bool:  # type: ignore[override]
        upstream = self.upstream
        return self.restartable_with_upstream and upstream is not None and upstream.restartable

    @classmethod
    def variant(cls, name: str, **members: Any) -> type[Self]:
        """A final subclass for one algorithm of a family: its ``name`` and the class members
        that differ (``operation``, ``receiver_type``, ``restartable``; ``check`` and
        ``describe`` as plain functions of ``data``), without a class statement each."""
        for hook in ("check", "describe"):
            if hook in members:
                members[hook] = staticmethod(members[hook])
        namespace = {"__slots__": (), "__module__": cls.__module__, "name": name, **members}
        variant = type(f"{name}_sender", (cls,), namespace)
        variant.__final__ = True  # type: ignore[attr-defined]
        return variant

    @classmethod
    def check(cls, data: Any) -> Any:
        """The arguments, checked when the pipeline is built; the default accepts anything."""
        return data

    @classmethod
    def describe(cls, data: Any) -> str:
        """The arguments as ``repr`` shows them: ``then(<fn>)``, ``timeout(5)``."""
        return "" if data is None else f"{data!r:.60}"

    @classmethod
    def adaptor(cls, data: Any) -> SenderAdaptor[Any, Any]:
        """The pipe form: ``sender | cls.adaptor(data)`` is ``cls(sender, data)``."""
        return SenderAdaptor(cls.name, cls, data)

    @classmethod
    def call(cls, first: Any, second: Any = MISSING) -> Any:
        """Both call forms of a one-argument algorithm: ``f(arg)`` is the pipe form,
        ``f(sender, arg)`` the sender; the argument is checked either way."""
        if second is MISSING:
            return cls.adaptor(cls.check(first))
        require_sender(cls.name, first)
        return cls(first, cls.check(second))

    @classmethod
    def call_optional(cls, sender: Any = MISSING) -> Any:
        """Both call forms of an algorithm without arguments: ``f()`` and ``f(sender)``."""
        if sender is MISSING:
            return cls.adaptor(None)
        require_sender(cls.name, sender)
        return cls(sender, None)

    def __repr__(self) -> str:
        call = f"{self.name}({self.describe(self.data)})"
        return call if self.upstream is None else f"{self.upstream!r} | {call}"


@mypyc_attr(allow_interpreted_subclasses=True)
class FunctionSender(BasicSender):
    """Base of the algorithms whose argument is a function (``then(f)``, ``let_value(f)``):
    checked to be callable when built, shown by its name in ``repr``."""

    __slots__ = ()

    @classmethod
    def check(cls, data: Any) -> Any:
        require_callable(cls.name, data)
        return data

    @classmethod
    def describe(cls, data: Any) -> str:
        return callable_name(data)


@mypyc_attr(allow_interpreted_subclasses=True)
class SenderArgumentSender(BasicSender):
    """Base of the algorithms whose argument is a sender (``finally_(cleanup)``,
    ``stop_when(trigger)``): checked to be a sender when built (``TypeError`` naming the
    algorithm otherwise)."""

    __slots__ = ()

    @classmethod
    def check(cls, data: Any) -> Any:
        require_sender(cls.name, data)
        return data


@mypyc_attr(allow_interpreted_subclasses=True)
class ReceiverSender(BasicSender):
    """An algorithm that only changes completions: it connects the upstream to
    ``receiver_type(receiver, data)`` (a :class:`ForwardingReceiver`) and has no operation
    state of its own, so it is restartable when the upstream is."""

    __slots__ = ()

    restartable_with_upstream: ClassVar[bool] = True
    receiver_type: ClassVar[type[ForwardingReceiver[Any]]]

    def connect(self, receiver: Receiver[Any], /) -> OperationState:
        upstream = self.upstream
        assert upstream is not None
        return upstream.connect(self.receiver_type(receiver, self.data))


class PreservingAdaptor(Protocol):
    """The type of a pipe form that keeps the value type: ``Sender[T] -> Sender[T]``."""

    def __call__(self, sender: Sender[T], /) -> Sender[T]:
        """Apply the algorithm to ``sender``."""
        ...


class JoiningAdaptor(Protocol[U_co]):
    """The type of a pipe form that adds ``U`` to the value type: ``Sender[T] -> Sender[T | U]``
    (``upon_error(f)``, ``stopped_as_optional()``)."""

    def __call__(self, sender: Sender[T], /) -> Sender[T | U_co]:
        """Apply the algorithm to ``sender``."""
        ...
