"""The ``Date`` header value: IMF-fixdate (RFC 9110 section 5.6.7).

Formatting it costs more than the rest of a small response head: ``DateCache``
(``_date_cache.py``) keeps the value of the current second.
"""

from __future__ import annotations

import math
from email.utils import formatdate
from typing import Final

__all__ = ["format_http_date"]

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
