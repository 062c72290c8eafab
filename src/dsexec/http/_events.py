"""The events of the sans-IO HTTP/1.1 request parser, and what ``next_event()`` returns when
there is none.

``RequestParser.next_event()`` hands out, per request: one :class:`RequestHead`, zero or more
:class:`BodyChunk`, one :class:`EndOfMessage`; or a :class:`ProtocolError` (answer its
``status`` and close); or :class:`ConnectionClosed` once the peer's end of input was fed
between requests. When it has no event it returns :data:`NEED_DATA` (feed more bytes) or
:data:`PAUSED` (a request has ended: answer it, then ``start_next_cycle()``).

The events sit on the hot path of the server (a small GET makes one ``RequestHead`` and one
``EndOfMessage``), so the ones with fields are ``typing.NamedTuple`` values: immutable, typed,
pattern-matchable, and about four times cheaper to build than an ``attrs`` class of the same
fields. Being tuples, they also compare equal to a plain tuple of the same fields; compare events
by type first (``type(event) is BodyChunk``, ``isinstance`` or ``match``). The field-less
events are ``attrs`` values (each class equals only itself) with one shared instance each.
"""

from __future__ import annotations

import enum
from typing import Final, NamedTuple, TypeAlias

import attrs

from .._core import HttpError

__all__ = [
    "END_OF_MESSAGE",
    "NEED_DATA",
    "PAUSED",
    "BodyChunk",
    "ConnectionClosed",
    "EndOfMessage",
    "Event",
    "NoEvent",
    "ProtocolError",
    "RequestHead",
]


class RequestHead(NamedTuple):
    """The request line and header fields of one request, validated.

    * ``method``: e.g. ``b"GET"``; ``target``: the request target as sent (``b"/a?b=1"``,
      ``b"*"``, ``b"http://host/x"``).
    * ``http_version``: ``"1.1"`` or ``"1.0"`` (nothing else gets this far).
    * ``headers``: ``(name, value)`` pairs in arrival order, names as sent (case kept), values
      without their surrounding whitespace; :meth:`lowered_headers` gives lower-case names
      (what ASGI wants), :meth:`get` looks one up.
    * ``keep_alive``: whether the connection may carry another request after this one (HTTP/1.1
      unless ``Connection: close``; HTTP/1.0 only with ``Connection: keep-alive``).
    * ``expect_continue``: an HTTP/1.1 request with ``Expect: 100-continue``: send
      ``serialize_continue()`` before reading the body, or answer without reading it.
    * ``content_length``: the ``Content-Length`` as an int, or ``None`` when absent;
      ``chunked``: the body comes with ``Transfer-Encoding: chunked``. Neither means no body.
    """

    method: bytes
    target: bytes
    http_version: str
    headers: tuple[tuple[bytes, bytes], ...]
    keep_alive: bool
    expect_continue: bool
    content_length: int | None
    chunked: bool

    def lowered_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers with lower-case names, in arrival order (an ASGI ``scope["headers"]``)."""
        return [(name.lower(), value) for name, value in self.headers]

    def get(self, name: bytes, default: bytes | None = None) -> bytes | None:
        """The value of the first header called ``name`` (any case), else ``default``."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return default

    @property
    def has_body(self) -> bool:
        """Whether body events follow (``content_length`` > 0, or chunked)."""
        return self.chunked or bool(self.content_length)


class BodyChunk(NamedTuple):
    """A piece of the request body, in order; chunked framing already removed."""

    data: bytes


@attrs.frozen
class EndOfMessage:
    """The request (head and whole body) has been received; ``next_event()`` now returns
    ``PAUSED`` until ``start_next_cycle()``."""


@attrs.frozen
class ConnectionClosed:
    """The peer's end of input (``feed(b"")``) arrived between requests: nothing more comes."""


class ProtocolError(NamedTuple):
    """The input broke HTTP/1.1 or the safety policy: answer ``status`` (a 4xx or 5xx; see
    ``error_response``) and close the connection; the parser takes no further input.

    ``reason`` says what was wrong, for logs (do not echo it to the client).
    """

    status: int
    reason: str

    def to_http_error(self) -> HttpError:
        """The same failure as an :class:`~dsexec.HttpError`, for an error channel."""
        return HttpError(self.status, self.reason)


END_OF_MESSAGE: Final = EndOfMessage()
"""The one :class:`EndOfMessage` the parser hands out."""

Event: TypeAlias = RequestHead | BodyChunk | EndOfMessage | ProtocolError | ConnectionClosed
"""Anything ``next_event()`` returns that is not a :class:`NoEvent`."""


class NoEvent(enum.Enum):
    """What ``next_event()`` returns when it has no event to give."""

    NEED_DATA = "need data"
    """Every byte fed so far has been parsed: ``feed()`` more (or ``b""`` at end of input)."""
    PAUSED = "paused"
    """A request has ended (or the connection must close): answer it first. Bytes fed meanwhile
    wait, unparsed, until ``start_next_cycle()``."""


NEED_DATA: Final = NoEvent.NEED_DATA
"""``NoEvent.NEED_DATA``."""
PAUSED: Final = NoEvent.PAUSED
"""``NoEvent.PAUSED``."""
