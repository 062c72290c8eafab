"""The ``Date`` header value: IMF-fixdate (RFC 9110 section 5.6.7), formatted once per second.

Every response carries a ``Date``; formatting it costs more than the rest of a small response
head, so :class:`DateCache` keeps the value of the current second. Its clock is injectable
(``time.time`` by default) so tests and virtual-time runs get deterministic dates.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Final, final

__all__ = ["DateCache", "format_http_date"]

# 9999-12-31T23:59:59Z + 1: IMF-fixdate has a four-digit year.
_END_OF_YEAR_9999: Final = 253402300800


def format_http_date(timestamp: float, /) -> bytes:
    """``timestamp`` (seconds since the epoch, UTC) as IMF-fixdate bytes, e.g.
    ``b"Sun, 06 Nov 1994 08:49:37 GMT"``; fractions of a second are dropped.

    ``TypeError`` for a non-number, ``ValueError`` for NaN, infinities, negative times and
    years past 9999.
    """
    number: object = timestamp
    if not isinstance(number, int | float) or isinstance(number, bool):
        raise TypeError(f"format_http_date: timestamp must be a number, got {timestamp!r}")
    if not (math.isfinite(timestamp) and 0 <= timestamp < _END_OF_YEAR_9999):
        raise ValueError(
            f"format_http_date: timestamp must be finite and in 0..{_END_OF_YEAR_9999}, "
            f"got {timestamp!r}"
        )
    # email.utils.formatdate uses its own English day and month names: no locale involved.
    return formatdate(int(timestamp), usegmt=True).encode("ascii")


@final
class DateCache:
    """The current IMF-fixdate, recomputed only when ``clock()`` enters a new second.

    ``DateCache().get()`` is the value for a ``Date`` header (``serialize_response_head(...,
    date=cache.get())``). ``clock`` returns seconds since the epoch (``time.time`` by
    default); a bad reading raises as in :func:`format_http_date`.
    """

    __slots__ = ("_clock", "_second", "_value")

    _second: float

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        if not callable(clock):
            raise TypeError(f"DateCache: clock must be callable, got {clock!r}")
        self._clock = clock
        self._second = -math.inf  # no reading matches before the first one
        self._value = b""

    def get(self) -> bytes:
        """The ``Date`` value for the clock's current second (cached within the second)."""
        now = self._clock()
        try:
            # NaN fails this test and goes to format_http_date, which rejects it.
            if self._second <= now < self._second + 1:
                return self._value
        except TypeError:
            pass  # not a number: format_http_date says so
        value = format_http_date(now)
        self._second = float(int(now))
        self._value = value
        return value
