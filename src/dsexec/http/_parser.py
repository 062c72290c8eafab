"""``RequestParser``: the sans-IO HTTP/1.1 request side, on httptools (llhttp).

Bytes go in with ``feed(data)`` (``feed(b"")`` at end of input); events come out of
``next_event()``, h11-style: ``RequestHead``, ``BodyChunk``..., ``EndOfMessage``, then
``PAUSED`` until the server has answered and calls ``start_next_cycle()``. Malformed input gives
one ``ProtocolError`` (the status to answer), after which the parser discards all input.

Some facts about httptools 0.9 / llhttp 9 that shape this module (each checked by a test):

* ``feed_data`` parses everything it is given: several pipelined requests in one call, with no
  way to pause (httptools exposes neither ``llhttp_pause`` nor the error offset). So this module
  never gives llhttp more than one request: it feeds a head up to its blank line (``CRLFCRLF``;
  llhttp takes no bare-LF line endings, so that is where every head ends), a
  ``Content-Length`` body exactly its length, and a chunked body up to its end as found by
  following the chunk framing here (below). Bytes after a request's end stay in our buffer
  until ``start_next_cycle()``:
  pausing is real, the order of events is the order of bytes, and the bytes after a
  ``Connection: close`` request are never parsed at all.
  These split points only choose where llhttp's input is cut: llhttp still sees the same
  contiguous stream and stays the authority on its syntax.
* Because heads are cut at their ``CRLFCRLF``, the header size limit counts exactly the bytes
  before the end of the head, whether they arrive whole or one at a time; a head fed in pieces is
  kept (at most ``max_header_bytes``) for the request-line checks below.
* httptools tells neither where a callback's bytes lie in what it was fed nor a chunk's size,
  and llhttp bounds neither chunk extensions nor trailers. So a chunked body's framing is
  followed here, by position in the byte stream (never by how it was split): each chunk-size
  line is found (its size is the hex digits before any ``;``), the data and its CRLF are skipped
  unread, and after the last chunk the trailer section ends at the first empty line. A
  chunk-size line, extensions and CRLF included, longer than ``max_header_bytes`` is a 400
  (extensions are no header fields: a 431 would send the client looking at its headers); a
  trailer section (from after the last chunk's line to its empty line, included) larger than
  ``max_header_bytes`` is a 431, like a head. llhttp is fed up to the point where the limit is
  passed before the refusal, so a syntax fault within the limit wins. llhttp stays the
  authority on syntax: it refuses a malformed size line when fed it, before the reading here of
  that line can matter; for the lines it takes (hex digits, then ``;`` or CRLF) both read the
  same size, so both find the same end of the message.
* Up to ten empty lines (CRLF) before a request line are skipped here, before llhttp sees
  them (RFC 9112 2.2: a server SHOULD ignore at least one, which some clients send after a
  body; Apache's limit is ten as well): more, a bare LF or a CR not followed by LF is a 400.
* llhttp is strict by default (no lenient flags are set here) and rejects by itself: bare CR or
  LF line endings, obs-fold, control characters (NUL, DEL, ...) in names, values and targets,
  ``Host : x`` (whitespace before the colon), non-digit / signed / hex / duplicate (even
  identical) ``Content-Length``, ``Content-Length`` with ``Transfer-Encoding``, a
  ``Transfer-Encoding`` not ending in ``chunked``, and bad chunk framing (bad hex, ``0x``,
  overflow, whitespace after the size, missing CRLF after the data, bad extension characters).
* llhttp accepts, and this module rejects: extra spaces in the request line (``GET  /``), a
  bare LF or more than ten empty lines before the request line, versions other than HTTP/1.0
  and 1.1 (HTTP/0.9, 2.0; and ``RTSP/1.0``), ``Transfer-Encoding`` other than exactly
  ``chunked`` (``gzip, chunked``, ``,chunked``), ``Transfer-Encoding`` on HTTP/1.0, missing or
  repeated ``Host`` (and one with characters no host has), ``CONNECT`` (this is no proxy:
  501), and ``Upgrade`` requests with a body (llhttp would skip the body and hand its bytes to
  the next request).
* httptools hands a header over only once it is complete (it joins the pieces itself), so policy
  checks see whole names and values; ``should_keep_alive()`` is only meaningful inside the
  ``on_headers_complete`` callback (llhttp clears its flags at the end of each message).
* An exception raised in a callback stops llhttp with a callback error, which is how this module
  rejects what it checks itself: it records the status first, then raises ``_Reject``.
* A bodiless ``Upgrade`` request (``Connection: upgrade``) makes ``feed_data`` raise
  ``HttpParserUpgrade`` at the end of the message; httptools has already resumed the parser,
  so reading simply goes on (no protocol switch is offered here).
* Quirk: llhttp refuses ``Transfer-Encoding: chunked<TAB>`` (valid OWS) only after
  ``on_headers_complete``, so that one refusal comes after its ``RequestHead``. Stricter than
  the RFC, so the policy holds.
* The status of a refusal is that of the first fault in the byte stream, however it was split
  (a head over the limit is first fed up to the limit, so an earlier syntax error wins over
  431). Which of two faults in one header line gets named in ``reason`` can depend on the split.

Known heads. Clients send the same head again and again (polling, health checks, load
balancers, wrk), so the head of a request without a body is read once per process:

* ``on_headers_complete`` marks a head to be known when its request has no body (no
  ``Transfer-Encoding``, no ``Content-Length`` but 0), no upgrade and no credentials (below),
  and the head is at most ``_KNOWN_HEAD_BYTES``; ``on_message_complete`` then keeps it in
  ``_KNOWN_HEADS`` (by its bytes, with its ``RequestHead``: immutable, nothing of the
  connection in it; shared by all parsers; at most ``_KNOWN_HEADS_SIZE``, cleared when full).
  By then llhttp and the policy have accepted the whole request and nothing of it is left to
  refuse (an upgrade would still raise ``HttpParserUpgrade``: never kept).
* A whole head that is byte for byte a known one is not fed to llhttp: ``_from_known`` runs
  the callbacks llhttp would run, ``on_headers_complete`` (which emits the known
  ``RequestHead`` instead of checking the head again; the ``on_header`` calls only feed those
  checks) and ``on_message_complete``: the same events, the same state.

That is what llhttp gives, because what llhttp and the checks make of a head depends only on
its bytes and the limits. llhttp is in its start state at every request (it resets at the end
of each keep-alive message, and nothing is read after one that is not), and between requests
the parser keeps nothing that the reading of a head uses but the count of empty lines, which
matters only before the head. The head's size (431) is checked before the lookup, its target
(414) against the entry's on a hit (a head over this parser's limit goes to llhttp, to be
refused as usual); ``max_body_bytes`` cannot matter without a body. (A hit is faster: a client
timing its requests can tell whether a head was sent lately, but only by sending that whole
head, byte for byte: a head with credentials, ``Authorization``, ``Proxy-Authorization`` or
``Cookie``, is never known, so that no guessed token can be confirmed that way. Nor is any head
of its connection known or looked up from then on: its client sends them again, and a lookup
of a head that cannot be known would only cost the hashing of its bytes.)
"""

from __future__ import annotations

from collections import deque
from typing import Final, NoReturn, SupportsIndex, final

import httptools
from mypy_extensions import mypyc_attr

from ._events import (
    END_OF_MESSAGE,
    NEED_DATA,
    PAUSED,
    BodyChunk,
    ConnectionClosed,
    Event,
    NoEvent,
    ProtocolError,
    RequestHead,
)

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_MAX_TARGET_BYTES",
    "RequestParser",
]

DEFAULT_MAX_HEADER_BYTES: Final = 16 * 1024
"""Default limit on a request head (request line, headers, blank line), in bytes."""
DEFAULT_MAX_BODY_BYTES: Final = 1024 * 1024
"""Default limit on a request body, in bytes."""
DEFAULT_MAX_TARGET_BYTES: Final = 8 * 1024
"""Default limit on the request target (the URL in the request line), in bytes."""

_LIMIT_MAX: Final = 1 << 62
_CRLFCRLF: Final = b"\r\n\r\n"
_MAX_EMPTY_LINES: Final = 10  # skipped before a request line (RFC 9112 2.2), like Apache's

# What the parser is reading (follows llhttp's position in the stream).
_HEAD: Final = 0
_BODY_LENGTH: Final = 1
_BODY_CHUNKED: Final = 2

# Where the connection is.
_RECV: Final = 0  # reading a request
_DONE: Final = 1  # a request ended, keep-alive: PAUSED until start_next_cycle()
_MUST_CLOSE: Final = 2  # a request ended, no keep-alive: PAUSED for good
_ERROR: Final = 3  # a ProtocolError was queued: PAUSED for good
_CLOSED: Final = 4  # ConnectionClosed was queued: PAUSED for good

# Where a chunked body is, in _chunk_left: > 0, that many bytes of chunk data and its CRLF.
_SIZE_LINE: Final = 0  # in (or at) a chunk-size line
_TRAILERS: Final = -1  # in the trailer section, after the last chunk

# Header names the policy looks at, by lower-case name.
_HOST: Final = 1
_CONTENT_LENGTH: Final = 2
_TRANSFER_ENCODING: Final = 3
_EXPECT: Final = 4
# Heads that carry credentials are never known: a hit is faster than a miss, and a client must
# not learn by timing whether another client sent these exact bytes (a guessed token included).
# ("cookie" has the length of "expect"; names as long as the two Authorization ones, such as
# Cache-Control or If-None-Match, now cost on_header a lookup too.)
# One such head leaves its connection out of the known heads (RequestParser._credentials).
_CREDENTIALS: Final = 5
_SPECIAL: Final = {
    b"host": _HOST,
    b"content-length": _CONTENT_LENGTH,
    b"transfer-encoding": _TRANSFER_ENCODING,
    b"expect": _EXPECT,
    b"authorization": _CREDENTIALS,
    b"proxy-authorization": _CREDENTIALS,
    b"cookie": _CREDENTIALS,
}
_SPECIAL_LENGTHS: Final = frozenset(len(name) for name in _SPECIAL)

# Every byte a Host value may hold (RFC 3986 reg-name, IP-literal, port): deleting these from a
# value must leave nothing.
_HOST_BYTES: Final = (
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=%:[]"
)

_new_tuple = tuple.__new__

# The known heads (see the module docstring): by their bytes, the RequestHead of each head of a
# bodiless request accepted before, up to _KNOWN_HEAD_BYTES; at most _KNOWN_HEADS_SIZE of them,
# cleared when full. A lookup is one dict get and a store one set, of immutable values: a reader
# on another thread sees an entry whole or not at all.
_KNOWN_HEADS: Final[dict[bytes, RequestHead]] = {}
_KNOWN_HEADS_SIZE: Final = 256
_KNOWN_HEAD_BYTES: Final = 1024


@mypyc_attr(native_class=False)  # compiled: an Exception subclass stays a Python class
class _Reject(Exception):
    """Raised inside an llhttp callback to stop parsing; the verdict is already recorded."""


def _check_limit(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"RequestParser: {name} must be an int, got {value!r}")
    if not minimum <= value <= _LIMIT_MAX:
        raise ValueError(f"RequestParser: {name} must be in {minimum}..2**62, got {value!r}")
    return value


@final
class RequestParser:
    """The server side of one HTTP/1.1 connection, without I/O: bytes in, request events out.

    ``feed(data)`` adds received bytes (``feed(b"")`` for end of input); ``next_event()``
    returns the next :data:`~dsexec.http.Event`, or ``NEED_DATA`` / ``PAUSED``. After a
    request's ``EndOfMessage`` it returns ``PAUSED`` until ``start_next_cycle()`` (call it once
    the response is sent, if ``RequestHead.keep_alive``); bytes of pipelined requests fed
    meanwhile wait unparsed. A ``ProtocolError`` is final: answer its status, close.

    Limits (plain ints; a head over ``max_header_bytes`` is a 431, a target over
    ``max_target_bytes`` a 414, a body over ``max_body_bytes`` a 413, checked at the head for
    ``Content-Length`` and as the bytes stream in for chunked bodies). Chunk trailers are
    checked and dropped: a trailer section over ``max_header_bytes`` is a 431, a chunk-size line
    (with its extensions) over it a 400.

    The head of a request without a body that any parser of the process read before, byte for
    byte (up to 1 KiB; not on a connection that sent ``Authorization`` or ``Cookie``), is found
    again without llhttp: the same events, the same (immutable) ``RequestHead`` object.
    """

    __slots__ = (
        "_body_left",
        "_body_seen",
        "_buf",
        "_chunk_left",
        "_content_length",
        "_credentials",
        "_empty_lines",
        "_eof",
        "_events",
        "_expect",
        "_head_part",
        "_headers",
        "_host_count",
        "_keep_alive",
        "_known",
        "_limit_hit",
        "_line_part",
        "_line_seen",
        "_max_body",
        "_max_head",
        "_max_target",
        "_parser",
        "_phase",
        "_raw_head",
        "_reject",
        "_state",
        "_tail",
        "_te_seen",
    )

    def __init__(
        self,
        *,
        # Typed as SupportsIndex, which mypy holds to ints and mypyc does not check on entry:
        # a compiled build's own TypeError would not name the argument, _check_limit's does.
        max_header_bytes: SupportsIndex = DEFAULT_MAX_HEADER_BYTES,
        max_body_bytes: SupportsIndex = DEFAULT_MAX_BODY_BYTES,
        max_target_bytes: SupportsIndex = DEFAULT_MAX_TARGET_BYTES,
    ) -> None:
        self._max_head = _check_limit("max_header_bytes", max_header_bytes, 64)
        self._max_body = _check_limit("max_body_bytes", max_body_bytes, 0)
        self._max_target = _check_limit("max_target_bytes", max_target_bytes, 1)
        self._parser = httptools.HttpRequestParser(self)
        self._events: deque[Event] = deque()
        self._buf: bytes | bytearray = b""
        self._state = _RECV
        self._eof = False
        self._phase = _HEAD
        self._head_part: bytearray | None = None
        # The head being parsed, once complete; after on_headers_complete, the head to be known
        # at on_message_complete (b"" if it may not be).
        self._raw_head: bytes | bytearray = b""
        self._empty_lines = 0
        self._reject: ProtocolError | None = None
        self._limit_hit: ProtocolError | None = None
        self._keep_alive = False
        self._known: RequestHead | None = None  # a known head for on_headers_complete
        # The client sent credentials (Authorization, Cookie): no head of the connection is
        # known or looked up any more (it sends them again; see the module docstring).
        self._credentials = False
        self._body_left = 0
        self._body_seen = 0
        # The chunk framing (see _scan_chunked): the place in it, the bytes of the current
        # size line or trailer section so far, the start of a size line fed in pieces, and the
        # last bytes of the trailer section so far (its end may straddle two pieces).
        self._chunk_left = _SIZE_LINE
        self._line_seen = 0
        self._line_part = b""
        self._tail = b""
        self._reset_message()

    def _reset_message(self) -> None:
        # Only what every head fills in; the body counters are set when a body starts.
        self._headers: list[tuple[bytes, bytes]] = []
        self._host_count = 0
        self._content_length: int | None = None
        self._te_seen = False
        self._expect = False

    # -- public API ----------------------------------------------------------------------

    def feed(self, data: bytes | bytearray | memoryview, /) -> None:
        """Add received bytes; ``b""`` means the peer's end of input (EOF).

        Nothing is parsed here: ``next_event()`` parses lazily, so bytes fed while ``PAUSED``
        wait. Once the connection must close (a ``ProtocolError``, or after a request that
        does not keep the connection alive) fed bytes are discarded. Data after
        ``feed(b"")`` is a ``RuntimeError``.
        """
        if type(data) is not bytes:
            if not isinstance(data, bytes | bytearray | memoryview):
                raise TypeError(
                    f"RequestParser.feed: data must be bytes, got {type(data).__name__}"
                )
            data = bytes(data)
        if not data:
            self._eof = True
            return
        if self._eof:
            raise RuntimeError("RequestParser.feed: data fed after the end of input (b'')")
        if self._state >= _MUST_CLOSE:
            return
        buf = self._buf
        if not buf:
            self._buf = data
        elif type(buf) is bytes:
            self._buf = bytearray(buf) + data
        else:
            buf += data

    def next_event(self) -> Event | NoEvent:
        """The next event, or ``NEED_DATA`` (feed more) or ``PAUSED`` (answer first)."""
        events = self._events
        if events:
            return events.popleft()
        if self._state != _RECV:
            return PAUSED
        if self._buf:
            self._pump()
            if events:
                return events.popleft()
        if self._eof:
            self._at_eof()
            return events.popleft()
        return NEED_DATA

    def start_next_cycle(self) -> None:
        """After a request's ``EndOfMessage`` and its answer: read the next request.

        ``RuntimeError`` unless ``next_event()`` has returned ``PAUSED`` after an
        ``EndOfMessage`` of a keep-alive request (a ``keep_alive=False`` request, a
        ``ProtocolError`` or end of input leaves nothing to read: close the connection).
        """
        state = self._state
        if state == _DONE and not self._events:
            self._state = _RECV
            return
        if state == _MUST_CLOSE:
            why = "the last request does not keep the connection alive: close it"
        elif state >= _ERROR:
            why = "the connection is finished (protocol error or end of input): close it"
        else:
            why = "no request has been read to its EndOfMessage yet"
        raise RuntimeError(f"RequestParser.start_next_cycle: {why}")

    @property
    def trailing_data(self) -> bytes:
        """Bytes fed but not parsed yet (pipelined requests waiting for ``start_next_cycle``)."""
        return bytes(self._buf)

    @property
    def needs_data(self) -> bool:
        """Whether ``next_event()`` would return ``NEED_DATA`` without parsing anything: no
        event waits, no byte fed is left unparsed, no end of input was fed, and a request may
        still come (a server waits for the socket at once)."""
        return self._state == _RECV and not self._buf and not self._events and not self._eof

    @property
    def must_close(self) -> bool:
        """Whether the connection has to close once the pending events are handled."""
        return self._state >= _MUST_CLOSE

    # -- feeding llhttp ------------------------------------------------------------------

    def _pump(self) -> None:
        """Feed buffered bytes to llhttp, one request part at a time, until the request ends
        (or fails) or the buffer is used up; never past the end of a request."""
        buf = self._buf
        size = len(buf)
        if (
            self._phase == _HEAD
            and self._head_part is None
            and 0 <= buf.find(_CRLFCRLF) == size - 4
            and size <= self._max_head
            and buf[0] not in b"\r\n"
        ):
            # The common case, one whole head and nothing after it: the loop below would do
            # the same in one turn.
            self._buf = b""
            if size <= _KNOWN_HEAD_BYTES and type(buf) is bytes and not self._credentials:
                known = _KNOWN_HEADS.get(buf)
                if known is not None and self._from_known(known):
                    return
            self._raw_head = buf
            try:
                self._parser.feed_data(buf)
            except httptools.HttpParserUpgrade:
                pass
            except httptools.HttpParserError as exc:
                self._fail_from(exc)
            return
        pos = 0
        end = 0
        feed = self._parser.feed_data
        try:
            while pos < size and self._state == _RECV:
                phase = self._phase
                if phase == _HEAD:
                    part = self._head_part
                    if part is None:
                        if buf[pos] in b"\r\n":
                            pos = self._skip_empty_lines(buf, pos, size)
                            if pos < 0:
                                return
                            if pos < size and buf[pos] == 13:
                                break  # a CR ending the buffer: its LF is still to come
                            continue
                        found = buf.find(_CRLFCRLF, pos)
                        end = found + 4 if found >= 0 else size
                        if end - pos > self._max_head:
                            self._head_too_large(buf[pos : pos + self._max_head])
                            return
                        if found >= 0:
                            chunk = buf if pos == 0 and end == size else buf[pos:end]
                            if end - pos <= _KNOWN_HEAD_BYTES and not self._credentials:
                                key = chunk if type(chunk) is bytes else bytes(chunk)
                                known = _KNOWN_HEADS.get(key)
                                if known is not None and self._from_known(known):
                                    pos = end
                                    continue  # (the request has ended: the loop too)
                                chunk = key
                            self._raw_head = chunk
                        else:
                            chunk = buf[pos:]
                            self._head_part = bytearray(chunk)
                    else:
                        seen = len(part)
                        part += buf[pos:]
                        found = part.find(_CRLFCRLF, max(0, seen - 3))
                        if found >= 0:
                            del part[found + 4 :]
                            end = pos + len(part) - seen
                        else:
                            end = size
                        if len(part) > self._max_head:
                            self._head_too_large(buf[pos : pos + self._max_head - seen])
                            return
                        chunk = buf[pos:end]
                        if found >= 0:
                            self._raw_head = part
                    feed(chunk)
                elif phase == _BODY_LENGTH:
                    end = min(size, pos + self._body_left)
                    feed(buf[pos:end])
                else:
                    end = self._scan_chunked(buf, pos, size)
                    if end > pos:
                        feed(buf if pos == 0 and end == size else buf[pos:end])
                    hit = self._limit_hit
                    if hit is not None:
                        # (the bytes up to the limit were fed first: a fault in them would
                        # have made llhttp raise, and the first fault is the verdict)
                        self._fail(hit.status, hit.reason)
                        return
                pos = end
        except httptools.HttpParserUpgrade:
            # A bodiless Upgrade request (the only kind let through) ended exactly at the end
            # of the head just fed; llhttp has already resumed, and no upgrade happens.
            pos = end
        except httptools.HttpParserError as exc:
            self._fail_from(exc)
            return
        if pos >= size:
            self._buf = b""
        elif type(buf) is bytearray:
            del buf[:pos]
        else:
            self._buf = buf[pos:]

    def _skip_empty_lines(self, buf: bytes | bytearray, pos: int, size: int) -> int:
        """Skip the empty lines (CRLF, RFC 9112 2.2) at ``buf[pos:size]`` before a request
        line: returns the position after them (at a CR that ends the buffer, if any: it stays
        unparsed until its LF comes). More than ``_MAX_EMPTY_LINES`` of them, a bare LF or a
        CR followed by anything but LF is refused (400, as bare CR and LF are everywhere):
        returns -1."""
        count = self._empty_lines
        while pos < size:
            byte = buf[pos]
            if byte == 10:
                self._fail(400, "a bare LF before the request line")
                return -1
            if byte != 13 or pos + 1 == size:
                break
            if buf[pos + 1] != 10:
                self._fail(400, "a CR without LF before the request line")
                return -1
            count += 1
            if count > _MAX_EMPTY_LINES:
                self._fail(400, "too many empty lines before the request line")
                return -1
            pos += 2
        self._empty_lines = count
        return pos

    def _scan_chunked(self, buf: bytes | bytearray, pos: int, size: int) -> int:
        """Follow the chunk framing through ``buf[pos:size]`` and return how far to feed
        llhttp: ``size``, the end of the message, or the point where a chunk-size line or the
        trailer section passes ``max_header_bytes`` (then ``_limit_hit`` holds the refusal).

        Only positions are decided here; llhttp checks every byte when fed. A size line that
        ``int`` cannot read (llhttp refuses it when fed) is fed whole and, should llhttp ever
        take it, refused (400) rather than followed with a wrong size.
        """
        left = self._chunk_left
        while pos < size:
            if left > 0:  # chunk data and its CRLF: skipped unread
                if size - pos <= left:
                    self._chunk_left = left - (size - pos)
                    return size
                pos += left
                left = _SIZE_LINE
                continue
            seen = self._line_seen
            room = self._max_head - seen  # the bytes the line or section may still take
            if left == _SIZE_LINE:
                eol = buf.find(b"\n", pos, pos + room)
                if eol < 0:
                    if size - pos > room:
                        self._chunk_left = left
                        return self._over_limit(
                            pos + room, 400, "chunk framing line longer than max_header_bytes"
                        )
                    self._line_seen = seen + size - pos
                    self._line_part += buf[pos:size]
                    self._chunk_left = left
                    return size
                digits: bytes | bytearray
                if seen:
                    line = self._line_part + buf[pos : eol + 1]
                    self._line_seen = 0
                    self._line_part = b""
                    semi = line.find(b";")
                    digits = line[:semi] if semi >= 0 else line[:-2]
                else:
                    semi = buf.find(b";", pos, eol)
                    digits = buf[pos : semi if semi >= 0 else eol - 1]
                pos = eol + 1
                try:
                    chunk_size = int(digits, 16)
                except ValueError:
                    chunk_size = -1
                if chunk_size < 0:
                    self._chunk_left = left
                    return self._over_limit(pos, 400, "malformed chunk size")
                if chunk_size:
                    left = chunk_size + 2
                else:
                    left = _TRAILERS
                    # The last chunk's CRLF counts as the first half of the CRLFCRLF that
                    # ends the section: "0\r\n\r\n" has no trailers.
                    self._tail = b"\r\n"
                continue
            # The trailer section: it ends at the first CRLFCRLF, which may straddle pieces.
            if not seen and buf[pos : pos + 2] == b"\r\n":
                self._chunk_left = left
                return pos + 2  # no trailers (the common case): the end of the message
            tail = self._tail
            found = (tail + buf[pos : pos + 3]).find(_CRLFCRLF)
            if found >= 0:
                end = pos + found + 4 - len(tail)
            else:
                found = buf.find(_CRLFCRLF, pos, pos + room)
                end = found + 4 if found >= 0 else -1
            self._chunk_left = left
            if 0 <= end - pos <= room:
                return end  # the end of the message (llhttp completes it)
            if end >= 0 or size - pos > room:
                return self._over_limit(
                    pos + room, 431, "chunked trailers larger than max_header_bytes"
                )
            self._line_seen = seen + size - pos
            self._tail = bytes((tail + buf[max(pos, size - 3) : size])[-3:])
            return size
        self._chunk_left = left
        return size

    def _from_known(self, head: RequestHead) -> bool:
        """A whole head read between requests is a known one, ``head`` its entry: unless its
        target is over this parser's limit (False: nothing changes, llhttp reads the head and
        refuses it), run the callbacks llhttp would (see the module docstring): True."""
        if len(head.target) > self._max_target:
            return False
        self._known = head
        self.on_headers_complete()
        self.on_message_complete()
        return True

    def _over_limit(self, end: int, status: int, reason: str) -> int:
        self._limit_hit = _new_tuple(ProtocolError, (status, reason))
        return end

    def _head_too_large(self, allowed: bytes | bytearray) -> None:
        """Refuse a head over the limit, unless the bytes within the limit hold an earlier
        fault: the verdict is the first fault in the byte stream, however it was split."""
        try:
            self._parser.feed_data(allowed)
        except httptools.HttpParserError as exc:
            self._fail_from(exc)
            return
        self._fail(431, "request head larger than max_header_bytes")

    def _at_eof(self) -> None:
        # (unparsed bytes at the end of input: a CR before a request line still waiting for LF)
        if self._phase != _HEAD or self._head_part is not None or self._buf:
            self._fail(400, "the connection closed in the middle of a request")
        else:
            self._events.append(ConnectionClosed())
            self._state = _CLOSED

    def _fail(self, status: int, reason: str) -> None:
        self._events.append(_new_tuple(ProtocolError, (status, reason)))
        self._state = _ERROR
        self._buf = b""
        self._head_part = None

    def _fail_from(self, exc: httptools.HttpParserError) -> None:
        verdict = self._reject
        if verdict is not None:
            self._fail(verdict.status, verdict.reason)
        else:
            self._fail(400, f"malformed request: {exc}")

    def _refuse(self, status: int, reason: str) -> NoReturn:
        self._reject = ProtocolError(status, reason)
        raise _Reject(reason)

    # -- llhttp callbacks ----------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        """llhttp callback (not for users): one complete header (or trailer) field."""
        value = value.rstrip(b" \t")
        if self._phase:  # not _HEAD: a trailer, checked by llhttp and dropped
            return  # (the size of the trailer section is bounded in _scan_chunked)
        self._headers.append((name, value))
        if len(name) not in _SPECIAL_LENGTHS:
            return
        kind = _SPECIAL.get(name.lower())
        if kind is None:
            return
        if kind == _HOST:
            self._host_count += 1
            if value.translate(None, _HOST_BYTES):
                self._refuse(400, "invalid characters in Host")
        elif kind == _CONTENT_LENGTH:
            # bytes.isdigit() is ASCII-only, so int() never sees '+', '_', spaces or
            # non-ASCII digits (on str, int() takes fullwidth and other Unicode digits).
            # More than 20 digits (leading zeros) is refused as h11 does.
            if self._content_length is not None or not value.isdigit() or len(value) > 20:
                self._refuse(400, "invalid or repeated Content-Length")
            self._content_length = int(value)
        elif kind == _TRANSFER_ENCODING:
            if self._te_seen or value.lower() != b"chunked":
                self._refuse(400, "Transfer-Encoding other than a single 'chunked'")
            self._te_seen = True
        elif kind == _CREDENTIALS:
            self._credentials = True
        elif value.lower() == b"100-continue":
            self._expect = True

    def on_headers_complete(self) -> None:
        """llhttp callback (not for users): the head is complete; validate and emit it.

        Also called, after no llhttp at all, by ``_from_known`` for a known head (in
        ``_known``): it passed these checks when it was read, and is emitted as it was."""
        head = self._known
        if head is not None:
            self._known = None
            raw: bytes | bytearray = b""
            keep_alive = head.keep_alive
            content_length = head.content_length
            chunked = head.chunked
        else:
            parser = self._parser
            method = parser.get_method()
            raw = self._raw_head
            if type(raw) is not bytes:  # a slice of a bytearray buffer
                raw = bytes(raw)
            # The request line, as llhttp accepted it: method SP+ target SP+ version CRLF, with
            # the method at the start (a head never starts with CR or LF here).
            line_end = raw.find(b"\r\n")
            version_tail = raw[line_end - 9 : line_end]
            if version_tail == b" HTTP/1.1":
                version = "1.1"
            elif version_tail == b" HTTP/1.0":
                version = "1.0"
            elif b" HTTP/" in raw[:line_end]:
                self._refuse(505, "HTTP version other than 1.0 and 1.1")
            else:
                self._refuse(400, "malformed request line")
            url = raw[len(method) + 1 : line_end - 9]
            if url[:1] == b" " or url[-1:] == b" ":
                self._refuse(400, "request line with extra whitespace")
            if len(url) > self._max_target:
                self._refuse(414, "request target longer than max_target_bytes")
            host_count = self._host_count
            if host_count > 1 or (host_count == 0 and version == "1.1"):
                self._refuse(400, "HTTP/1.1 request without exactly one Host")
            content_length = self._content_length
            chunked = self._te_seen
            if chunked and version == "1.0":
                self._refuse(400, "Transfer-Encoding in an HTTP/1.0 request")
            if content_length is not None and content_length > self._max_body:
                self._refuse(413, "Content-Length larger than max_body_bytes")
            upgrade = parser.should_upgrade()
            if upgrade:
                if method == b"CONNECT":
                    self._refuse(501, "CONNECT is not supported")
                if chunked or content_length:
                    self._refuse(400, "Upgrade request with a body")
            keep_alive = parser.should_keep_alive()
            head = _new_tuple(
                RequestHead,
                (
                    method,
                    url,
                    version,
                    tuple(self._headers),
                    keep_alive,
                    self._expect and version == "1.1",
                    content_length,
                    chunked,
                ),
            )
            if (
                chunked
                or content_length
                or upgrade
                or self._credentials
                or len(raw) > _KNOWN_HEAD_BYTES
            ):
                raw = b""  # never to be known
        self._keep_alive = keep_alive
        self._events.append(head)
        self._head_part = None
        self._raw_head = raw  # (to be known at on_message_complete, unless b"")
        if chunked:
            self._phase = _BODY_CHUNKED
            self._chunk_left = _SIZE_LINE
            self._line_seen = 0
            self._line_part = b""
            self._body_seen = 0
        elif content_length:
            self._phase = _BODY_LENGTH
            self._body_left = content_length

    def on_body(self, body: bytes) -> None:
        """llhttp callback (not for users): a piece of body data."""
        if self._phase == _BODY_LENGTH:
            self._body_left -= len(body)
        else:
            seen = self._body_seen = self._body_seen + len(body)
            if seen > self._max_body:
                # The bytes up to the limit are delivered first, as they would be had they
                # arrived in a piece of their own: the events do not depend on the split.
                allowed = len(body) - (seen - self._max_body)
                if allowed > 0:
                    self._events.append(_new_tuple(BodyChunk, (body[:allowed],)))
                self._refuse(413, "chunked body larger than max_body_bytes")
        self._events.append(_new_tuple(BodyChunk, (body,)))

    def on_message_complete(self) -> None:
        """llhttp callback (not for users): the request is complete. Also how a known head's
        request ends (``_from_known``)."""
        raw = self._raw_head
        if raw:
            # A bodiless request, accepted, and llhttp is done with it (an upgrade, never to be
            # known, raises HttpParserUpgrade after this): its head is known from now on.
            self._raw_head = b""
            head = self._events[-1]
            if type(head) is RequestHead and type(raw) is bytes:
                if len(_KNOWN_HEADS) >= _KNOWN_HEADS_SIZE:
                    _KNOWN_HEADS.clear()
                _KNOWN_HEADS[raw] = head
        self._events.append(END_OF_MESSAGE)
        self._state = _DONE if self._keep_alive else _MUST_CLOSE
        self._phase = _HEAD
        self._empty_lines = 0
        # _reset_message(), inlined: this runs once per request.
        self._headers = []
        self._host_count = 0
        self._content_length = None
        self._te_seen = False
        self._expect = False
