"""``serialize_response_known``: a ``Response``'s head, serialised once and found again.

A server sends the same few heads again and again within a second (the same status, headers,
body length and ``Date``), so the head built by ``serialize_response`` is kept by those values
and the next response with them costs a dictionary lookup. A handler that answers with the
same ``Response`` object again (a static file's cached answer) costs less still:
:func:`response_bytes` keeps the last response's bytes, found again by identity. Compiled in
the compiled build: it runs once per response.
"""

from __future__ import annotations

from typing import Final, final

from ._response import Response
from ._serialize import serialize_response

__all__ = ["response_bytes", "serialize_response_known"]

# Heads that serialize_response_known built, by (status, headers, body length, request version,
# keep-alive, date): a server sends the same few heads again and again within a second.
# Bounded: cleared when full.
_HEADS: Final[dict[tuple[object, ...], bytes]] = {}
_HEADS_SIZE: Final = 256


def serialize_response_known(  # noqa: PLR0917
    status: int,
    headers: tuple[tuple[bytes, bytes], ...],
    body: bytes,
    http_version: str,
    keep_alive: bool,
    date: bytes | None,
    request_method: bytes,
) -> bytes:
    """:func:`serialize_response` for a ``Response``'s values (``status`` an int, ``headers``
    a tuple of ``bytes`` pairs, ``body`` and ``date`` ``bytes``: checked when the response was
    built), with each head built once: the same bytes, and the same errors on a first call.

    Not for unchecked values: a head is found again by equality, and ``memoryview(b"x") ==
    b"x"``.
    """
    key = (status, headers, len(body), http_version, keep_alive, date)
    head = _HEADS.get(key)
    if head is None:
        # The head alone is serialize_response's answer to a HEAD request.
        head = serialize_response(
            status,
            headers,
            body,
            http_version=http_version,
            keep_alive=keep_alive,
            date=date,
            request_method=b"HEAD",
        )
        if len(_HEADS) >= _HEADS_SIZE:
            _HEADS.clear()
        _HEADS[key] = head
    if not body or request_method == b"HEAD":
        return head
    return head + body


@final
class _LastAnswer:
    """The last answer :func:`response_bytes` built: its arguments and its bytes, in one tuple
    so that a reader on another thread sees an entry whole or not at all."""

    __slots__ = ("entry",)

    def __init__(self) -> None:
        self.entry: tuple[Response, str, bool, bytes | None, bytes, bytes] | None = None


_LAST: Final = _LastAnswer()
_LAST_ANSWER_BYTES: Final = 65536
"""The largest body whose answer is kept: a big one would stay in memory, twice (body and
answer), until the next response."""


def response_bytes(
    response: Response,
    http_version: str,
    keep_alive: bool,
    date: bytes | None,
    request_method: bytes,
) -> bytes:
    """The whole answer (head, and body unless ``HEAD``) of a ``response`` with a ``bytes``
    body: :func:`serialize_response_known` of its values, and the same bytes object again
    when asked for the last response again with the same arguments. A ``Response`` is frozen,
    its headers and body immutable, so the same object has the same answer. Only answers with
    bodies up to 64 KiB are kept."""
    last = _LAST.entry
    if (
        last is not None
        and last[0] is response
        and last[3] is date
        and last[2] == keep_alive
        and last[1] == http_version
        and last[4] == request_method
    ):
        return last[5]
    body = response.body
    if type(body) is not bytes:
        raise TypeError(f"response_bytes: the body must be bytes, got {type(body).__name__}")
    data = serialize_response_known(
        response.status, response.headers, body, http_version, keep_alive, date, request_method
    )
    if len(body) <= _LAST_ANSWER_BYTES:
        _LAST.entry = (response, http_version, keep_alive, date, request_method, data)
    return data
