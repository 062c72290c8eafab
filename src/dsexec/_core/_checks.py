"""Argument checks shared by the algorithms: delays, deadlines and counts, raised when the
pipeline is built with a message naming the function.

Delays and deadlines are shared by every timed sender and clock.

One rule for every form -- ``sch.schedule_after(s)``, ``schedule_after(sch, s)``,
``timeout(s)``, ``VirtualTimeScheduler.advance(s)``: a delay is a real number (not a ``bool``),
not NaN and not negative; ``math.inf`` is allowed and means "never". A deadline may be any real
number but NaN (one in the past is due at once; ``math.inf`` never is). Errors are raised when
the sender is built, naming the function that got the bad value.
"""

from __future__ import annotations

import math
import operator
from numbers import Real
from typing import Any

__all__ = ["callable_name", "check_count", "check_deadline", "check_delay"]


def _as_seconds(algorithm: str, what: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(
            f"{algorithm}: expected the {what} in seconds as a number, "
            f"got {type(value).__name__} ({value!r:.60})"
        )
    seconds = float(value)
    if math.isnan(seconds):
        raise ValueError(f"{algorithm}: the {what} is NaN; use math.inf for 'never'")
    return seconds


def check_delay(algorithm: str, value: object, what: str = "delay") -> float:
    """``value`` as a float number of seconds >= 0 (``math.inf`` allowed: never).

    ``TypeError`` for a non-number (or a ``bool``), ``ValueError`` for NaN or a negative value,
    each naming ``algorithm``.
    """
    seconds = _as_seconds(algorithm, what, value)
    if seconds < 0.0:
        raise ValueError(f"{algorithm}: the {what} must be >= 0 seconds, got {value!r}")
    return seconds


def check_deadline(algorithm: str, value: object) -> float:
    """``value`` as a float deadline on a scheduler's clock: any number but NaN."""
    return _as_seconds(algorithm, "deadline", value)


def check_count(algorithm: str, value: object, what: str = "count") -> int:
    """``value`` as an int >= 0 (anything with ``__index__`` but a ``bool``); ``TypeError`` /
    ``ValueError`` naming ``algorithm`` otherwise."""
    if isinstance(value, bool):
        raise TypeError(f"{algorithm}: expected an int {what}, got bool")
    try:
        count = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"{algorithm}: expected an int {what}, got {type(value).__name__} ({value!r:.60})"
        ) from None
    if count < 0:
        raise ValueError(f"{algorithm}: the {what} must be >= 0, got {count}")
    return count


def callable_name(fn: Any) -> str:
    """How ``repr`` shows a function argument: its qualified name."""
    return getattr(fn, "__qualname__", type(fn).__name__)
