"""``let_value``, ``let_error``, ``let_stopped`` [exec.let]: continue with the sender a function
returns.

* ``let_value(f)``: ``set_value(v)`` calls ``f(v)``, which returns a sender; that sender is
  connected to the downstream receiver and started, and its completion is the result (a
  sender that can complete at once, such as ``just`` or a write that fits the socket buffer,
  does so without building an operation state: ``Sender.connect_or_complete``).
* ``let_error(f)``: the same for ``set_error(e)``, with ``f(e)``.
* ``let_stopped(f)``: the same for ``set_stopped()``, with ``f()``.

The other channels pass through untouched and ``f`` is not called. If ``f`` raises, returns
something that is not a sender (``TypeError`` naming the algorithm), or connecting the returned
sender raises, that exception goes down the error channel.

On stop: both senders run with the downstream receiver's environment, so a stop request reaches
the first sender while it runs and the second one once it is started; neither is shielded.

The operation state owns the first sender's operation state (it is that operation's receiver)
and, once ``f`` has run, the second one, so both stay alive until the whole operation completes.
The senders are restartable (``Sender.restartable``) when the upstream is: restarting the
operation drops the previous round's second operation and starts the first one again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, final, overload

from mypy_extensions import mypyc_attr
from typing_extensions import TypeVar as DefaultTypeVar

from .._core import (
    MISSING,
    Env,
    FunctionSender,
    JoiningAdaptor,
    LetValueSender,
    OperationState,
    Receiver,
    Sender,
    SenderAdaptor,
    WrappingOperation,
    connect_continuation,
    not_a_sender,
)

__all__ = ["let_error", "let_stopped", "let_value", "not_a_sender"]

T = TypeVar("T")
U = TypeVar("U")
TA = DefaultTypeVar("TA", default=Any)


class _LetOp(WrappingOperation):
    """Shared state of the three ``let_*`` operations; the op is the first sender's receiver
    (``_child``: the first operation, which a loop restarting this one talks to).

    Each subclass overrides the channel its function handles -- the second step,
    ``connect_continuation``, whose operation state is stored before it starts (a completion
    inside ``start()`` may restart this operation, which drops it) -- and the others pass
    through.
    """

    __slots__ = ("_fn", "_receiver", "_second")

    name: ClassVar[str]

    def __init__(
        self, sender: Sender[Any], fn: Callable[..., Any], receiver: Receiver[Any]
    ) -> None:
        self._receiver = receiver
        self._fn = fn
        self._second: OperationState | None = None
        self._child = sender.connect(self)

    def start(self) -> None:
        self._second = None  # a restart: the previous round's second operation is done
        self._child.start()

    def get_env(self) -> Env:
        return self._receiver.get_env()

    def set_value(self, value: Any, /) -> None:
        self._receiver.set_value(value)

    def set_error(self, error: BaseException, /) -> None:
        self._receiver.set_error(error)

    def set_stopped(self) -> None:
        self._receiver.set_stopped()



@final
class _LetValueOp(_LetOp):
    __slots__ = ()
    name: ClassVar[str] = "let_value"

    def set_value(self, value: Any, /) -> None:
        op = self._second = connect_continuation(self.name, self._fn, (value,), self._receiver)
        if op is not None:
            op.start()


@final
class _LetErrorOp(_LetOp):
    __slots__ = ()
    name: ClassVar[str] = "let_error"

    def set_error(self, error: BaseException, /) -> None:
        op = self._second = connect_continuation(self.name, self._fn, (error,), self._receiver)
        if op is not None:
            op.start()


@final
class _LetStoppedOp(_LetOp):
    __slots__ = ()
    name: ClassVar[str] = "let_stopped"

    def set_stopped(self) -> None:
        op = self._second = connect_continuation(self.name, self._fn, (), self._receiver)
        if op is not None:
            op.start()


@mypyc_attr(allow_interpreted_subclasses=True)  # for variant()
class _LetSender(FunctionSender):
    """``data`` is the function; the operation restarts the upstream's, so the sender is
    restartable when the upstream is."""

    __slots__ = ()
    restartable_with_upstream: ClassVar[bool] = True


_LetValueSender = LetValueSender.variant("let_value", operation=_LetValueOp)
_LetErrorSender = _LetSender.variant("let_error", operation=_LetErrorOp)
_LetStoppedSender = _LetSender.variant("let_stopped", operation=_LetStoppedOp)


@overload
def let_value(fn: Callable[[TA], Sender[U]], /) -> SenderAdaptor[TA, U]: ...
@overload
def let_value(sender: Sender[T], fn: Callable[[T], Sender[U]], /) -> Sender[U]: ...
def let_value(first: Any, fn: Any = MISSING, /) -> Any:
    """Continue with a sender built from the value: ``sender | let_value(f)``.

    ``f(value)`` returns the sender whose completion becomes the result. Errors and stop pass
    through without calling ``f``; if ``f`` raises or returns a non-sender, the exception goes
    down the error channel. ``TypeError`` when built if ``f`` is not callable.
    """
    return _LetValueSender.call(first, fn)


@overload
def let_error(fn: Callable[[BaseException], Sender[U]], /) -> JoiningAdaptor[U]: ...
@overload
def let_error(sender: Sender[T], fn: Callable[[BaseException], Sender[U]], /) -> Sender[T | U]: ...
def let_error(first: Any, fn: Any = MISSING, /) -> Any:
    """Continue with a sender built from the error: ``sender | let_error(f)``.

    ``f(error)`` returns the sender whose completion becomes the result (it may recover with a
    value, or fail again). Values and stop pass through; if ``f`` raises or returns a
    non-sender, that exception is the new error.
    """
    return _LetErrorSender.call(first, fn)


@overload
def let_stopped(fn: Callable[[], Sender[U]], /) -> JoiningAdaptor[U]: ...
@overload
def let_stopped(sender: Sender[T], fn: Callable[[], Sender[U]], /) -> Sender[T | U]: ...
def let_stopped(first: Any, fn: Any = MISSING, /) -> Any:
    """Continue with the sender ``f()`` returns when the upstream is stopped.

    Values and errors pass through; if ``f`` raises or returns a non-sender, the exception goes
    down the error channel.
    """
    return _LetStoppedSender.call(first, fn)
