"""``Response`` and its bodies: what a handler answers with.

A :class:`Response` is a value: status, headers, and a body that is ``bytes`` (sent with a
``Content-Length``, in one write with the head), a :class:`FileBody` (a ``Content-Length``,
then the file's bytes through ``async_sendfile``: zero-copy) or a :class:`StreamBody` (chunked
transfer coding: a function returning the sender of the next piece, ``b""`` at the end).
``write_response`` (``_write_response.py``) sends one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import IO, final

import attrs

from .._core import Sender

__all__ = ["FileBody", "Response", "StreamBody"]


def _headers(value: Iterable[tuple[bytes, bytes]]) -> tuple[tuple[bytes, bytes], ...]:
    headers = tuple(value)
    for pair in headers:
        candidate: object = pair
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
            raise TypeError(f"Response: headers must be (bytes, bytes) pairs, got {pair!r:.60}")
    return headers


def _status(_: object, __: object, value: int) -> None:
    """``Response.status``'s validator: an int in 100..599 (one call; attrs' ``and_`` of three
    validators costs four per response)."""
    if type(value) is int and 100 <= value <= 599:
        return
    candidate: object = value
    if not isinstance(candidate, int) or isinstance(candidate, bool):
        raise TypeError(f"Response: status must be an int, got {value!r:.60}")
    raise ValueError(f"Response: status must be in 100..599, got {value}")


@final
@attrs.frozen
class FileBody:
    """A response body read from a file: ``count`` bytes (``None``: to the end) from
    ``offset``. ``file`` is a path, or an open binary file / fd the caller keeps open until the
    write completes (a path is opened and closed by the write)."""

    file: str | os.PathLike[str] | IO[bytes] | int
    offset: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    count: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(0))
    )


@final
@attrs.frozen
class StreamBody:
    """A response body produced piece by piece: ``next_chunk()`` returns the sender of the next
    piece (``bytes``), ``b""`` when the body is over. Sent with chunked transfer coding (to an
    HTTP/1.0 client: unframed, and the connection closes after it); with ``content_length=N``
    sent with that ``Content-Length`` instead, and the pieces must add up to exactly ``N`` bytes
    (more or fewer fail the write, and the connection closes). A ``HEAD`` answer keeps the
    framing header a ``GET`` would get, without the body."""

    next_chunk: Callable[[], Sender[bytes]] = attrs.field(validator=attrs.validators.is_callable())
    content_length: int | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(
            attrs.validators.and_(attrs.validators.instance_of(int), attrs.validators.ge(0))
        ),
    )


Body = bytes | FileBody | StreamBody


def _body(value: object) -> Body:
    if type(value) is bytes:
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if not isinstance(value, bytes | FileBody | StreamBody):
        raise TypeError(
            f"Response: body must be bytes, a FileBody or a StreamBody, got {type(value).__name__}"
        )
    return value


@final
@attrs.frozen
class Response:
    """An HTTP response: ``Response(200, [(b"content-type", b"text/plain")], b"hello")``.

    ``status`` 100..599 (an int); ``headers`` as ``(name, value)`` byte pairs (no framing
    headers: ``Content-Length``, ``Transfer-Encoding`` and ``Connection`` are written by the
    server); ``body`` bytes, a :class:`FileBody` or a :class:`StreamBody`; ``close=True`` closes
    the connection after it. Checked when built: bad types are ``TypeError``, a status out of
    range ``ValueError``.
    """

    status: int = attrs.field(validator=_status)
    headers: tuple[tuple[bytes, bytes], ...] = attrs.field(default=(), converter=_headers)
    body: Body = attrs.field(default=b"", converter=_body)
    close: bool = False
