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

from collections.abc import Callable
from typing import (
    TYPE_CHECKING,
    Any,
    Final,
    Literal,
    SupportsIndex,
    TypeVar,
    final,
    overload,
)

from .._core import (
    MISSING,
    ForwardingReceiver,
    PreservingAdaptor,
    ReceiverSender,
    Sender,
    StopToken,
    check_count,
    require_callable,
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
class _BulkReceiver(ForwardingReceiver[Any]):
    """``data`` is ``(count, fn, vectorized)``."""

    __slots__ = ()

    def set_value(self, value: Any, /) -> None:
        receiver = self.receiver
        count, fn, vectorized = self.data
        token = receiver.get_env().stop_token
        try:
            if vectorized:
                stopped = _STOPPED if token.stop_requested() else _NOT_STOPPED
                if not stopped:
                    fn(_arange(count), value)
            elif token.stop_possible():
                stopped = _run_checking_stop(count, fn, value, token)
            else:
                stopped = _NOT_STOPPED
                for index in range(count):
                    fn(index, value)
        except Exception as exc:
            receiver.set_error(exc)
            return
        if stopped:
            receiver.set_stopped()
        else:
            receiver.set_value(value)


def _run_checking_stop(
    count: int, fn: Callable[[int, Any], object], value: Any, token: StopToken
) -> int:
    for begin in range(0, count, STOP_CHECK_INTERVAL):
        if token.stop_requested():
            return _STOPPED
        for index in range(begin, min(begin + STOP_CHECK_INTERVAL, count)):
            fn(index, value)
    return _NOT_STOPPED


def _arange(count: int) -> NDArray[np.intp]:
    # numpy is imported on first use so that `import dsexec` stays fast for pipelines that
    # never vectorise (the module is cached after the first call).
    import numpy  # noqa: PLC0415

    return numpy.arange(count, dtype=numpy.intp)


def _check(data: tuple[Any, Any, Any]) -> tuple[int, Callable[[Any, Any], object], bool]:
    count, fn, vectorized = data
    require_callable("bulk", fn)
    return check_count("bulk", count), fn, bool(vectorized)


_BulkSender = ReceiverSender.variant(
    "bulk", receiver_type=_BulkReceiver, check=_check, describe=lambda data: str(data[0])
)


@overload
def bulk(
    count: SupportsIndex, fn: Callable[[int, Any], object], /, *, vectorized: Literal[False] = False
) -> PreservingAdaptor: ...
@overload
def bulk(
    count: SupportsIndex,
    fn: Callable[[NDArray[np.intp], Any], object],
    /,
    *,
    vectorized: Literal[True],
) -> PreservingAdaptor: ...
@overload
def bulk(
    count: SupportsIndex, fn: Callable[[Any, Any], object], /, *, vectorized: bool
) -> PreservingAdaptor: ...
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
        return _BulkSender.call((first, second, vectorized))
    return _BulkSender.call(first, (second, third, vectorized))
