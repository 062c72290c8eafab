"""``retry(n)``: re-run the upstream sender after an error (stdexec's ``exec::retry``, with a
bound on the number of attempts).

On error: the upstream is connected afresh and started again, at most ``n`` more times
(``n=None``: for ever); once the retries are used up, the last error is delivered. Values and
stop pass through (the first value ends the loop). On stop: the running attempt sees the
downstream's stop token and its ``set_stopped`` is delivered; an attempt that fails after stop
was requested is not retried: ``retry`` completes with ``set_stopped``.

Attempts that fail inline inside ``start()`` loop instead of recursing (see ``_trampoline.py``),
so retrying a synchronous failure a million times is stack-safe.
"""

from __future__ import annotations

from typing import Any, TypeVar, final, overload

from .._core import (
    MISSING,
    BasicSender,
    OperationState,
    PreservingAdaptor,
    Receiver,
    Sender,
    check_count,
)
from ._trampoline import RestartLoop

__all__ = ["retry"]

T = TypeVar("T")


@final
class _RetryOp(RestartLoop):
    __slots__ = ("_remaining", "_sender")

    def __init__(self, sender: Sender[Any], retries: int | None, receiver: Receiver[Any]) -> None:
        super().__init__(False, receiver)  # a failed attempt is connected afresh
        self._sender = sender
        self._remaining = retries

    def start(self) -> None:
        self._start_loop(self._receiver.get_env())

    def _connect_child(self) -> OperationState:
        return self._sender.connect(self)

    # The child's receiver interface (the operation state is its own child's receiver).

    def set_value(self, value: Any, /) -> None:
        self._child = None
        self._receiver.set_value(value)

    def set_error(self, error: BaseException, /) -> None:
        self._child = None
        remaining = self._remaining
        if remaining is not None:
            if remaining == 0:
                self._receiver.set_error(error)
                return
            self._remaining = remaining - 1
        self._restart()  # unless stop was requested meanwhile

    def set_stopped(self) -> None:
        self._child = None
        self._receiver.set_stopped()


def _check_retries(retries: Any) -> int | None:
    return None if retries is None else check_count("retry", retries, "number of retries")


_RetrySender = BasicSender.variant("retry", operation=_RetryOp, check=_check_retries, describe=str)


@overload
def retry(n: int | None = None, /) -> PreservingAdaptor: ...
@overload
def retry(sender: Sender[T], n: int | None = None, /) -> Sender[T]: ...
def retry(first: Any = None, n: Any = MISSING, /) -> Any:
    """Re-run the upstream after an error, at most ``n`` more times (``None``: no limit).

    ``sender | retry(3)`` makes up to four attempts and then delivers the last error. Values
    and stop pass through. ``TypeError`` when built if ``n`` is not an int or ``None``,
    ``ValueError`` if it is negative.
    """
    if isinstance(first, Sender):
        return _RetrySender.call(first, None if n is MISSING else n)
    return _RetrySender.call(first, n)
