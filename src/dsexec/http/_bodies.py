"""The bodies of a ``Response`` other than ``bytes``: :class:`FileBody` (a file's bytes, through
``async_sendfile``) and :class:`StreamBody` (pieces from a function, chunked)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO, final

import attrs

from .._core import Sender

__all__ = ["Body", "FileBody", "StreamBody"]


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
