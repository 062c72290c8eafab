"""RequestParser on valid input: the same events whether a request comes whole, byte by byte,
at random split points or followed by pipelined data; pausing, keep-alive, bodies, limits,
end of input, and misuse."""

from __future__ import annotations

import random

import httptools
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests._helpers.http import by_byte, drive, parse, random_split

from dsexec import HttpError
from dsexec.http import (
    END_OF_MESSAGE,
    NEED_DATA,
    PAUSED,
    BodyChunk,
    ConnectionClosed,
    EndOfMessage,
    Event,
    ProtocolError,
    RequestHead,
    RequestParser,
)


def head(
    method: bytes = b"GET",
    target: bytes = b"/",
    headers: tuple[tuple[bytes, bytes], ...] = ((b"Host", b"a"),),
    *,
    http_version: str = "1.1",
    keep_alive: bool = True,
    expect_continue: bool = False,
    content_length: int | None = None,
    chunked: bool = False,
) -> RequestHead:
    return RequestHead(
        method, target, http_version, headers, keep_alive, expect_continue, content_length, chunked
    )


GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"

# (id, request bytes, expected events with body chunks merged)
VALID: list[tuple[str, bytes, list[Event]]] = [
    ("simple GET", GET, [head(), END_OF_MESSAGE]),
    (
        "GET with query and several headers",
        b"GET /a/b?c=d&e=%20 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: t\r\n"
        b"Accept: */*\r\n\r\n",
        [
            head(
                target=b"/a/b?c=d&e=%20",
                headers=(
                    (b"Host", b"example.com:8080"),
                    (b"User-Agent", b"t"),
                    (b"Accept", b"*/*"),
                ),
            ),
            END_OF_MESSAGE,
        ],
    ),
    (
        "header values lose surrounding whitespace, keep inner whitespace and obs-text",
        b"GET / HTTP/1.1\r\nHost:a\r\nX-A: \t one  two \t \r\nX-B:\r\nX-C: caf\xc3\xa9\r\n\r\n",
        [
            head(
                headers=(
                    (b"Host", b"a"),
                    (b"X-A", b"one  two"),
                    (b"X-B", b""),
                    (b"X-C", b"caf\xc3\xa9"),
                )
            ),
            END_OF_MESSAGE,
        ],
    ),
    (
        "Content-Length body",
        b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world",
        [
            head(
                b"POST",
                b"/upload",
                ((b"Host", b"a"), (b"Content-Length", b"11")),
                content_length=11,
            ),
            BodyChunk(b"hello world"),
            END_OF_MESSAGE,
        ],
    ),
    (
        "Content-Length zero has no body events",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
        [
            head(b"POST", headers=((b"Host", b"a"), (b"Content-Length", b"0")), content_length=0),
            END_OF_MESSAGE,
        ],
    ),
    (
        "chunked body with extensions, a CRLFCRLF inside the data and trailers",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n4\r\n\r\n\r\n\r\n00A\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n",
        [
            head(
                b"POST",
                headers=((b"Host", b"a"), (b"Transfer-Encoding", b"Chunked")),
                chunked=True,
            ),
            BodyChunk(b"hello\r\n\r\n0123456789"),
            END_OF_MESSAGE,
        ],
    ),
    (
        "Connection: close",
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        [
            head(headers=((b"Host", b"a"), (b"Connection", b"close")), keep_alive=False),
            END_OF_MESSAGE,
        ],
    ),
    (
        "Connection: close among other tokens, any case",
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: TE, Close\r\n\r\n",
        [
            head(headers=((b"Host", b"a"), (b"Connection", b"TE, Close")), keep_alive=False),
            END_OF_MESSAGE,
        ],
    ),
    (
        "HTTP/1.0 closes by default and needs no Host",
        b"GET / HTTP/1.0\r\n\r\n",
        [head(headers=(), http_version="1.0", keep_alive=False), END_OF_MESSAGE],
    ),
    (
        "HTTP/1.0 with Connection: keep-alive",
        b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
        [head(headers=((b"Connection", b"Keep-Alive"),), http_version="1.0"), END_OF_MESSAGE],
    ),
    (
        "Expect: 100-continue",
        b"PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nok",
        [
            head(
                b"PUT",
                b"/f",
                ((b"Host", b"a"), (b"Expect", b"100-Continue"), (b"Content-Length", b"2")),
                expect_continue=True,
                content_length=2,
            ),
            BodyChunk(b"ok"),
            END_OF_MESSAGE,
        ],
    ),
    (
        "Expect: 100-continue means nothing in HTTP/1.0",
        b"GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n",
        [
            head(headers=((b"Expect", b"100-continue"),), http_version="1.0", keep_alive=False),
            END_OF_MESSAGE,
        ],
    ),
    (
        "HEAD, OPTIONS * and absolute-form targets",
        b"HEAD http://a/x HTTP/1.1\r\nHost: a\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
        [head(b"HEAD", b"http://a/x"), END_OF_MESSAGE, head(b"OPTIONS", b"*"), END_OF_MESSAGE],
    ),
    (
        "a bodiless Upgrade request is an ordinary request (no upgrade happens)",
        b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n" + GET,
        [
            head(
                target=b"/ws",
                headers=((b"Host", b"a"), (b"Connection", b"Upgrade"), (b"Upgrade", b"websocket")),
            ),
            END_OF_MESSAGE,
            head(),
            END_OF_MESSAGE,
        ],
    ),
    (
        "Host with an IPv6 literal and port",
        b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
        [head(headers=((b"Host", b"[::1]:8080"),)), END_OF_MESSAGE],
    ),
    (
        "empty lines before the request line are skipped (RFC 9112 2.2)",
        b"\r\n\r\n" + GET,
        [head(), END_OF_MESSAGE],
    ),
    (
        "a CRLF after a body, before the next request, is skipped",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc\r\n"
        b"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
        [
            head(b"POST", headers=((b"Host", b"a"), (b"Content-Length", b"3")), content_length=3),
            BodyChunk(b"abc"),
            END_OF_MESSAGE,
            head(target=b"/2"),
            END_OF_MESSAGE,
        ],
    ),
    (
        "a CRLF after a chunked body with trailers, before the next request, is skipped",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;e=\"q v\"\r\nabc\r\n0;last\r\nT: v\r\n\r\n\r\n" + GET,
        [
            head(
                b"POST",
                headers=((b"Host", b"a"), (b"Transfer-Encoding", b"chunked")),
                chunked=True,
            ),
            BodyChunk(b"abc"),
            END_OF_MESSAGE,
            head(),
            END_OF_MESSAGE,
        ],
    ),
]

VALID_IDS = [case[0] for case in VALID]


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in VALID], ids=VALID_IDS)
def test_valid_request_fed_whole_gives_the_expected_events(
    data: bytes, expected: list[Event]
) -> None:
    assert parse(data) == expected


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in VALID], ids=VALID_IDS)
def test_valid_request_fed_byte_by_byte_gives_the_same_events(
    data: bytes, expected: list[Event]
) -> None:
    assert parse(by_byte(data)) == expected


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in VALID], ids=VALID_IDS)
def test_valid_request_with_pipelined_trailing_data_gives_the_same_events_then_the_next(
    data: bytes, expected: list[Event]
) -> None:
    follow = b"GET /next HTTP/1.1\r\nHost: b\r\n\r\n"
    events = parse(data + follow)
    if any(type(e) is RequestHead and not e.keep_alive for e in expected):
        assert events == expected  # the bytes after a closing request are never parsed
    else:
        assert events == [
            *expected,
            head(target=b"/next", headers=((b"Host", b"b"),)),
            END_OF_MESSAGE,
        ]


@settings(max_examples=300, deadline=None)
@given(
    case=st.sampled_from(VALID),
    seed=st.integers(0, 2**32 - 1),
    cuts=st.integers(1, 12),
    copies=st.integers(1, 3),
)
def test_valid_requests_at_random_split_points_give_the_same_events(
    case: tuple[str, bytes, list[Event]], seed: int, cuts: int, copies: int
) -> None:
    _, data, expected = case
    keep_alive = type(expected[0]) is not RequestHead or expected[0].keep_alive
    copies = copies if keep_alive else 1
    pieces = random_split(data * copies, random.Random(seed), cuts)
    assert parse(pieces) == expected * copies


def test_next_event_is_need_data_until_the_head_is_complete() -> None:
    parser = RequestParser()
    assert parser.next_event() is NEED_DATA
    parser.feed(GET[:-1])
    assert parser.next_event() is NEED_DATA
    parser.feed(GET[-1:])
    assert parser.next_event() == head()
    assert parser.next_event() == EndOfMessage()


def waits(parser: RequestParser) -> bool:
    """``parser.needs_data``, read through a call (mypy would narrow the property)."""
    return parser.needs_data


def test_needs_data_says_when_next_event_would_be_need_data_without_parsing() -> None:
    parser = RequestParser()
    assert waits(parser)  # nothing fed yet
    parser.feed(GET[:5])
    assert not waits(parser)  # bytes wait to be parsed
    assert parser.next_event() is NEED_DATA
    assert waits(parser)  # parsed: the head goes on in the next bytes
    parser.feed(GET[5:] + b"GE")
    assert not waits(parser)
    assert parser.next_event() == head()
    assert not waits(parser)  # EndOfMessage waits
    assert parser.next_event() is END_OF_MESSAGE
    assert not waits(parser)  # paused until the answer
    assert parser.next_event() is PAUSED
    parser.start_next_cycle()
    assert not waits(parser)  # the pipelined b"GE"
    assert parser.next_event() is NEED_DATA
    assert waits(parser)
    parser.feed(b"")
    assert not waits(parser)  # end of input: the next event is ConnectionClosed or an error
    assert parser.next_event() is not NEED_DATA

    closing = RequestParser()
    closing.feed(b"GET / HTTP/1.0\r\n\r\n")
    assert closing.next_event() is not NEED_DATA
    assert closing.next_event() is END_OF_MESSAGE
    assert closing.must_close
    assert not waits(closing)  # no request may come


def test_parser_pauses_after_a_request_and_keeps_the_pipelined_bytes_unparsed() -> None:
    parser = RequestParser()
    second = b"POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
    parser.feed(GET + second + b"GE")
    assert parser.next_event() == head()
    assert parser.next_event() is END_OF_MESSAGE
    assert parser.next_event() is PAUSED
    parser.feed(b"T /3 HTTP/1.1\r\nHost: a\r\n\r\n")
    assert parser.next_event() is PAUSED  # still answering the first request
    assert parser.trailing_data == second + b"GET /3 HTTP/1.1\r\nHost: a\r\n\r\n"
    parser.start_next_cycle()
    assert type(parser.next_event()) is RequestHead
    assert parser.next_event() == BodyChunk(b"abc")
    assert parser.next_event() is END_OF_MESSAGE
    assert parser.next_event() is PAUSED
    parser.start_next_cycle()
    third = parser.next_event()
    assert third == head(target=b"/3")
    assert type(third) is RequestHead
    assert type(third.target) is bytes  # not a piece of the parser's bytearray buffer


@pytest.mark.parametrize("left_over", range(1, 8))
def test_a_head_begun_by_the_bytes_left_after_a_request_is_read_whole(left_over: int) -> None:
    second = b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"
    parser = RequestParser()
    parser.feed(GET + second[:left_over])
    assert parser.next_event() == head()
    assert parser.next_event() is END_OF_MESSAGE
    assert parser.next_event() is PAUSED
    parser.start_next_cycle()
    assert parser.next_event() is NEED_DATA
    parser.feed(second[left_over:])
    assert parser.next_event() == head(b"OPTIONS", b"*")


def test_bytes_after_a_connection_close_request_are_never_parsed() -> None:
    parser = RequestParser()
    parser.feed(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n\x00garbage")
    assert type(parser.next_event()) is RequestHead
    assert parser.next_event() is END_OF_MESSAGE
    assert parser.must_close
    parser.feed(b"more garbage")
    assert parser.next_event() is PAUSED
    assert parser.next_event() is PAUSED
    with pytest.raises(RuntimeError, match="does not keep the connection alive"):
        parser.start_next_cycle()


def test_http10_keep_alive_requests_pipeline_and_a_plain_one_ends_the_connection() -> None:
    data = (
        b"GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        b"GET /2 HTTP/1.0\r\n\r\n"
        b"GET /3 HTTP/1.0\r\n\r\n"
    )
    events = parse(data)
    assert [e.target for e in events if type(e) is RequestHead] == [b"/1", b"/2"]
    assert [e.keep_alive for e in events if type(e) is RequestHead] == [True, False]


def test_start_next_cycle_before_the_end_of_a_request_is_a_runtime_error() -> None:
    parser = RequestParser()
    with pytest.raises(RuntimeError, match="no request has been read"):
        parser.start_next_cycle()
    parser.feed(GET)
    assert type(parser.next_event()) is RequestHead
    with pytest.raises(RuntimeError, match="no request has been read"):
        parser.start_next_cycle()  # EndOfMessage not taken yet


def test_a_body_arrives_in_order_as_it_streams() -> None:
    parser = RequestParser()
    parser.feed(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nab")
    assert type(parser.next_event()) is RequestHead
    assert parser.next_event() == BodyChunk(b"ab")
    assert parser.next_event() is NEED_DATA
    parser.feed(b"cdefGET")
    assert parser.next_event() == BodyChunk(b"cdef")
    assert parser.next_event() is END_OF_MESSAGE
    assert parser.trailing_data == b"GET"


def test_chunked_trailers_are_dropped_but_checked() -> None:
    body = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n"
    assert parse(body + b"A: b\r\nC: d\r\n\r\n")[-2:] == [BodyChunk(b"x"), END_OF_MESSAGE]
    events = parse(body + b"A\x00: b\r\n\r\n")
    assert type(events[-1]) is ProtocolError
    assert events[-1].status == 400


# -- end of input ---------------------------------------------------------------------------


def test_end_of_input_between_requests_is_connection_closed() -> None:
    parser = RequestParser()
    assert drive(parser, [GET], eof=True) == [head(), END_OF_MESSAGE, ConnectionClosed()]
    assert parser.must_close
    assert parser.next_event() is PAUSED


def test_end_of_input_on_a_fresh_connection_is_connection_closed() -> None:
    assert parse([], eof=True) == [ConnectionClosed()]


@pytest.mark.parametrize(
    "partial",
    [
        b"G",
        b"GET / HTTP/1.1\r\nHost: a\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n",
    ],
    ids=["method", "head", "length body", "chunked body"],
)
def test_end_of_input_inside_a_request_is_a_protocol_error(partial: bytes) -> None:
    events = parse(partial, eof=True)
    assert events[-1] == ProtocolError(400, "the connection closed in the middle of a request")


def test_end_of_input_while_paused_is_reported_after_the_next_cycle() -> None:
    parser = RequestParser()
    parser.feed(GET)
    parser.feed(b"")
    assert type(parser.next_event()) is RequestHead
    assert parser.next_event() is END_OF_MESSAGE
    assert parser.next_event() is PAUSED
    parser.start_next_cycle()
    assert parser.next_event() == ConnectionClosed()


def test_data_after_end_of_input_is_a_runtime_error() -> None:
    parser = RequestParser()
    parser.feed(b"")
    with pytest.raises(RuntimeError, match="after the end of input"):
        parser.feed(GET)


# -- errors are final -----------------------------------------------------------------------


def test_after_a_protocol_error_input_is_discarded_and_nothing_more_comes() -> None:
    parser = RequestParser()
    parser.feed(b"GET / HTTP/1.1\r\nHost : a\r\n\r\n" + GET)
    event = parser.next_event()
    assert type(event) is ProtocolError
    assert event.status == 400
    parser.feed(GET)
    assert parser.trailing_data == b""
    assert parser.next_event() is PAUSED
    assert parser.must_close
    with pytest.raises(RuntimeError, match="protocol error or end of input"):
        parser.start_next_cycle()


def test_events_before_an_error_in_a_pipeline_come_first() -> None:
    events = parse(GET + b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\nx")
    assert events[:2] == [head(), END_OF_MESSAGE]
    assert type(events[2]) is ProtocolError
    assert len(events) == 3


def test_protocol_error_converts_to_http_error() -> None:
    error = ProtocolError(431, "too big").to_http_error()
    assert isinstance(error, HttpError)
    assert (error.status, str(error)) == (431, "too big")


# -- limits ---------------------------------------------------------------------------------


def _head_of_size(size: int) -> bytes:
    base = b"GET / HTTP/1.1\r\nHost: a\r\nX: \r\n\r\n"
    return base.replace(b"X: ", b"X: " + b"v" * (size - len(base)))


@pytest.mark.parametrize("split", [False, True], ids=["whole", "byte by byte"])
def test_a_head_of_exactly_max_header_bytes_passes_and_one_more_byte_is_431(split: bool) -> None:
    fits, too_big = _head_of_size(200), _head_of_size(201)
    assert len(fits) == 200
    assert type(parse(by_byte(fits) if split else fits, max_header_bytes=200)[0]) is RequestHead
    events = parse(by_byte(too_big) if split else too_big, max_header_bytes=200)
    assert events == [ProtocolError(431, "request head larger than max_header_bytes")]


def test_an_endless_head_is_refused_as_soon_as_it_passes_the_limit() -> None:
    parser = RequestParser(max_header_bytes=100)
    parser.feed(b"GET / HTTP/1.1\r\nHost: a\r\nX: ")
    fed = 0
    while (event := parser.next_event()) is NEED_DATA:
        parser.feed(b"v")
        fed += 1
    assert event == ProtocolError(431, "request head larger than max_header_bytes")
    assert fed == 100 - len(b"GET / HTTP/1.1\r\nHost: a\r\nX: ") + 1


def test_the_head_limit_counts_each_pipelined_head_on_its_own() -> None:
    request = _head_of_size(150)
    events = parse([request * 5], max_header_bytes=150)
    assert [type(e) for e in events] == [RequestHead, EndOfMessage] * 5


def test_a_partial_pipelined_head_after_a_body_is_counted_from_its_own_start() -> None:
    body = b"x" * 500
    first = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 500\r\n\r\n" + body
    second = _head_of_size(150)
    events = parse([first + second[:100], second[100:]], max_header_bytes=150)
    assert [type(e) for e in events] == [
        RequestHead,
        BodyChunk,
        EndOfMessage,
        RequestHead,
        EndOfMessage,
    ]


def test_a_content_length_over_max_body_bytes_is_413_before_any_body() -> None:
    events = parse(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", max_body_bytes=10)
    assert events == [ProtocolError(413, "Content-Length larger than max_body_bytes")]
    fits = parse(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n" + b"x" * 10, max_body_bytes=10
    )
    assert fits[-2:] == [BodyChunk(b"x" * 10), END_OF_MESSAGE]


@pytest.mark.parametrize("split", [False, True], ids=["whole", "byte by byte"])
def test_a_chunked_body_is_counted_as_it_streams(split: bool) -> None:
    data = (
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + b"4\r\nabcd\r\n" * 3
    )
    events = parse(by_byte(data) if split else data, max_body_bytes=10)
    assert type(events[0]) is RequestHead
    # The bytes up to the limit are delivered, however they arrived (split-invariant).
    assert events[1] == BodyChunk(b"abcdabcdab")
    assert events[-1] == ProtocolError(413, "chunked body larger than max_body_bytes")


def test_chunked_trailers_count_against_max_header_bytes() -> None:
    data = (
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
        + b"T: "
        + b"v" * 100
        + b"\r\n\r\n"
    )
    assert parse(data, max_header_bytes=100)[-1] == ProtocolError(
        431, "chunked trailers larger than max_header_bytes"
    )


def test_an_endless_chunk_extension_fed_in_pieces_is_refused() -> None:
    start = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;e="
    events = parse([start, *[b"x" * 10] * 20], max_header_bytes=100)
    assert events[-1] == ProtocolError(400, "chunk framing line longer than max_header_bytes")


# -- chunk framing limits and empty lines, however the bytes are split ----------------------


def splittings(data: bytes) -> list[list[bytes]]:
    """``data`` whole, byte by byte, in pieces of 7 and of 500 bytes, and cut at random
    points."""
    rng = random.Random(11)
    strides = [[data[i : i + n] for i in range(0, len(data), n)] for n in (7, 500)]
    cut = [random_split(data, rng, cuts) for cuts in (2, 5, 40)]
    return [[data], by_byte(data), *strides, *cut]


CHUNKED_HEAD = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
CHUNKED = head(b"POST", headers=((b"Host", b"a"), (b"Transfer-Encoding", b"chunked")), chunked=True)
LINE_TOO_LONG = ProtocolError(400, "chunk framing line longer than max_header_bytes")
TRAILERS_TOO_LARGE = ProtocolError(431, "chunked trailers larger than max_header_bytes")
LIMIT = 1024  # max_header_bytes in these cases


def _size_line(total: int, size: bytes = b"1") -> bytes:
    """A chunk-size line with an extension, ``total`` bytes with its CRLF."""
    return size + b";e=" + b"v" * (total - len(size) - 5) + b"\r\n"


def _trailers(total: int) -> bytes:
    """A trailer section (one field, then the empty line) of ``total`` bytes."""
    return b"T: " + b"v" * (total - 7) + b"\r\n\r\n"


# (id, request bytes, expected events with body chunks merged), with max_header_bytes=LIMIT
FRAMING: list[tuple[str, bytes, list[Event]]] = [
    (
        "an over-long chunk extension",
        CHUNKED_HEAD + b"1;a=" + b"b" * 3000 + b"\r\nx\r\n0\r\n\r\n",
        [CHUNKED, LINE_TOO_LONG],
    ),
    (
        "an over-long chunk extension after some data",
        CHUNKED_HEAD + b"2\r\nxy\r\n" + _size_line(LIMIT + 1) + b"z\r\n0\r\n\r\n",
        [CHUNKED, BodyChunk(b"xy"), LINE_TOO_LONG],
    ),
    (
        "an over-long extension on the last chunk",
        CHUNKED_HEAD + _size_line(3000, b"0") + b"\r\n",
        [CHUNKED, LINE_TOO_LONG],
    ),
    (
        "a chunk-size line of exactly max_header_bytes",
        CHUNKED_HEAD + _size_line(LIMIT) + b"x\r\n0\r\n\r\n" + GET,
        [CHUNKED, BodyChunk(b"x"), END_OF_MESSAGE, head(), END_OF_MESSAGE],
    ),
    (
        "a chunk-size line one byte longer than max_header_bytes",
        CHUNKED_HEAD + _size_line(LIMIT + 1) + b"x\r\n0\r\n\r\n" + GET,
        [CHUNKED, LINE_TOO_LONG],
    ),
    (
        "long extensions on many chunks, each within the limit",
        CHUNKED_HEAD + (_size_line(LIMIT) + b"x\r\n") * 5 + b"0\r\n\r\n" + GET,
        [CHUNKED, BodyChunk(b"x" * 5), END_OF_MESSAGE, head(), END_OF_MESSAGE],
    ),
    (
        "an over-long trailer",
        CHUNKED_HEAD + b"0\r\nX-T: " + b"a" * 3000 + b"\r\n\r\n",
        [CHUNKED, TRAILERS_TOO_LARGE],
    ),
    (
        "many short trailers, over the limit together",
        CHUNKED_HEAD + b"1\r\nx\r\n0\r\n" + b"T: vvvvvvvvvv\r\n" * 100 + b"\r\n",
        [CHUNKED, BodyChunk(b"x"), TRAILERS_TOO_LARGE],
    ),
    (
        "a trailer section of exactly max_header_bytes",
        CHUNKED_HEAD + b"1\r\nx\r\n0\r\n" + _trailers(LIMIT) + GET,
        [CHUNKED, BodyChunk(b"x"), END_OF_MESSAGE, head(), END_OF_MESSAGE],
    ),
    (
        "a trailer section one byte larger than max_header_bytes",
        CHUNKED_HEAD + b"1\r\nx\r\n0\r\n" + _trailers(LIMIT + 1) + GET,
        [CHUNKED, BodyChunk(b"x"), TRAILERS_TOO_LARGE],
    ),
]


@pytest.mark.parametrize(
    ("data", "expected"), [c[1:] for c in FRAMING], ids=[c[0] for c in FRAMING]
)
def test_chunk_framing_limits_give_the_same_events_however_the_bytes_are_split(
    data: bytes, expected: list[Event]
) -> None:
    for pieces in splittings(data):
        assert parse(pieces, max_header_bytes=LIMIT) == expected


@pytest.mark.parametrize(
    "data",
    [
        CHUNKED_HEAD + b"1;a\x01" + b"b" * 3000 + b"\r\nx\r\n0\r\n\r\n",
        CHUNKED_HEAD + b"0\r\nX\x00: " + b"a" * 3000 + b"\r\n\r\n",
    ],
    ids=["bad extension byte", "NUL in a trailer name"],
)
def test_a_syntax_fault_within_a_framing_limit_is_reported_rather_than_the_limit(
    data: bytes,
) -> None:
    events = [parse(pieces, max_header_bytes=LIMIT) for pieces in splittings(data)]
    assert all(each == events[0] for each in events)
    assert events[0][0] == CHUNKED
    error = events[0][-1]
    assert type(error) is ProtocolError
    assert error.status == 400
    assert error.reason.startswith("malformed request")


@pytest.mark.parametrize("start", [b"1;e=", b"0\r\nT: "], ids=["extension", "trailer"])
def test_endless_framing_bytes_are_refused_as_soon_as_they_pass_the_limit(start: bytes) -> None:
    parser = RequestParser(max_header_bytes=100)
    parser.feed(CHUNKED_HEAD + start)
    assert parser.next_event() == CHUNKED
    fed = len(start) - (3 if start.startswith(b"0") else 0)  # the trailers begin after b"0\r\n"
    while (event := parser.next_event()) is NEED_DATA:
        parser.feed(b"v")
        fed += 1
    assert event == (LINE_TOO_LONG if start.startswith(b"1") else TRAILERS_TOO_LARGE)
    assert fed == 101


EMPTY_LINES_SKIPPED = 10  # at most this many empty lines are skipped before a request line


@pytest.mark.parametrize("whole", [True, False], ids=["whole", "byte by byte"])
def test_up_to_ten_empty_lines_are_skipped_before_each_request_and_more_is_400(
    whole: bool,
) -> None:
    lines = b"\r\n" * EMPTY_LINES_SKIPPED
    data = (lines + GET) * 3
    assert parse(data if whole else by_byte(data)) == [head(), END_OF_MESSAGE] * 3
    data = GET + lines + b"\r\n" + GET
    assert parse(data if whole else by_byte(data)) == [
        head(),
        END_OF_MESSAGE,
        ProtocolError(400, "too many empty lines before the request line"),
    ]


@pytest.mark.parametrize(
    "data",
    [b"\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", GET + b"\r\n\r" + GET],
    ids=["first request", "pipelined"],
)
def test_a_cr_without_lf_before_the_request_line_is_400(data: bytes) -> None:
    for pieces in splittings(data):
        events = parse(pieces)
        assert events[-1] == ProtocolError(400, "a CR without LF before the request line")
        assert events[:-1] == ([] if data.startswith(b"\r") else [head(), END_OF_MESSAGE])


@pytest.mark.parametrize(
    "data",
    [b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", GET + b"\r\n\n" + GET],
    ids=["first request", "pipelined"],
)
def test_a_bare_lf_before_the_request_line_is_400(data: bytes) -> None:
    for pieces in splittings(data):
        events = parse(pieces)
        assert events[-1] == ProtocolError(400, "a bare LF before the request line")
        assert events[:-1] == ([] if data.startswith(b"\n") else [head(), END_OF_MESSAGE])


def test_empty_lines_then_end_of_input_close_the_connection_and_a_lone_cr_is_400() -> None:
    for pieces in splittings(GET + b"\r\n\r\n"):
        assert parse(pieces, eof=True) == [head(), END_OF_MESSAGE, ConnectionClosed()]
    for pieces in splittings(GET + b"\r\n\r"):
        assert parse(pieces, eof=True) == [
            head(),
            END_OF_MESSAGE,
            ProtocolError(400, "the connection closed in the middle of a request"),
        ]


def test_a_target_over_max_target_bytes_is_414() -> None:
    target = b"/" + b"a" * 20
    request = b"GET " + target + b" HTTP/1.1\r\nHost: a\r\n\r\n"
    assert type(parse(request, max_target_bytes=21)[0]) is RequestHead
    for pieces in ([request], by_byte(request)):
        assert parse(pieces, max_target_bytes=20) == [
            ProtocolError(414, "request target longer than max_target_bytes")
        ]


@pytest.mark.parametrize("name", ["max_header_bytes", "max_body_bytes", "max_target_bytes"])
@pytest.mark.parametrize(
    ("value", "error"),
    [
        (-1, ValueError),
        (2**63, ValueError),
        (1.5, TypeError),
        (float("nan"), TypeError),
        (True, TypeError),
        ("100", TypeError),
    ],
)
def test_bad_limits_are_rejected_naming_the_argument(
    name: str, value: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match=name):
        RequestParser(**{name: value})  # type: ignore[arg-type]


def test_feed_takes_bytes_like_data_only() -> None:
    class Bytes(bytes):
        pass

    parser = RequestParser()
    parser.feed(bytearray(GET[:5]))
    parser.feed(memoryview(GET[5:10]))
    parser.feed(Bytes(GET[10:]))
    assert parser.next_event() == head()
    with pytest.raises(TypeError, match="must be bytes"):
        parser.feed("GET")  # type: ignore[arg-type]


# -- the event values -----------------------------------------------------------------------


def test_request_head_offers_lower_case_headers_and_lookup() -> None:
    event = head(headers=((b"Host", b"a"), (b"X-Thing", b"1"), (b"x-thing", b"2")))
    assert event.lowered_headers() == [(b"host", b"a"), (b"x-thing", b"1"), (b"x-thing", b"2")]
    assert event.get(b"X-THING") == b"1"
    assert event.get(b"missing") is None
    assert event.get(b"missing", b"d") == b"d"
    assert not event.has_body
    assert head(content_length=3).has_body
    assert head(chunked=True).has_body
    assert not head(content_length=0).has_body


def test_field_less_events_equal_only_themselves() -> None:
    assert EndOfMessage() == END_OF_MESSAGE
    closed: object = ConnectionClosed()
    assert EndOfMessage() != closed


def test_the_parser_relies_on_httptools_parsing_everything_it_is_fed() -> None:
    # The reason the parser never feeds llhttp more than one request (see _parser.py): if a
    # future httptools paused by itself, the split-feeding would be unnecessary, not wrong.
    completed: list[None] = []

    class Protocol:
        def on_message_complete(self) -> None:
            completed.append(None)

    httptools.HttpRequestParser(Protocol()).feed_data(GET * 3)
    assert len(completed) == 3
