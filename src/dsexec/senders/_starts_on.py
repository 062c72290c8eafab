"""``starts_on(sch, sender)`` [exec.starts.on]: start ``sender`` on ``sch``'s execution resource.

Starting the operation starts ``sch.schedule()``; when that completes (on ``sch``), ``sender``
is connected and started there, with ``scheduler=sch`` in its environment (so ``get_scheduler``
inside it answers ``sch``, and algorithms such as ``timeout`` find their timer there). The
result is ``sender``'s completion, whatever channel, on whatever resource it completes on.

On error: if scheduling onto ``sch`` fails, that error is delivered and ``sender`` is never
started; if connecting ``sender`` raises, that exception is delivered. On stop: a stop request
before the hop completes the operation with ``set_stopped`` (the scheduler withdraws the hop)
and ``sender`` is not started; afterwards ``sender`` sees the same stop token.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar, final

from .._core import (
    BasicSender,
    Env,
    ForwardingReceiver,
    OperationState,
    Receiver,
    Scheduler,
    Sender,
    require_sender,
)

__all__ = ["starts_on"]

T = TypeVar("T")


def require_scheduler(algorithm: str, obj: object) -> None:
    """Raise ``TypeError`` naming ``algorithm`` unless ``obj`` has a callable ``schedule``."""
    if not callable(getattr(obj, "schedule", None)):
        raise TypeError(
            f"{algorithm}: expected a scheduler (an object with .schedule()), "
            f"got {type(obj).__name__} ({obj!r:.60})"
        )


@final
class _EnvReceiver(ForwardingReceiver[Any]):
    """Forwards completions and answers ``data`` (an environment) instead of the downstream's."""

    __slots__ = ()

    def get_env(self) -> Env:
        env: Env = self.data
        return env


@final
class _StartsOnOp:
    """Receiver of the hop onto ``sch``, then holder of ``sender``'s operation state."""

    __slots__ = ("_child", "_receiver", "_scheduler", "_sender")

    def __init__(self, sender: Sender[Any], scheduler: Scheduler, receiver: Receiver[Any]) -> None:
        self._scheduler = scheduler
        self._sender = sender
        self._receiver = receiver
        self._child: OperationState | None = None

    def start(self) -> None:
        try:
            hop = self._scheduler.schedule().connect(self)
        except Exception as exc:
            self._receiver.set_error(exc)
            return
        self._child = hop
        hop.start()

    def set_value(self, value: None, /) -> None:
        receiver = self._receiver
        env = receiver.get_env().with_scheduler(self._scheduler)
        try:
            child = self._sender.connect(_EnvReceiver(receiver, env))
        except Exception as exc:
            self._child = None
            receiver.set_error(exc)
            return
        self._child = child
        child.start()

    def set_error(self, error: BaseException, /) -> None:
        self._child = None
        self._receiver.set_error(error)

    def set_stopped(self) -> None:
        self._child = None
        self._receiver.set_stopped()

    def get_env(self) -> Env:
        return self._receiver.get_env()


@final
class _StartsOnSender(BasicSender):
    """``upstream`` is the sender to start; ``data`` the scheduler."""

    __slots__ = ()
    name: ClassVar[str] = "starts_on"
    operation = _StartsOnOp

    def __repr__(self) -> str:
        return f"starts_on({self.data!r}, {self.upstream!r})"


def starts_on(scheduler: Scheduler, sender: Sender[T], /) -> Sender[T]:
    """Start ``sender`` on ``scheduler``; ``get_scheduler`` inside it answers ``scheduler``.

    ``TypeError`` when built if ``scheduler`` has no ``schedule()`` or ``sender`` is not a
    Sender.
    """
    require_scheduler("starts_on", scheduler)
    require_sender("starts_on", sender)
    return _StartsOnSender(sender, scheduler)
