"""RequestParser's known heads: the head of a bodiless request read before is found again
without llhttp, with the events and the state llhttp's reading gives; heads with a body,
upgrades, refused heads, heads with credentials and heads over the size bound are never found
again, and a head fed in pieces is not looked up; the cache stays bounded; and each parser's own
limits still hold on a known head."""

from __future__ import annotations

import random
import threading
from array import array
from collections.abc import Iterator, Mapping, Sequence
from types import GetSetDescriptorType, MemberDescriptorType

import httptools
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests._helpers.http import by_byte, drive, merge_body_chunks, parse, random_split
from tests.http.test_fuzz import FUZZ, comparable, mutated_request, valid_pipelines, valid_request

from dsexec.http import (
    END_OF_MESSAGE,
    NEED_DATA,
    PAUSED,
    ConnectionClosed,
    Event,
    ProtocolError,
    RequestHead,
    RequestParser,
)
from dsexec.http._parser import _KNOWN_HEAD_BYTES, _KNOWN_HEADS, _KNOWN_HEADS_SIZE

GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
POLL = b"GET /api/status?since=17 HTTP/1.1\r\nHost: api.example\r\nAccept: */*\r\n\r\n"


@pytest.fixture(autouse=True)
def _cold_cache() -> Iterator[None]:
    # (once per test: a property test clears the cache itself between examples)
    _KNOWN_HEADS.clear()
    yield
    _KNOWN_HEADS.clear()


class CountingLlhttp(httptools.HttpRequestParser):
    """llhttp for a RequestParser (its protocol), keeping what it is fed."""

    def __init__(self, protocol: RequestParser) -> None:
        super().__init__(protocol)
        self.fed: list[bytes] = []

    def feed_data(self, data: bytes | bytearray | memoryview | array[int]) -> None:
        self.fed.append(bytes(data))
        super().feed_data(data)


def counting_parser(**limits: int) -> tuple[RequestParser, CountingLlhttp]:
    """A parser whose llhttp keeps what it is fed."""
    parser = RequestParser(**limits)
    llhttp = parser._parser = CountingLlhttp(parser)
    return parser, llhttp


# The parser's attributes (slots in Python, getset descriptors when compiled), properties left
# out; the llhttp object is compared by what the parser does with it afterwards.
STATE_NAMES = sorted(
    name
    for name, value in vars(RequestParser).items()
    if name.startswith("_")
    and not name.startswith("__")
    and name != "_parser"
    and isinstance(value, MemberDescriptorType | GetSetDescriptorType)
)


def state_of(parser: RequestParser) -> dict[str, object]:
    """Everything the parser holds but its llhttp object (queued events as a list)."""
    state = {name: getattr(parser, name) for name in STATE_NAMES}
    state["_events"] = list(parser._events)
    return state


def transcript(
    pieces: Sequence[bytes], *, eof: bool = False, limits: Mapping[str, int] | None = None
) -> list[object]:
    """What a server sees feeding ``pieces`` to a parser with ``limits`` (answering each
    request at once): after each piece, the events, ``must_close``, ``needs_data`` and
    ``trailing_data``; then the parser's whole state."""
    parser = RequestParser(**(limits or {}))
    out: list[object] = []

    def drain() -> None:
        events: list[object] = []
        while True:
            event = parser.next_event()
            if event is NEED_DATA:
                break
            if event is PAUSED:
                events.append(PAUSED)
                if parser.must_close:
                    break
                parser.start_next_cycle()
                continue
            events.append(event)
        out.append((events, parser.must_close, parser.needs_data, parser.trailing_data))

    for piece in pieces:
        parser.feed(piece)
        drain()
    if eof:
        parser.feed(b"")
        drain()
    out.append(state_of(parser))
    return out


def events_of(record: list[object]) -> list[Event]:
    """The events of a ``transcript``, body chunks merged."""
    steps = record[:-1]
    events = [e for step in steps for e in step[0] if e is not PAUSED]  # type: ignore[index]
    return merge_body_chunks(events)


def at_heads(data: bytes) -> list[bytes]:
    """``data`` cut after each ``CRLFCRLF``: each head of a valid stream comes in a piece of
    its own (the case the parser's fast path reads)."""
    pieces = []
    start = 0
    while (found := data.find(b"\r\n\r\n", start)) >= 0:
        pieces.append(data[start : found + 4])
        start = found + 4
    return [*pieces, data[start:]] if start < len(data) else pieces


REPEATED_HEADS = [
    GET,
    POLL,
    b"GET / HTTP/1.0\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
    b"DELETE /r HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    b"\r\n\r\nGET /after-empty-lines HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
    b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",  # no Host: 400
    b"GET /me HTTP/1.1\r\nHost: a\r\nCookie: s=1\r\n\r\n",  # never known
]


@st.composite
def repeated_heads(draw: st.DrawFn) -> list[bytes]:
    """Requests of which many repeat a head (the known-heads case), valid ones mixed in."""
    rng = random.Random(draw(st.integers(0, 2**64 - 1)))
    pool = [rng.choice(REPEATED_HEADS) for _ in range(3)] + [valid_request(rng)]
    return [rng.choice(pool) for _ in range(rng.randrange(1, 8))]


streams = st.one_of(mutated_request(), valid_pipelines, repeated_heads().map(b"".join))


@FUZZ
@given(data=streams, seed=st.integers(0, 2**32 - 1), eof=st.booleans())
def test_a_warm_cache_gives_the_events_and_state_of_a_cold_one_however_the_bytes_are_split(
    data: bytes, seed: int, eof: bool
) -> None:
    # Byte by byte no head arrives whole: llhttp reads every one, the reference.
    reference = comparable(events_of(transcript(by_byte(data), eof=eof)))
    splittings = {
        "random": random_split(data, random.Random(seed), 6),
        "at heads": at_heads(data),
        "whole": [data],
    }
    cold = {}
    for name, pieces in splittings.items():
        _KNOWN_HEADS.clear()
        cold[name] = transcript(pieces, eof=eof)
        assert comparable(events_of(cold[name])) == reference, name
    # The cache now holds the heads of the whole stream (read last), found again in the
    # other splittings, then in the same one.
    for name, pieces in reversed(splittings.items()):
        assert transcript(pieces, eof=eof) == cold[name], name


@FUZZ
@given(requests=repeated_heads())
def test_a_head_known_from_another_connection_reads_the_same_after_other_requests(
    requests: list[bytes],
) -> None:
    # llhttp reads a head the same at the start of a connection and after other requests:
    # heads learnt alone are found again in a pipeline, and the other way round.
    stream = b"".join(requests)
    _KNOWN_HEADS.clear()
    cold = transcript([stream])
    for request in requests:
        parse(request)
    assert transcript([stream]) == cold
    alone = []
    for request in requests:
        _KNOWN_HEADS.clear()
        alone.append(transcript([request]))
    parse(stream)
    assert [transcript([request]) for request in requests] == alone


@FUZZ
@given(
    data=streams,
    max_header_bytes=st.integers(64, 300),
    max_target_bytes=st.integers(1, 40),
    max_body_bytes=st.integers(0, 20),
)
def test_a_head_known_from_a_lenient_parser_is_read_with_a_strict_parsers_limits(
    data: bytes, max_header_bytes: int, max_target_bytes: int, max_body_bytes: int
) -> None:
    limits = {
        "max_header_bytes": max_header_bytes,
        "max_target_bytes": max_target_bytes,
        "max_body_bytes": max_body_bytes,
    }
    _KNOWN_HEADS.clear()
    cold = transcript([data], limits=limits)
    _KNOWN_HEADS.clear()
    cold_at_heads = transcript(at_heads(data), limits=limits)
    _KNOWN_HEADS.clear()
    parse(data)  # default limits
    assert transcript([data], limits=limits) == cold
    assert transcript(at_heads(data), limits=limits) == cold_at_heads


# -- llhttp is skipped exactly where it may be -----------------------------------------------


def test_a_repeated_bodiless_head_skips_llhttp_with_the_same_head_object() -> None:
    first, llhttp = counting_parser()
    [head, _] = drive(first, [POLL])
    assert llhttp.fed == [POLL]
    again, llhttp = counting_parser()
    again.feed(POLL)
    assert [again.next_event() for _ in range(3)] == [head, END_OF_MESSAGE, PAUSED]
    assert llhttp.fed == []
    assert not again.must_close
    again.start_next_cycle()
    assert again.next_event() is NEED_DATA
    assert drive(RequestParser(), [POLL])[0] is head


def test_a_repeated_head_on_one_connection_is_read_by_llhttp_once() -> None:
    parser, llhttp = counting_parser()
    events = drive(parser, [POLL * 3, POLL, POLL[:20], POLL[20:], b"\r\n" + POLL])
    assert events == parse(by_byte(POLL * 6))
    assert len(events) == 12
    # Only the first head and the one fed in two pieces went to llhttp.
    assert llhttp.fed == [POLL, POLL[:20], POLL[20:]]


def test_the_state_after_a_known_head_is_the_state_after_llhttp_read_it() -> None:
    # The request waits (PAUSED) with the bytes after it, as after llhttp's reading.
    data = POLL + b"GET /next HT"
    cold = RequestParser()
    cold.feed(data)
    assert [cold.next_event(), cold.next_event(), cold.next_event()][2] is PAUSED
    warm, llhttp = counting_parser()
    warm.feed(data)
    assert [warm.next_event(), warm.next_event(), warm.next_event()][2] is PAUSED
    assert llhttp.fed == []
    assert state_of(warm) == state_of(cold)
    assert warm.trailing_data == b"GET /next HT"
    for parser in (cold, warm):
        parser.start_next_cycle()
        parser.feed(b"TP/1.1\r\nHost: a\r\n\r\n")
    assert drive(warm, []) == drive(cold, [])


def test_the_empty_lines_before_a_known_head_are_counted_and_reset_as_by_llhttp() -> None:
    # Six empty lines, then the known head; six more and another: within ten each time.
    data = b"\r\n" * 6 + GET + b"\r\n" * 6 + GET
    parse(GET)
    parser, llhttp = counting_parser()
    assert drive(parser, [data]) == parse(by_byte(data)) == [*parse(GET), *parse(GET)]
    assert llhttp.fed == []
    assert drive(RequestParser(), [b"\r\n" * 11 + GET]) == [
        ProtocolError(400, "too many empty lines before the request line")
    ]


def assert_never_known(request_bytes: bytes) -> None:
    """Parsed twice by fresh parsers, ``request_bytes`` goes through llhttp both times, with
    the events of a byte-by-byte parse, and leaves no known head behind."""
    expected = parse(by_byte(request_bytes))
    for _ in range(2):
        parser, llhttp = counting_parser()
        assert drive(parser, [request_bytes]) == expected
        assert llhttp.fed
    assert not _KNOWN_HEADS


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
        b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
        b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",  # refused: no Host
        b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",  # refused: 501
        b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"y" * (_KNOWN_HEAD_BYTES - 30) + b"\r\n\r\n",
    ],
    ids=["Content-Length", "chunked", "Expect with a body", "upgrade", "400", "501", "large"],
)
def test_a_head_with_a_body_an_upgrade_a_refusal_or_over_the_size_bound_is_never_known(
    request_bytes: bytes,
) -> None:
    assert_never_known(request_bytes)


@pytest.mark.parametrize(
    "credentials",
    [b"Authorization: Bearer 1234", b"cookie: session=1234", b"Proxy-Authorization: Basic eDp5"],
)
def test_a_head_with_credentials_is_never_known(credentials: bytes) -> None:
    """A hit is faster than a miss: a head with a token must not let another client confirm a
    guess of it by timing."""
    assert_never_known(b"GET / HTTP/1.1\r\nHost: a\r\n" + credentials + b"\r\n\r\n")


def test_after_credentials_no_head_of_the_connection_is_looked_up_or_known() -> None:
    # Its client sends them again: a lookup would only cost the hashing of the head.
    parse(POLL)
    secret = b"GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer 1234\r\n\r\n"
    other = b"GET /other HTTP/1.1\r\nHost: a\r\n\r\n"
    parser, llhttp = counting_parser()
    assert drive(parser, [secret, POLL, other]) == parse(by_byte(secret + POLL + other))
    assert llhttp.fed == [secret, POLL, other]
    assert secret not in _KNOWN_HEADS
    assert other not in _KNOWN_HEADS
    parser, llhttp = counting_parser()
    assert drive(parser, [POLL, other]) == parse(by_byte(POLL + other))
    assert llhttp.fed == [other]
    assert other in _KNOWN_HEADS


def test_heads_up_to_the_size_bound_are_known() -> None:
    filler = _KNOWN_HEAD_BYTES - len(b"GET / HTTP/1.1\r\nHost: a\r\nX: \r\n\r\n")
    largest = b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"y" * filler + b"\r\n\r\n"
    assert len(largest) == _KNOWN_HEAD_BYTES
    parse(largest)
    parser, llhttp = counting_parser()
    assert drive(parser, [largest]) == parse(by_byte(largest))
    assert llhttp.fed == []


def test_a_head_fed_in_pieces_is_not_looked_up_but_becomes_known() -> None:
    pieces = [POLL[:10], POLL[10:]]
    parser, llhttp = counting_parser()
    assert drive(parser, pieces) == parse(by_byte(POLL))
    assert POLL in _KNOWN_HEADS
    parser, llhttp = counting_parser()
    assert drive(parser, pieces) == parse(by_byte(POLL))
    assert llhttp.fed == pieces
    parser, llhttp = counting_parser()
    assert drive(parser, [POLL]) == parse(by_byte(POLL))
    assert llhttp.fed == []


@pytest.mark.parametrize(
    ("request_bytes", "keep_alive"),
    [
        (b"GET / HTTP/1.0\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", True),
        (b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", False),
        (GET, True),
    ],
    ids=["1.0", "1.0 keep-alive", "1.1 close", "1.1"],
)
def test_a_known_head_keeps_its_keep_alive_and_what_follows_is_read_or_dropped_alike(
    request_bytes: bytes, keep_alive: bool
) -> None:
    data = request_bytes + GET
    cold = transcript([data])
    parser, llhttp = counting_parser()
    head = drive(parser, [request_bytes])[0]
    assert type(head) is RequestHead
    assert head.keep_alive is keep_alive
    assert transcript([data]) == cold
    assert transcript([request_bytes, GET]) == transcript([request_bytes, GET])
    again, llhttp = counting_parser()
    events = drive(again, [data])
    assert events == ([head, END_OF_MESSAGE, *parse(GET)] if keep_alive else [head, END_OF_MESSAGE])
    assert again.must_close is not keep_alive
    # The first head came from the cache; the GET after it, if read, too.
    assert llhttp.fed == []


@pytest.mark.parametrize(
    ("request_bytes", "expect_continue"),
    [
        (b"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n", True),
        (b"GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", False),
    ],
)
def test_a_known_bodiless_head_with_expect_keeps_expect_continue(
    request_bytes: bytes, expect_continue: bool
) -> None:
    # What matters of Expect is in the head (expect_continue), read once; no body follows, so
    # the server's choice (send 100 Continue or not) is the same either way.
    [head, _] = parse(request_bytes)
    parser, llhttp = counting_parser()
    assert drive(parser, [request_bytes]) == [head, END_OF_MESSAGE]
    assert llhttp.fed == []
    assert type(head) is RequestHead
    assert head.expect_continue is expect_continue
    assert not head.has_body


def test_a_request_after_a_bodiless_upgrade_is_found_again_alike() -> None:
    upgrade = b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    cold = transcript([upgrade + POLL])
    parser, llhttp = counting_parser()
    assert transcript([upgrade + POLL]) == cold
    drive(parser, [upgrade + POLL])
    assert llhttp.fed == [upgrade]


def test_end_of_input_after_a_known_head_closes_the_connection_alike() -> None:
    parse(GET)
    assert parse(GET, eof=True) == [*parse(by_byte(GET)), ConnectionClosed()]


# -- the cache is bounded ---------------------------------------------------------------------


def test_the_cache_holds_at_most_its_size_and_keeps_taking_new_heads() -> None:
    heads = [b"GET /%d HTTP/1.1\r\nHost: a\r\n\r\n" % n for n in range(3 * _KNOWN_HEADS_SIZE)]
    for head in heads:
        parse(head)
        assert 0 < len(_KNOWN_HEADS) <= _KNOWN_HEADS_SIZE
    # The newest head is known, though the cache was full before it.
    parser, llhttp = counting_parser()
    drive(parser, [heads[-1]])
    assert llhttp.fed == []


# -- each parser's limits hold -----------------------------------------------------------------


def test_a_head_known_from_a_lenient_parser_is_still_431_or_414_for_a_strict_one() -> None:
    target = b"/" + b"t" * 99
    head = b"GET " + target + b" HTTP/1.1\r\nHost: a\r\nX: " + b"y" * 100 + b"\r\n\r\n"
    parse(head)
    assert head in _KNOWN_HEADS
    too_long = ProtocolError(414, "request target longer than max_target_bytes")
    too_large = ProtocolError(431, "request head larger than max_header_bytes")
    assert parse(head, max_target_bytes=99) == [too_long]
    assert parse(head, max_header_bytes=len(head) - 1) == [too_large]
    assert parse(head, max_target_bytes=100, max_header_bytes=len(head)) == parse(head)
    # And as a strict parser reads them with a cold cache.
    _KNOWN_HEADS.clear()
    assert parse(head, max_target_bytes=99) == [too_long]
    assert parse(head, max_header_bytes=len(head) - 1) == [too_large]


def test_a_known_head_with_content_length_0_holds_under_max_body_bytes_0() -> None:
    head = b"DELETE /r HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"
    parse(head)
    assert head in _KNOWN_HEADS
    parser, llhttp = counting_parser(max_body_bytes=0)
    assert drive(parser, [head]) == parse(by_byte(head), max_body_bytes=0)
    assert llhttp.fed == []


# -- threads -----------------------------------------------------------------------------------


def test_parsers_on_several_threads_share_the_cache_and_read_alike() -> None:
    rng = random.Random(7)
    streams = [b"".join(rng.choice(REPEATED_HEADS) for _ in range(20)) for _ in range(8)]
    expected = [parse(by_byte(stream)) for stream in streams]
    failures: list[int] = []

    def read(index: int) -> None:
        for _ in range(50):
            if parse(streams[index]) != expected[index]:
                failures.append(index)

    threads = [threading.Thread(target=read, args=(i,)) for i in range(len(streams))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
