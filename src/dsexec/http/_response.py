"""``Response``: what a handler answers with (its bodies other than ``bytes`` are in
``_bodies.py``, its fields' checks in ``_response_checks.py``).

A :class:`Response` is a value: status, headers, and a body that is ``bytes`` (sent with a
``Content-Length``, in one write with the head), a :class:`FileBody` (a ``Content-Length``,
then the file's bytes through ``async_sendfile``: zero-copy) or a :class:`StreamBody` (chunked
transfer coding: a function returning the sender of the next piece, ``b""`` at the end).
``write_response`` (``_write_response.py``) sends one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, final

import attrs

from ._bodies import Body, FileBody, StreamBody
from ._response_checks import check_status, to_body, to_headers

__all__ = ["FileBody", "Response", "StreamBody"]

# check_status takes any object (and names a bad one); as the validator of an int field:
_STATUS_VALIDATOR: Final[Callable[[object, object, int], None]] = check_status


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

    status: int = attrs.field(validator=_STATUS_VALIDATOR)
    headers: tuple[tuple[bytes, bytes], ...] = attrs.field(default=(), converter=to_headers)
    body: Body = attrs.field(default=b"", converter=to_body)
    close: bool = False
