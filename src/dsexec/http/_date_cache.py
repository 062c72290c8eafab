"""``DateCache``: the ``Date`` header value of the current second, formatted once per second.

Every response carries a ``Date``; formatting it costs more than the rest of a small response
head, so the cache keeps the value of the current second. Its clock is injectable
(``time.time`` by default) so tests and virtual-time runs get deterministic dates. Compiled in
the compiled build: every response asks it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Final, final

from ._date import format_http_date

__all__ = ["DateCache"]


@final
class DateCache:
    """The current IMF-fixdate, recomputed only when ``clock()`` enters a new second.

    ``DateCache().get()`` is the value for a ``Date`` header (``serialize_response_head(...,
    date=cache.get())``). ``clock`` returns seconds since the epoch (``time.time`` by
    default); a bad reading raises as in :func:`format_http_date`.
    """

    __slots__ = ("_clock", "_second", "_value")

    # The reading is an object until format_http_date has accepted it: a compiled build
    # would otherwise reject a bad one with its own TypeError before that one names it.
    _clock: Callable[[], object]
    _second: float
    _value: bytes

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        if not callable(clock):
            raise TypeError(f"DateCache: clock must be callable, got {clock!r}")
        self._clock = clock
        self._second = -math.inf  # no reading matches before the first one
        self._value = b""

    def get(self) -> bytes:
        """The ``Date`` value for the clock's current second (cached within the second)."""
        now = self._clock()
        # NaN fails these tests and goes to format_http_date, which rejects it. The first
        # test is for time.time()'s floats, without a call; an int reading takes the second.
        if type(now) is float and self._second <= now < self._second + 1.0:
            return self._value
        if (
            isinstance(now, int)
            and not isinstance(now, bool)
            and self._second <= now < self._second + 1.0
        ):
            return self._value
        value = format_http_date(now)  # type: ignore[arg-type]  # it names a bad reading
        self._second = float(int(now))  # type: ignore[call-overload]  # a number, just checked
        self._value = value
        return value


SERVER_DATES: Final = DateCache()
"""The ``Date`` every response of ``dsexec.http`` carries: one cache for the whole package."""
