"""Response serialisation: heads, chunk framing, ``100 Continue`` and canned error answers.

Pure functions from values to bytes; the caller writes them. Framing is chosen by the
arguments, never by headers passed in: ``content_length=N``, ``chunked=True`` (then
:func:`serialize_chunk` for each piece and :data:`LAST_CHUNK` to finish), or neither for a body
that ends when the connection closes (only with ``keep_alive=False``). A ``Content-Length``,
``Transfer-Encoding`` or ``Connection`` among the headers is a ``ValueError``, so a response
can never carry two framings. ``keep_alive=False`` adds ``Connection: close``; an HTTP/1.0
client that may keep the connection gets ``Connection: keep-alive``.

A response to ``HEAD`` keeps the ``Content-Length`` (or ``Transfer-Encoding``) the ``GET`` would
have had, but no body: :func:`response_body_allowed` tells a streaming server whether to write
one, and :func:`serialize_response` leaves it out by itself.

Header names must be tokens and values free of control characters other than HTAB (CR, LF and
NUL above all: response splitting); anything else is a ``ValueError``, and names or values that
are not ``bytes`` a ``TypeError``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from http import HTTPStatus
from typing import Final

__all__ = [
    "CONTINUE_RESPONSE",
    "LAST_CHUNK",
    "error_response",
    "response_body_allowed",
    "serialize_chunk",
    "serialize_continue",
    "serialize_response",
    "serialize_response_head",
]

LAST_CHUNK: Final = b"0\r\n\r\n"
"""The last chunk of a chunked body (no trailers): send it after the final ``serialize_chunk``."""

CONTINUE_RESPONSE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
"""The interim ``100 Continue`` response, as bytes."""

_STATUS_LINES: Final = {
    status.value: b"HTTP/1.1 %d %s\r\n" % (status.value, status.phrase.encode("ascii"))
    for status in HTTPStatus
}
_TOKEN: Final = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
_BAD_VALUE_BYTE: Final = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_FRAMING_NAMES: Final = frozenset({b"content-length", b"transfer-encoding", b"connection"})
_NO_BODY_STATUSES: Final = frozenset({204, 304})
_MAX_CONTENT_LENGTH: Final = (1 << 63) - 1

_CLOSE: Final = b"Connection: close\r\n"
_KEEP_ALIVE: Final = b"Connection: keep-alive\r\n"
_CHUNKED: Final = b"Transfer-Encoding: chunked\r\n"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _status_line(function: str, status: object) -> bytes:
    if type(status) is int:
        line = _STATUS_LINES.get(status)
        if line is not None and status >= 200:
            return line
    if not isinstance(status, int) or isinstance(status, bool):
        raise TypeError(f"{function}: status must be an int, got {status!r}")
    if status < 200:
        raise ValueError(
            f"{function}: status must be a final status in 200..999 (use serialize_continue "
            f"for 100 Continue), got {status}"
        )
    if status > 999:
        raise ValueError(f"{function}: status must be in 200..999, got {status}")
    return _STATUS_LINES.get(status) or b"HTTP/1.1 %d \r\n" % status


# Names and values already found safe: apps send the same few again and again, and a set
# lookup costs a third of the two regular expressions. Bounded: cleared when full.
_SAFE_NAMES: Final[set[bytes]] = set()
_SAFE_VALUES: Final[set[bytes]] = set()
_SAFE_CACHE_SIZE: Final = 512


def _check_field(function: str, name: object, value: object) -> None:
    """Raise unless ``name: value`` is safe to send and ``name`` is no framing header."""
    if type(name) is not bytes or type(value) is not bytes:
        raise TypeError(
            f"{function}: header names and values must be bytes, got {name!r}: {value!r}"
        )
    if _TOKEN.fullmatch(name) is None:
        raise ValueError(f"{function}: header name {name!r} is not an HTTP token")
    if name.lower() in _FRAMING_NAMES:
        raise ValueError(
            f"{function}: pass content_length=, chunked= or keep_alive= instead of a "
            f"{name.decode('ascii')} header"
        )
    if _BAD_VALUE_BYTE.search(value) is not None:
        raise ValueError(
            f"{function}: header {name!r} has a control character (CR, LF, NUL, ...) in its "
            f"value {value!r}"
        )
    for cache, item in ((_SAFE_NAMES, name), (_SAFE_VALUES, value)):
        if len(cache) >= _SAFE_CACHE_SIZE:
            cache.clear()
        cache.add(item)


def serialize_response_head(
    status: int,
    headers: Iterable[tuple[bytes, bytes]] = (),
    *,
    http_version: str = "1.1",
    keep_alive: bool = True,
    content_length: int | None = None,
    chunked: bool = False,
    date: bytes | None = None,
) -> bytes:
    """The status line and header block of a response, ending with the blank line.

    ``http_version`` is the *request's* version (``RequestHead.http_version``): the status line
    always says HTTP/1.1, but an HTTP/1.0 client cannot take ``chunked`` and needs an explicit
    ``Connection: keep-alive``. ``date`` (e.g. ``DateCache().get()``) becomes the ``Date``
    header, unless ``headers`` have one of their own (which is then the only one). Exactly one
    framing: ``content_length``, ``chunked=True``, or neither (the body
    ends with the connection: needs ``keep_alive=False``; 204 and 304 answers need no framing).
    """
    function = "serialize_response_head"
    line = _status_line(function, status)
    parts = [line]
    safe_names = _SAFE_NAMES
    safe_values = _SAFE_VALUES
    if date is not None:
        if date not in safe_values:
            _check_field(function, b"Date", date)
        parts += (b"Date: ", date, b"\r\n")
    for name, value in headers:
        if name not in safe_names or value not in safe_values:
            _check_field(function, name, value)
        parts += (name, b": ", value, b"\r\n")
        if date is not None and len(name) == 4 and name.lower() == b"date":
            del parts[1:4]  # the caller's Date, not a second one
            date = None
    if http_version == "1.1":
        http10 = False
    elif http_version == "1.0":
        http10 = True
    else:
        raise ValueError(f"{function}: http_version must be '1.1' or '1.0', got {http_version!r}")
    if content_length is not None:
        if not _is_int(content_length):
            raise TypeError(f"{function}: content_length must be an int, got {content_length!r}")
        if not 0 <= content_length <= _MAX_CONTENT_LENGTH:
            raise ValueError(
                f"{function}: content_length must be in 0..2**63-1, got {content_length}"
            )
        if chunked:
            raise ValueError(f"{function}: give content_length or chunked=True, not both")
        if status == 204:
            raise ValueError(f"{function}: a 204 response has no Content-Length")
        parts.append(b"Content-Length: %d\r\n" % content_length)
    elif chunked:
        if http10:
            raise ValueError(
                f"{function}: an HTTP/1.0 client cannot receive a chunked body: give "
                "content_length, or neither with keep_alive=False"
            )
        if status in _NO_BODY_STATUSES:
            raise ValueError(f"{function}: a {status} response has no body to chunk")
        parts.append(_CHUNKED)
    elif keep_alive and status not in _NO_BODY_STATUSES:
        raise ValueError(
            f"{function}: without content_length or chunked=True the body ends when the "
            "connection closes: pass keep_alive=False"
        )
    if not keep_alive:
        parts.append(_CLOSE)
    elif http10:
        parts.append(_KEEP_ALIVE)
    parts.append(b"\r\n")
    return b"".join(parts)


def serialize_response(
    status: int,
    headers: Iterable[tuple[bytes, bytes]] = (),
    body: bytes = b"",
    *,
    http_version: str = "1.1",
    keep_alive: bool = True,
    date: bytes | None = None,
    request_method: bytes = b"GET",
) -> bytes:
    """A whole response with a ``Content-Length`` body, ready to write in one call.

    The fast path for small answers (``serialize_response(200, [(b"content-type",
    b"text/plain")], b"Hello")``). For ``request_method=b"HEAD"`` the ``Content-Length`` stays
    ``len(body)`` but the body is left out; a 204 or 304 answer must have an empty ``body``.
    """
    if type(body) is not bytes:
        raise TypeError(f"serialize_response: body must be bytes, got {type(body).__name__}")
    if status in _NO_BODY_STATUSES:
        if body:
            raise ValueError(f"serialize_response: a {status} response has no body")
        content_length = None
    else:
        content_length = len(body)
    head = serialize_response_head(
        status,
        headers,
        http_version=http_version,
        keep_alive=keep_alive,
        content_length=content_length,
        date=date,
    )
    if not body or request_method == b"HEAD":
        return head
    return head + body


def response_body_allowed(request_method: bytes, status: int) -> bool:
    """Whether a response with ``status`` to a ``request_method`` request carries body bytes:
    not for ``HEAD``, 1xx, 204 or 304 (RFC 9112 section 6.3)."""
    return request_method != b"HEAD" and status >= 200 and status not in _NO_BODY_STATUSES


def serialize_chunk(data: bytes | bytearray | memoryview, /) -> bytes:
    """``data`` framed as one chunk (``b"5\\r\\nhello\\r\\n"``); ``b""`` for empty ``data``, which
    must never go out as a chunk since a zero-size chunk ends the body (send
    :data:`LAST_CHUNK` for that)."""
    size = len(data)
    if not size:
        return b""
    return b"".join((b"%x\r\n" % size, data, b"\r\n"))


def serialize_continue() -> bytes:
    """The interim ``100 Continue`` response, for an ``Expect: 100-continue`` request whose body
    the server wants (send it before reading the body)."""
    return CONTINUE_RESPONSE


_ERROR_RESPONSES: dict[int, bytes] = {}


def error_response(status: int, *, date: bytes | None = None) -> bytes:
    """A complete ``status`` answer with ``Connection: close`` and its reason phrase as a short
    plain-text body: what to send for a ``ProtocolError`` (or any 4xx/5xx refusal) before
    closing. ``status`` must be in 400..599."""
    if date is None:
        cached = _ERROR_RESPONSES.get(status) if type(status) is int else None
        if cached is not None:
            return cached
    if not _is_int(status):
        raise TypeError(f"error_response: status must be an int, got {status!r}")
    if not 400 <= status <= 599:
        raise ValueError(f"error_response: status must be in 400..599, got {status}")
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    body = f"{status} {phrase}\n".encode("ascii")
    response = serialize_response(
        status,
        [(b"Content-Type", b"text/plain; charset=utf-8")],
        body,
        keep_alive=False,
        date=date,
    )
    if date is None:
        _ERROR_RESPONSES[status] = response
    return response
