"""Driving ``dsexec.http.RequestParser`` (and, for differential tests, h11) over byte pieces."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from itertools import pairwise

import attrs
import h11

from dsexec.http import (
    NEED_DATA,
    PAUSED,
    BodyChunk,
    EndOfMessage,
    Event,
    ProtocolError,
    RequestHead,
    RequestParser,
)

__all__ = [
    "SimpleRequest",
    "by_byte",
    "drive",
    "h11_requests",
    "merge_body_chunks",
    "parse",
    "random_split",
    "requests_of",
]


def drive(parser: RequestParser, pieces: Iterable[bytes], *, eof: bool = False) -> list[Event]:
    """Feed each piece and collect every event, answering (``start_next_cycle``) each request
    at once, the way a server that handles one request at a time would."""
    out: list[Event] = []

    def drain() -> None:
        while True:
            event = parser.next_event()
            if event is NEED_DATA:
                return
            if event is PAUSED:
                if parser.must_close:
                    return
                parser.start_next_cycle()
                continue
            out.append(event)

    for piece in pieces:
        parser.feed(piece)
        drain()
    if eof:
        parser.feed(b"")
        drain()
    return out


def parse(data: bytes | Sequence[bytes], *, eof: bool = False, **limits: int) -> list[Event]:
    """``drive`` a fresh parser over ``data`` (one buffer or a list of pieces), body chunks
    merged so that any two splittings of the same bytes compare equal."""
    pieces = ([data] if data else []) if isinstance(data, bytes) else list(data)
    return merge_body_chunks(drive(RequestParser(**limits), pieces, eof=eof))


def merge_body_chunks(events: Iterable[Event]) -> list[Event]:
    """Consecutive ``BodyChunk`` events joined into one."""
    out: list[Event] = []
    for event in events:
        if type(event) is BodyChunk and out and type(out[-1]) is BodyChunk:
            out[-1] = BodyChunk(out[-1].data + event.data)
        else:
            out.append(event)
    return out


def by_byte(data: bytes) -> list[bytes]:
    """``data`` one byte at a time."""
    return [data[i : i + 1] for i in range(len(data))]


def random_split(data: bytes, rng: random.Random, cuts: int) -> list[bytes]:
    """``data`` cut at ``cuts`` random points (pieces may be empty: they are dropped)."""
    points = sorted(rng.randrange(len(data) + 1) for _ in range(cuts))
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in pairwise(edges) if b > a]


@attrs.frozen
class SimpleRequest:
    """What two parsers must agree on for one request."""

    method: bytes
    target: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


def requests_of(events: Iterable[Event]) -> tuple[list[SimpleRequest], ProtocolError | None]:
    """The complete requests in ``events`` (header names lower-cased) and the error, if any."""
    done: list[SimpleRequest] = []
    head: RequestHead | None = None
    body = b""
    for event in events:
        if type(event) is RequestHead:
            head, body = event, b""
        elif type(event) is BodyChunk:
            body += event.data
        elif type(event) is EndOfMessage:
            assert head is not None
            headers = tuple(
                # h11 lower-cases the value of Transfer-Encoding; compare like with like.
                (name, value.lower() if name == b"transfer-encoding" else value)
                for name, value in head.lowered_headers()
            )
            done.append(SimpleRequest(head.method, head.target, headers, body))
            head = None
        elif type(event) is ProtocolError:
            return done, event
    return done, None


def h11_server(data: bytes) -> h11.Connection:
    """A fresh h11 server connection given ``data`` after up to ten leading CRLFs (h11 refuses
    empty lines before a request line; dsexec skips up to ten, as RFC 9112 2.2 asks)."""
    for _ in range(10):
        if not data.startswith(b"\r\n"):
            break
        data = data[2:]
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=16 * 1024)
    if data:
        conn.receive_data(data)  # (b"" would mean end of input to h11)
    return conn


def h11_requests(data: bytes) -> tuple[list[SimpleRequest], bool, bool]:
    """h11's reading of ``data`` as a server: the complete requests, whether it raised a
    protocol error, and whether it stopped because the connection must close.

    h11 refuses empty lines before a request line, which RFC 9112 2.2 asks a server to skip
    (dsexec skips up to ten CRLFs): they are skipped here before each request, h11 reading
    the rest with a fresh connection."""
    conn = h11_server(data)
    done: list[SimpleRequest] = []
    current: h11.Request | None = None
    body = b""
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError:
            return done, True, False
        if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
            return done, False, False
        if event is h11.PAUSED:
            if conn.their_state is h11.MUST_CLOSE or conn.our_state is h11.MUST_CLOSE:
                return done, False, True
            if conn.our_state is h11.SEND_RESPONSE:
                conn.send(h11.Response(status_code=200, headers=[(b"content-length", b"0")]))
                conn.send(h11.EndOfMessage())
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                return done, False, True
            conn.start_next_cycle()
            conn = h11_server(conn.trailing_data[0])
            continue
        if isinstance(event, h11.Request):
            current, body = event, b""
        elif isinstance(event, h11.Data):
            body += bytes(event.data)
        elif isinstance(event, h11.EndOfMessage):
            assert current is not None
            headers = tuple((bytes(n), bytes(v)) for n, v in current.headers)
            done.append(SimpleRequest(bytes(current.method), bytes(current.target), headers, body))
            current = None
            if conn.their_state is h11.MUST_CLOSE:
                return done, False, True
