"""Response serialisation: heads with each framing, HEAD answers, chunks, 100 Continue, error
answers, header validation (response splitting), the Date cache."""

from __future__ import annotations

import h11
import pytest

from dsexec.http import (
    CONTINUE_RESPONSE,
    LAST_CHUNK,
    DateCache,
    error_response,
    format_http_date,
    response_body_allowed,
    serialize_chunk,
    serialize_continue,
    serialize_response,
    serialize_response_head,
)

DATE = b"Sun, 06 Nov 1994 08:49:37 GMT"


def read_back(data: bytes, *, method: bytes = b"GET") -> list[object]:
    """h11 (as a client that sent ``method``) reading ``data`` as a response."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method=method, target="/", headers=[("Host", "a")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(data)
    events: list[object] = []
    while (event := conn.next_event()) not in (h11.NEED_DATA, h11.PAUSED):
        events.append(event)
        if isinstance(event, h11.EndOfMessage):
            break
    return events


def test_a_content_length_head() -> None:
    head = serialize_response_head(
        200, [(b"Content-Type", b"text/plain")], content_length=5, date=DATE
    )
    assert head == (
        b"HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
        b"Content-Type: text/plain\r\nContent-Length: 5\r\n\r\n"
    )


def test_a_chunked_head_then_chunks_then_the_last_chunk_read_back_by_h11() -> None:
    data = (
        serialize_response_head(201, [(b"X-A", b"1")], chunked=True)
        + serialize_chunk(b"hello ")
        + serialize_chunk(b"")
        + serialize_chunk(bytearray(b"world"))
        + LAST_CHUNK
    )
    assert b"Transfer-Encoding: chunked\r\n" in data
    assert serialize_chunk(b"hello ") == b"6\r\nhello \r\n"
    events = read_back(data)
    response = events[0]
    assert isinstance(response, h11.Response)
    assert response.status_code == 201
    body = b"".join(bytes(e.data) for e in events if isinstance(e, h11.Data))
    assert body == b"hello world"
    assert isinstance(events[-1], h11.EndOfMessage)


def test_chunk_sizes_are_hex() -> None:
    assert serialize_chunk(b"x" * 255).startswith(b"ff\r\n")
    assert serialize_chunk(memoryview(b"x" * 16)) == b"10\r\n" + b"x" * 16 + b"\r\n"


def test_keep_alive_false_says_connection_close() -> None:
    head = serialize_response_head(200, keep_alive=False, content_length=0)
    assert head == b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def test_an_http10_client_kept_alive_is_told_so() -> None:
    head = serialize_response_head(200, http_version="1.0", content_length=0)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert head.endswith(b"Connection: keep-alive\r\n\r\n")
    closing = serialize_response_head(200, http_version="1.0", keep_alive=False)
    assert closing == b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"


def test_an_http10_client_cannot_get_chunked() -> None:
    with pytest.raises(ValueError, match=r"HTTP/1\.0 client cannot receive a chunked body"):
        serialize_response_head(200, http_version="1.0", chunked=True)


def test_a_body_without_framing_must_close_the_connection() -> None:
    with pytest.raises(ValueError, match="keep_alive=False"):
        serialize_response_head(200)
    assert serialize_response_head(204) == b"HTTP/1.1 204 No Content\r\n\r\n"
    assert serialize_response_head(304, [(b"ETag", b'"x"')]) == (
        b'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n'
    )


def test_framing_conflicts_are_value_errors() -> None:
    with pytest.raises(ValueError, match="not both"):
        serialize_response_head(200, content_length=1, chunked=True)
    with pytest.raises(ValueError, match="204 response has no Content-Length"):
        serialize_response_head(204, content_length=0)
    with pytest.raises(ValueError, match="no body to chunk"):
        serialize_response_head(304, chunked=True)


@pytest.mark.parametrize("name", [b"Content-Length", b"transfer-encoding", b"CONNECTION"])
def test_framing_headers_must_come_as_arguments(name: bytes) -> None:
    with pytest.raises(ValueError, match="instead of a"):
        serialize_response_head(200, [(name, b"1")], content_length=1)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (b"X", b"a\r\nSet-Cookie: evil=1"),
        (b"X", b"a\nb"),
        (b"X", b"a\rb"),
        (b"X", b"a\x00b"),
        (b"X", b"a\x7fb"),
        (b"X", b"\x1b[31m"),
        (b"X-A\r\nEvil", b"1"),
        (b"X A", b"1"),
        (b"X:A", b"1"),
        (b"", b"1"),
        (b"X\x00", b"1"),
    ],
)
def test_response_splitting_characters_are_value_errors(name: bytes, value: bytes) -> None:
    with pytest.raises(ValueError, match=r"control character|not an HTTP token"):
        serialize_response_head(200, [(name, value)], content_length=0)


def test_a_date_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="control character"):
        serialize_response_head(200, content_length=0, date=b"x\r\nSet-Cookie: a=b")


def test_tabs_and_obs_text_in_values_are_allowed() -> None:
    head = serialize_response_head(200, [(b"X", b"a\tb \xe9")], content_length=0)
    assert b"X: a\tb \xe9\r\n" in head


@pytest.mark.parametrize(
    ("headers", "error"),
    [([("X", b"1")], TypeError), ([(b"X", "1")], TypeError), ([(b"X", 1)], TypeError)],
)
def test_header_names_and_values_must_be_bytes(headers: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="must be bytes"):
        serialize_response_head(200, headers, content_length=0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (99, ValueError),
        (100, ValueError),
        (1000, ValueError),
        (-200, ValueError),
        (True, TypeError),
        (200.0, TypeError),
        ("200", TypeError),
    ],
)
def test_bad_statuses_are_refused(status: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="status"):
        serialize_response_head(status, content_length=0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("content_length", "error"),
    [
        (-1, ValueError),
        (2**63, ValueError),
        (1.0, TypeError),
        (float("nan"), TypeError),
        (True, TypeError),
    ],
)
def test_bad_content_lengths_are_refused(content_length: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="content_length"):
        serialize_response_head(200, content_length=content_length)  # type: ignore[arg-type]


def test_bad_http_versions_are_refused() -> None:
    with pytest.raises(ValueError, match="http_version"):
        serialize_response_head(200, http_version="2", content_length=0)


def test_unknown_statuses_get_an_empty_reason_phrase() -> None:
    assert serialize_response_head(299, content_length=0).startswith(b"HTTP/1.1 299 \r\n")


def test_serialize_response_is_head_plus_body() -> None:
    response = serialize_response(200, [(b"Content-Type", b"text/plain")], b"Hello", date=DATE)
    assert (
        response
        == serialize_response_head(
            200, [(b"Content-Type", b"text/plain")], content_length=5, date=DATE
        )
        + b"Hello"
    )
    events = read_back(response)
    assert b"".join(bytes(e.data) for e in events if isinstance(e, h11.Data)) == b"Hello"


def test_a_head_answer_keeps_content_length_but_has_no_body() -> None:
    response = serialize_response(200, (), b"Hello", request_method=b"HEAD")
    assert response == b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
    events = read_back(response, method=b"HEAD")
    assert isinstance(events[-1], h11.EndOfMessage)
    assert not any(isinstance(e, h11.Data) for e in events)


def test_no_body_statuses_take_no_body() -> None:
    assert serialize_response(304) == b"HTTP/1.1 304 Not Modified\r\n\r\n"
    with pytest.raises(ValueError, match="204 response has no body"):
        serialize_response(204, (), b"x")
    with pytest.raises(TypeError, match="body must be bytes"):
        serialize_response(200, (), "x")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("method", "status", "allowed"),
    [
        (b"GET", 200, True),
        (b"POST", 404, True),
        (b"HEAD", 200, False),
        (b"GET", 204, False),
        (b"GET", 304, False),
        (b"GET", 101, False),
    ],
)
def test_response_body_allowed(method: bytes, status: int, allowed: bool) -> None:
    assert response_body_allowed(method, status) is allowed


def test_continue_is_the_interim_line() -> None:
    assert serialize_continue() == CONTINUE_RESPONSE == b"HTTP/1.1 100 Continue\r\n\r\n"


@pytest.mark.parametrize("status", [400, 413, 414, 431, 501, 505, 503, 499])
def test_error_response_is_a_complete_closing_answer(status: int) -> None:
    response = error_response(status)
    assert response.startswith(b"HTTP/1.1 %d " % status)
    assert b"Connection: close\r\n" in response
    events = read_back(response)
    first = events[0]
    assert isinstance(first, h11.Response)
    assert first.status_code == status
    body = b"".join(bytes(e.data) for e in events if isinstance(e, h11.Data))
    assert body.startswith(b"%d " % status)
    assert error_response(status) is response  # cached


def test_error_response_with_a_date_and_bad_statuses() -> None:
    assert b"Date: " + DATE + b"\r\n" in error_response(400, date=DATE)
    with pytest.raises(ValueError, match=r"400\.\.599"):
        error_response(200)
    with pytest.raises(TypeError, match="status"):
        error_response("400")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", [b"Date", b"date", b"DATE"])
def test_a_date_among_the_headers_is_the_only_one(name: bytes) -> None:
    own = b"Mon, 01 Jan 2001 00:00:00 GMT"
    head = serialize_response_head(
        200, [(b"X-A", b"1"), (name, own), (b"X-B", b"2")], content_length=0, date=DATE
    )
    assert head.lower().count(b"\r\ndate: ") == 1
    assert name + b": " + own + b"\r\n" in head
    assert DATE not in head
    assert b"X-A: 1\r\n" in head
    assert b"X-B: 2\r\n" in head


# -- Date ---------------------------------------------------------------------------------


def test_format_http_date_is_imf_fixdate() -> None:
    assert format_http_date(784111777) == DATE
    assert format_http_date(784111777.9) == DATE
    assert format_http_date(0) == b"Thu, 01 Jan 1970 00:00:00 GMT"


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        (-1, ValueError),
        (1e13, ValueError),
        ("0", TypeError),
        (True, TypeError),
        (None, TypeError),
    ],
)
def test_format_http_date_refuses_bad_timestamps(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="timestamp"):
        format_http_date(value)  # type: ignore[arg-type]


def test_date_cache_formats_once_per_second() -> None:
    now = [784111777.0]
    calls = [0]

    def clock() -> float:
        calls[0] += 1
        return now[0]

    cache = DateCache(clock)
    first = cache.get()
    assert first == DATE
    now[0] = 784111777.999
    assert cache.get() is first
    now[0] = 784111778.0
    assert cache.get() == b"Sun, 06 Nov 1994 08:49:38 GMT"
    now[0] = 784111700.0  # the clock went back: still right
    assert cache.get() == b"Sun, 06 Nov 1994 08:48:20 GMT"
    assert calls[0] == 4


def test_date_cache_takes_whole_seconds_as_ints_too() -> None:
    now = [784111777]
    cache = DateCache(lambda: now[0])
    first = cache.get()
    assert first == DATE
    assert cache.get() is first  # the same second: kept
    now[0] += 1
    assert cache.get() == b"Sun, 06 Nov 1994 08:49:38 GMT"


@pytest.mark.parametrize("reading", [float("nan"), -0.5, "soon", float("-inf"), True])
def test_date_cache_refuses_bad_clock_readings(reading: object) -> None:
    cache = DateCache(lambda: reading)  # type: ignore[arg-type, return-value]
    with pytest.raises((ValueError, TypeError), match="timestamp"):
        cache.get()


def test_date_cache_needs_a_callable_clock() -> None:
    with pytest.raises(TypeError, match="clock must be callable"):
        DateCache(12.0)  # type: ignore[arg-type]


def test_date_cache_uses_the_wall_clock_by_default() -> None:
    value = DateCache().get()
    assert value.endswith(b" GMT")
    assert len(value) == len(DATE)


def test_fields_seen_before_do_not_let_a_bad_one_through() -> None:
    # Safe names and values are remembered (a bounded cache); the checks stay per field.
    for i in range(1100):
        serialize_response_head(200, [(b"X-%d" % i, b"v%d" % i)], content_length=0)
    serialize_response_head(200, [(b"X-1", b"ok")], content_length=0)
    with pytest.raises(ValueError, match="control character"):
        serialize_response_head(200, [(b"X-1", b"ok\r\nEvil: 1")], content_length=0)
    with pytest.raises(ValueError, match="instead of a"):
        serialize_response_head(200, [(b"Connection", b"ok")], content_length=0)
    with pytest.raises(ValueError, match="not an HTTP token"):
        serialize_response_head(200, [(b"X 1", b"ok")], content_length=0)
