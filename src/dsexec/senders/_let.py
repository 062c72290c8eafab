"""``let_value``, ``let_error``, ``let_stopped`` [exec.let]: continue with the sender a function
returns.

* ``let_value(f)``: ``set_value(v)`` calls ``f(v)``, which returns a sender; that sender is
  connected to the downstream receiver and started, and its completion is the result (a
  sender that can complete at once, such as ``just`` or a write that fits the socket buffer,
  does so without building an operation state: ``Sender._connect_or_complete``).
* ``let_error(f)``: the same for ``set_error(e)``, with ``f(e)``.
* ``let_stopped(f)``: the same for ``set_stopped()``, with ``f()``.

The other channels pass through untouched and ``f`` is not called. If ``f`` raises, returns
something that is not a sender (``TypeError`` naming the algorithm), or connecting the returned
sender raises, that exception goes down the error channel.

On stop: both senders run with the downstream receiver's environment, so a stop request reaches
the first sender while it runs and the second one once it is started; neither is shielded.

The operation state owns the first sender's operation state (it is that operation's receiver)
and, once ``f`` has run, the second one, so both stay alive until the whole operation completes.
The senders are restartable (see ``_trampoline.py``) when the upstream is: restarting the
operation drops the previous round's second operation and starts the first one again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, NoReturn, TypeVar, final, overload

from typing_extensions import TypeVar as DefaultTypeVar

from .._core import (
    MISSING,
    Adaptor,
    Env,
    OperationState,
    Receiver,
    Sender,
    SenderAdaptor,
    require_callable,
    require_sender,
)

__all__ = ["let_error", "let_stopped", "let_value", "not_a_sender"]

T = TypeVar("T")
U = TypeVar("U")
TA = DefaultTypeVar("TA", default=Any)


def not_a_sender(name: str, sender: object) -> NoReturn:
    """Raise the ``TypeError`` of a ``let_*`` function that returned ``sender``, no Sender."""
    raise TypeError(
        f"{name}: the function must return a Sender, got {type(sender).__name__} "
        f"({sender!r:.60})"
    )


def _let_value_sender(sender: Sender[T], fn: Callable[[T], Sender[U]]) -> Sender[U]:
    """``let_value(sender, fn)``: the upstream's fused form if it has one, else the generic.

    Like a P2300 domain customising an algorithm, a sender may implement
    ``_fuse_let_value(fn)`` and return one sender doing both steps (``async_read`` does: a
    read-and-answer loop then runs on one operation state), or ``None`` to decline. The fused
    sender must behave exactly as ``_LetValueSender(sender, fn)`` does.
    """
    fuse = getattr(sender, "_fuse_let_value", None)
    if fuse is not None:
        fused: Sender[U] | None = fuse(fn)
        if fused is not None:
            return fused
    return _LetValueSender(sender, fn)


class _LetOp:
    """Shared state of the three ``let_*`` operations; the op is the first sender's receiver."""

    __slots__ = ("_first", "_fn", "_receiver", "_second")

    def __init__(
        self, sender: Sender[Any], receiver: Receiver[Any], fn: Callable[..., Any]
    ) -> None:
        self._receiver = receiver
        self._fn = fn
        self._second: OperationState | None = None
        self._first = sender.connect(self)

    def start(self) -> None:
        self._second = None  # a restart: the previous round's second operation is done
        self._first.start()

    # A loop restarting this operation (_trampoline.py) talks to the first operation.
    def _enter_loop(self) -> None:
        enter = getattr(self._first, "_enter_loop", None)
        if enter is not None:
            enter()

    def _retire(self) -> None:
        retire = getattr(self._first, "_retire", None)
        if retire is not None:
            retire()

    def get_env(self) -> Env:
        return self._receiver.get_env()

    # Pass-through channels; each subclass overrides the one its function handles.
    def set_value(self, value: Any, /) -> None:
        self._receiver.set_value(value)

    def set_error(self, error: BaseException, /) -> None:
        self._receiver.set_error(error)

    def set_stopped(self) -> None:
        self._receiver.set_stopped()

    def _continue_with(self, name: str, sender: object) -> None:
        if not isinstance(sender, Sender):
            try:
                not_a_sender(name, sender)
            except TypeError as exc:
                self._receiver.set_error(exc)
            return
        op = sender._connect_or_complete(self._receiver)  # errors went to the receiver
        if op is not None:  # else it completed already (see Sender._connect_or_complete)
            self._second = op
            op.start()


@final
class _LetValueOp(_LetOp):
    __slots__ = ()

    def set_value(self, value: Any, /) -> None:
        # _continue_with inlined: this is the per-round path of a read/answer loop
        receiver = self._receiver
        try:
            sender = self._fn(value)
            if not isinstance(sender, Sender):
                not_a_sender("let_value", sender)
        except Exception as exc:
            receiver.set_error(exc)
            return
        op = sender._connect_or_complete(receiver)  # errors from connect went to the receiver
        if op is not None:  # else it completed already (see Sender._connect_or_complete)
            self._second = op
            op.start()


@final
class _LetErrorOp(_LetOp):
    __slots__ = ()

    def set_error(self, error: BaseException, /) -> None:
        try:
            sender = self._fn(error)
        except Exception as exc:
            self._receiver.set_error(exc)
            return
        self._continue_with("let_error", sender)


@final
class _LetStoppedOp(_LetOp):
    __slots__ = ()

    def set_stopped(self) -> None:
        try:
            sender = self._fn()
        except Exception as exc:
            self._receiver.set_error(exc)
            return
        self._continue_with("let_stopped", sender)


@final
class _LetValueSender(Sender[U], Generic[T, U]):
    __slots__ = ("_fn", "_sender")

    @property
    def _restartable(self) -> bool:
        return getattr(self._sender, "_restartable", False) is True

    def __init__(self, sender: Sender[T], fn: Callable[[T], Sender[U]]) -> None:
        self._sender = sender
        self._fn = fn

    def connect(self, receiver: Receiver[U], /) -> OperationState:
        return _LetValueOp(self._sender, receiver, self._fn)


@final
class _LetErrorSender(Sender[T | U], Generic[T, U]):
    __slots__ = ("_fn", "_sender")

    @property
    def _restartable(self) -> bool:
        return getattr(self._sender, "_restartable", False) is True

    def __init__(self, sender: Sender[T], fn: Callable[[BaseException], Sender[U]]) -> None:
        self._sender = sender
        self._fn = fn

    def connect(self, receiver: Receiver[T | U], /) -> OperationState:
        return _LetErrorOp(self._sender, receiver, self._fn)


@final
class _LetStoppedSender(Sender[T | U], Generic[T, U]):
    __slots__ = ("_fn", "_sender")

    @property
    def _restartable(self) -> bool:
        return getattr(self._sender, "_restartable", False) is True

    def __init__(self, sender: Sender[T], fn: Callable[[], Sender[U]]) -> None:
        self._sender = sender
        self._fn = fn

    def connect(self, receiver: Receiver[T | U], /) -> OperationState:
        return _LetStoppedOp(self._sender, receiver, self._fn)


@final
class _LetAdaptor(Adaptor, Generic[U]):
    """Pipe form of ``let_error``/``let_stopped``: the result type joins the upstream's."""

    __slots__ = ("_fn", "_name")

    def __init__(self, name: str, fn: Callable[..., Sender[U]]) -> None:
        self._name = name
        self._fn = fn

    def __call__(self, sender: Sender[T], /) -> Sender[T | U]:
        require_sender(self._name, sender)
        if self._name == "let_error":
            return _LetErrorSender(sender, self._fn)
        return _LetStoppedSender(sender, self._fn)

    def __repr__(self) -> str:
        return f"<SenderAdaptor {self._name}>"


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
    if fn is MISSING:
        require_callable("let_value", first)
        return SenderAdaptor("let_value", _let_value_sender, first)
    require_sender("let_value", first)
    require_callable("let_value", fn)
    return _let_value_sender(first, fn)


@overload
def let_error(fn: Callable[[BaseException], Sender[U]], /) -> _LetAdaptor[U]: ...
@overload
def let_error(sender: Sender[T], fn: Callable[[BaseException], Sender[U]], /) -> Sender[T | U]: ...
def let_error(first: Any, fn: Any = MISSING, /) -> Any:
    """Continue with a sender built from the error: ``sender | let_error(f)``.

    ``f(error)`` returns the sender whose completion becomes the result (it may recover with a
    value, or fail again). Values and stop pass through; if ``f`` raises or returns a
    non-sender, that exception is the new error.
    """
    if fn is MISSING:
        require_callable("let_error", first)
        return _LetAdaptor("let_error", first)
    require_sender("let_error", first)
    require_callable("let_error", fn)
    return _LetErrorSender(first, fn)


@overload
def let_stopped(fn: Callable[[], Sender[U]], /) -> _LetAdaptor[U]: ...
@overload
def let_stopped(sender: Sender[T], fn: Callable[[], Sender[U]], /) -> Sender[T | U]: ...
def let_stopped(first: Any, fn: Any = MISSING, /) -> Any:
    """Continue with the sender ``f()`` returns when the upstream is stopped.

    Values and errors pass through; if ``f`` raises or returns a non-sender, the exception goes
    down the error channel.
    """
    if fn is MISSING:
        require_callable("let_stopped", first)
        return _LetAdaptor("let_stopped", first)
    require_sender("let_stopped", first)
    require_callable("let_stopped", fn)
    return _LetStoppedSender(first, fn)
