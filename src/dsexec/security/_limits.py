"""``Limits``: the resource limits and timeouts a server enforces per connection, as one value.

The defaults are production values in line with nginx, uvicorn and h11:

================================  ==========  =============================================
field                             default     what it bounds
================================  ==========  =============================================
``max_connections``               1000        connections open at once; the next gets 503
``max_header_bytes``              65536       request line plus headers (h11: 16 KiB,
                                              nginx: 4 x 8 KiB, uvicorn/httptools: 64 KiB)
``max_body_bytes``                1048576     one request body (nginx ``client_max_body_size``)
``header_timeout``                10 s        from accept (or the previous response) to the
                                              end of the headers: slowloris
``request_timeout``               60 s        absolute deadline for the whole request
``idle_timeout``                  5 s         keep-alive wait for the next request (uvicorn)
``write_timeout``                 30 s        a response write making no progress: slow reader
``tls_handshake_timeout``         10 s        the TLS handshake
================================  ==========  =============================================

Counts and sizes are ``int`` (never ``bool`` or ``float``); timeouts are seconds as ``int`` or
``float``, greater than zero, and either at most one day or ``math.inf`` for "no limit". The cap
is not arbitrary: a timer further away than about 24.8 days overflows ``epoll``'s millisecond
timeout, and a finite timeout of more than a day is more likely a unit mistake than a wish;
``math.inf`` says "never" explicitly, and a server arms no timer for it.
"""

from __future__ import annotations

import math
import sys
from typing import Any, Final, final

import attrs

__all__ = ["Limits"]

_MAX_TIMEOUT: Final = 86_400.0  # one day; see the module docstring


def _count(minimum: int) -> Any:
    """An attrs validator: an ``int`` (not a ``bool``) in ``minimum..sys.maxsize``."""

    def check(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(
                f"Limits: {attribute.name} must be an int, got {type(value).__name__} ({value!r})"
            )
        if not minimum <= value <= sys.maxsize:
            raise ValueError(
                f"Limits: {attribute.name} must be an int in {minimum}..{sys.maxsize}, "
                f"got {value!r}"
            )

    return check


def _seconds(_instance: object, attribute: attrs.Attribute[float], value: object) -> None:
    """An attrs validator: seconds in (0, one day], or ``math.inf`` for no limit."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(
            f"Limits: {attribute.name} must be a number of seconds (int or float), "
            f"got {type(value).__name__} ({value!r})"
        )
    if value == math.inf:
        return
    if math.isnan(value) or not 0 < value <= _MAX_TIMEOUT:
        raise ValueError(
            f"Limits: {attribute.name} must be seconds > 0 and <= {_MAX_TIMEOUT:g} (one day), "
            f"or math.inf for no limit; got {value!r}"
        )


@final
@attrs.frozen
class Limits:
    """Connection limits and timeouts for a server, validated when built.

    ``Limits()`` gives production defaults; override by keyword (``Limits(max_connections=
    5000)``) or derive with ``attrs.evolve(limits, idle_timeout=15)``. Counts and sizes are
    ``int`` >= 1 (``max_body_bytes`` may be 0: no bodies at all); timeouts are seconds > 0 and
    at most one day, or ``math.inf`` for no limit. A wrong type is a ``TypeError``; a negative,
    zero, NaN or too large value a ``ValueError`` naming the field and the value.
    """

    max_connections: int = attrs.field(default=1000, validator=_count(1))
    """Connections open at the same time; past it a new client gets 503 and a close."""
    max_header_bytes: int = attrs.field(default=64 * 1024, validator=_count(1))
    """Bytes of the request line and headers together; past it: 431 and a close."""
    max_body_bytes: int = attrs.field(default=1024 * 1024, validator=_count(0))
    """Bytes of one request body; past it: 413 and a close."""
    header_timeout: float = attrs.field(default=10.0, validator=_seconds)
    """Seconds from accept (or the end of the previous response) to the end of the headers."""
    request_timeout: float = attrs.field(default=60.0, validator=_seconds)
    """Seconds to read one whole request, headers and body: an absolute deadline."""
    idle_timeout: float = attrs.field(default=5.0, validator=_seconds)
    """Seconds a keep-alive connection may wait for its next request."""
    write_timeout: float = attrs.field(default=30.0, validator=_seconds)
    """Seconds a response write may go without progress (a peer that does not read); for a
    streamed body, per piece. ``serve_http`` sees progress on Linux (``TCP_INFO``); elsewhere,
    and over TLS, the write has this long in all."""
    tls_handshake_timeout: float = attrs.field(default=10.0, validator=_seconds)
    """Seconds the TLS handshake may take."""
