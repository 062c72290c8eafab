"""``bulk`` [exec.bulk]: run ``f(i, value)`` for ``i`` in ``range(n)``, then pass the value on.

* On ``set_value(v)``: ``f(0, v)``, ``f(1, v)``, ... ``f(n - 1, v)`` run in order on the
  completing thread, then ``set_value(v)``. With ``vectorized=True``, ``f`` is called once as
  ``f(numpy.arange(n), v)`` instead, for work numpy can do on the whole index array.
* If ``f`` raises, iteration stops and the exception goes down the error channel.
* On stop: the stop token is checked before the first call and every
  :data:`STOP_CHECK_INTERVAL` iterations; once stop is requested the remaining iterations are
  skipped and ``bulk`` completes with ``set_stopped()``.
* Errors and stop from the upstream pass through; ``f`` is not called.

``n`` must be a non-negative integer (``TypeError``/``ValueError`` when built).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import (
    TYPE_CHECKING,
    Any,
    Final,
    Generic,
    Literal,
    SupportsIndex,
    TypeVar,
    final,
    overload,
)

from .._core import (
    MISSING,
    Adaptor,
    Env,
    OperationState,
    Receiver,
    Sender,
    StopToken,
    require_callable,
    require_sender,
)

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["STOP_CHECK_INTERVAL", "bulk"]

T = TypeVar("T")

STOP_CHECK_INTERVAL: Final = 64
"""Iterations between two looks at the stop token (a cheap flag read)."""

_NOT_STOPPED: Final = 0
_STOPPED: Final = 1


@final
class _BulkReceiver(Generic[T]):
    __slots__ = ("_count", "_fn", "_receiver", "_vectorized")

    def __init__(
        self, receiver: Receiver[T], count: int, fn: Callable[[Any, T], object], vectorized: bool
    ) -> None:
        self._receiver = receiver
        self._count = count
        self._fn = fn
        self._vectorized = vectorized

    def set_value(self, value: T, /) -> None:
        receiver = self._receiver
        token = receiver.get_env().stop_token
        try:
            if self._vectorized:
                stopped = _STOPPED if token.stop_requested() else _NOT_STOPPED
                if not stopped:
                    self._fn(_arange(self._count), value)
            elif token.stop_possible():
                stopped = self._run_checking_stop(value, token)
            else:
                stopped = _NOT_STOPPED
                fn = self._fn
                for index in range(self._count):
                    fn(index, value)
        except Exception as exc:
            receiver.set_error(exc)
            return
        if stopped:
            receiver.set_stopped()
        else:
            receiver.set_value(value)

    def _run_checking_stop(self, value: T, token: StopToken) -> int:
        fn = self._fn
        count = self._count
        for begin in range(0, count, STOP_CHECK_INTERVAL):
            if token.stop_requested():
                return _STOPPED
            for index in range(begin, min(begin + STOP_CHECK_INTERVAL, count)):
                fn(index, value)
        return _NOT_STOPPED

    def set_error(self, error: BaseException, /) -> None:
        self._receiver.set_error(error)

    def set_stopped(self) -> None:
        self._receiver.set_stopped()

    def get_env(self) -> Env:
        return self._receiver.get_env()


def _arange(count: int) -> NDArray[np.intp]:
    # numpy is imported on first use so that `import dsexec` stays fast for pipelines that
    # never vectorise (the module is cached after the first call).
    import numpy  # noqa: PLC0415

    return numpy.arange(count, dtype=numpy.intp)


@final
class _BulkSender(Sender[T], Generic[T]):
    __slots__ = ("_count", "_fn", "_sender", "_vectorized")

    def __init__(
        self, sender: Sender[T], count: int, fn: Callable[[Any, T], object], vectorized: bool
    ) -> None:
        self._sender = sender
        self._count = count
        self._fn = fn
        self._vectorized = vectorized

    def connect(self, receiver: Receiver[T], /) -> OperationState:
        return self._sender.connect(
            _BulkReceiver(receiver, self._count, self._fn, self._vectorized)
        )


@final
class _BulkAdaptor(Adaptor):
    """Pipe form of ``bulk(n, f)``: the value type passes through."""

    __slots__ = ("_count", "_fn", "_vectorized")

    def __init__(self, count: int, fn: Callable[[Any, Any], object], vectorized: bool) -> None:
        self._count = count
        self._fn = fn
        self._vectorized = vectorized

    def __call__(self, sender: Sender[T], /) -> Sender[T]:
        require_sender("bulk", sender)
        return _BulkSender(sender, self._count, self._fn, self._vectorized)

    def __repr__(self) -> str:
        return f"<SenderAdaptor bulk({self._count})>"


def _check_count(count: Any) -> int:
    if isinstance(count, bool):
        raise TypeError("bulk: expected an int count, got bool")
    try:
        n = operator.index(count)
    except TypeError:
        raise TypeError(
            f"bulk: expected an int count, got {type(count).__name__} ({count!r:.60})"
        ) from None
    if n < 0:
        raise ValueError(f"bulk: the count must be >= 0, got {n}")
    return n


@overload
def bulk(
    count: SupportsIndex, fn: Callable[[int, Any], object], /, *, vectorized: Literal[False] = False
) -> _BulkAdaptor: ...
@overload
def bulk(
    count: SupportsIndex,
    fn: Callable[[NDArray[np.intp], Any], object],
    /,
    *,
    vectorized: Literal[True],
) -> _BulkAdaptor: ...
@overload
def bulk(
    count: SupportsIndex, fn: Callable[[Any, Any], object], /, *, vectorized: bool
) -> _BulkAdaptor: ...
@overload
def bulk(
    sender: Sender[T],
    count: SupportsIndex,
    fn: Callable[[int, T], object],
    /,
    *,
    vectorized: Literal[False] = False,
) -> Sender[T]: ...
@overload
def bulk(
    sender: Sender[T],
    count: SupportsIndex,
    fn: Callable[[NDArray[np.intp], T], object],
    /,
    *,
    vectorized: Literal[True],
) -> Sender[T]: ...
@overload
def bulk(
    sender: Sender[T],
    count: SupportsIndex,
    fn: Callable[[Any, T], object],
    /,
    *,
    vectorized: bool,
) -> Sender[T]: ...
def bulk(first: Any, second: Any, third: Any = MISSING, /, *, vectorized: bool = False) -> Any:
    """Run ``fn(i, value)`` for ``i`` in ``range(count)``, then complete with the value.

    ``sender | bulk(count, fn)`` or ``bulk(sender, count, fn)``. With ``vectorized=True``,
    ``fn(numpy.arange(count), value)`` is called once instead. If ``fn`` raises, iteration stops
    and the exception goes down the error channel; a stop request is honoured between
    iterations. ``TypeError``/``ValueError`` when built on a bad ``count`` or a non-callable.
    """
    if third is MISSING:
        count = _check_count(first)
        require_callable("bulk", second)
        return _BulkAdaptor(count, second, bool(vectorized))
    require_sender("bulk", first)
    count = _check_count(second)
    require_callable("bulk", third)
    return _BulkSender(first, count, third, bool(vectorized))
