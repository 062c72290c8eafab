"""The checks of ``Response``'s fields, run for every response a handler builds: apart from the
attrs class so that the compiled build compiles them.

Values are taken as ``object``s (or protocols, which a compiled function does not check on
entry): a bad one is named by these checks (``TypeError``/``ValueError`` naming the field),
not by the compiled build's own type check.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._bodies import Body, FileBody, StreamBody

__all__ = ["check_status", "to_body", "to_headers"]


def to_headers(value: Iterable[tuple[bytes, bytes]]) -> tuple[tuple[bytes, bytes], ...]:
    """``Response.headers``' converter: a tuple of ``(bytes, bytes)`` pairs."""
    headers = tuple(value)
    # Each pair as an object until checked (compiled, a typed loop variable would be
    # unpacked, and a bad pair refused, before the check below can name it).
    pairs: tuple[object, ...] = headers
    for candidate in pairs:
        # The usual pair, by exact types (a handful of C calls); anything else is checked
        # properly below (bytes subclasses are fine too).
        if (
            type(candidate) is tuple
            and len(candidate) == 2
            and type(candidate[0]) is bytes
            and type(candidate[1]) is bytes
        ):
            continue
        if not (
            isinstance(candidate, tuple)
            and len(candidate) == 2
            and isinstance(candidate[0], bytes)
            and isinstance(candidate[1], bytes)
        ):
            raise TypeError(
                f"Response: headers must be (bytes, bytes) pairs, got {candidate!r:.60}"
            )
    return headers


def check_status(_: object, __: object, value: object) -> None:
    """``Response.status``'s validator: an int in 100..599 (one call; attrs' ``and_`` of three
    validators costs four per response)."""
    if type(value) is int and 100 <= value <= 599:  # no call on the usual path
        return
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"Response: status must be in 100..599, got {value}")
    raise TypeError(f"Response: status must be an int, got {value!r:.60}")


def to_body(value: object) -> Body:
    """``Response.body``'s converter: ``bytes`` (a ``bytearray`` or ``memoryview`` copied), a
    ``FileBody`` or a ``StreamBody``."""
    if type(value) is bytes:
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if not isinstance(value, bytes | FileBody | StreamBody):
        raise TypeError(
            f"Response: body must be bytes, a FileBody or a StreamBody, got {type(value).__name__}"
        )
    return value
