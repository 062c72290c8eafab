"""``Response`` as a value (its checks), and the head memo ``write_response`` serialises with
(``serialize_response_known``: the same bytes and errors as ``serialize_response``)."""

from __future__ import annotations

from typing import Any

import pytest

import dsexec as ex
from dsexec.http import FileBody, Response, StreamBody, _known_heads, serialize_response
from dsexec.http._known_heads import serialize_response_known

DATE = b"Sun, 06 Nov 1994 08:49:37 GMT"
TEXT = ((b"Content-Type", b"text/plain"),)


class Name(bytes):
    """A bytes subclass: accepted as a header name or value."""


def test_a_response_keeps_its_values_with_headers_as_a_tuple() -> None:
    response = Response(201, [(b"a", b"1"), (Name(b"b"), b"2")], bytearray(b"xy"), close=True)
    assert response.status == 201
    assert response.headers == ((b"a", b"1"), (b"b", b"2"))
    assert type(response.headers) is tuple
    assert response.body == b"xy"
    assert type(response.body) is bytes
    assert response.close
    assert Response(200).headers == ()
    assert Response(200).body == b""
    assert Response(200, body=memoryview(b"m")).body == b"m"


@pytest.mark.parametrize("status", [100, 200, 599])
def test_statuses_in_range_are_accepted(status: int) -> None:
    assert Response(status).status == status


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (99, ValueError),
        (600, ValueError),
        (-1, ValueError),
        (True, TypeError),
        (200.0, TypeError),
        ("200", TypeError),
        (None, TypeError),
    ],
)
def test_bad_statuses_are_refused(status: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="Response: status"):
        Response(status)


@pytest.mark.parametrize(
    "headers",
    [
        [(b"a", "text")],
        [("a", b"text")],
        [[b"a", b"b"]],
        [(b"a", b"b", b"c")],
        [(b"a",)],
        [b"ab"],
        [(bytearray(b"a"), b"b")],
    ],
)
def test_bad_header_pairs_are_refused(headers: Any) -> None:
    with pytest.raises(TypeError, match="Response: headers"):
        Response(200, headers)


@pytest.mark.parametrize("body", ["text", 5, None, [b"a"]])
def test_bad_bodies_are_refused(body: Any) -> None:
    with pytest.raises(TypeError, match="Response: body"):
        Response(200, (), body)


def test_file_and_stream_bodies_are_kept() -> None:
    stream = StreamBody(lambda: ex.just(b""))
    assert Response(200, (), FileBody("/dev/null")).body == FileBody("/dev/null")
    assert Response(200, (), stream).body is stream


CASES = [
    (200, TEXT, b"hello", "1.1", True, DATE, b"GET"),
    (200, TEXT, b"hello", "1.1", True, DATE, b"HEAD"),
    (200, TEXT, b"hello", "1.0", True, DATE, b"GET"),
    (200, TEXT, b"hello", "1.0", False, DATE, b"GET"),
    (200, TEXT, b"hello", "1.1", False, None, b"GET"),
    (200, (), b"", "1.1", True, DATE, b"GET"),
    (204, TEXT, b"", "1.1", True, DATE, b"GET"),
    (304, (), b"", "1.1", False, DATE, b"GET"),
    (404, TEXT, b"not here", "1.1", True, DATE, b"POST"),
    (599, (), b"x" * 70000, "1.1", True, DATE, b"GET"),
]


def reference(  # noqa: PLR0917
    status: int,
    headers: Any,
    body: bytes,
    version: str,
    keep_alive: bool,
    date: bytes | None,
    method: bytes,
) -> bytes:
    """``serialize_response``'s answer for the memo's positional arguments."""
    return serialize_response(
        status,
        headers,
        body,
        http_version=version,
        keep_alive=keep_alive,
        date=date,
        request_method=method,
    )


@pytest.mark.parametrize("case", CASES)
def test_the_memo_gives_serialize_responses_bytes_first_and_again(case: Any) -> None:
    status, headers, body, version, keep_alive, date, method = case
    _known_heads._HEADS.clear()
    expected = reference(*case)
    for _ in range(2):  # built, then found again
        assert serialize_response_known(*case) == expected
    # the other method's answer comes from the same head
    other = b"GET" if method == b"HEAD" else b"HEAD"
    assert serialize_response_known(
        status, headers, body, version, keep_alive, date, other
    ) == reference(status, headers, body, version, keep_alive, date, other)


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ((204, (), b"x", "1.1", True, DATE, b"GET"), ValueError),  # a 204 has no body
        ((100, (), b"", "1.1", True, DATE, b"GET"), ValueError),  # not a final status
        ((200, ((b"Bad Name", b"x"),), b"", "1.1", True, DATE, b"GET"), ValueError),
        ((200, ((b"X", b"a\r\nb"),), b"", "1.1", True, DATE, b"GET"), ValueError),
        ((200, ((b"Content-Length", b"1"),), b"", "1.1", True, DATE, b"GET"), ValueError),
        ((200, (), b"", "2", True, DATE, b"GET"), ValueError),
    ],
)
def test_the_memo_raises_what_serialize_response_raises_every_time(
    case: Any, error: type[Exception]
) -> None:
    for _ in range(2):  # nothing is kept from a failure
        with pytest.raises(error):
            serialize_response_known(*case)


def test_the_memo_is_bounded() -> None:
    _known_heads._HEADS.clear()
    for index in range(_known_heads._HEADS_SIZE * 3):
        head = serialize_response_known(200, TEXT, b"x" * index, "1.1", True, DATE, b"HEAD")
        assert head.endswith(b"Content-Length: %d\r\n\r\n" % index)
        assert len(_known_heads._HEADS) <= _known_heads._HEADS_SIZE


@pytest.mark.parametrize("method", [b"GET", b"HEAD"])
def test_the_last_answer_is_found_again_by_identity_and_only_with_the_same_arguments(
    method: bytes,
) -> None:
    response = Response(200, TEXT, b"hello")
    args = ("1.1", True, DATE, method)
    first = _known_heads.response_bytes(response, *args)
    assert first == reference(200, TEXT, b"hello", *args)
    assert _known_heads.response_bytes(response, *args) is first
    # any other argument, or an equal but other response, is serialised on its own
    other_date = b"Sun, 06 Nov 1994 08:49:38 GMT"
    variants: list[tuple[Response, str, bool, bytes | None, bytes]] = [
        (response, "1.0", True, DATE, method),
        (response, "1.1", False, DATE, method),
        (response, "1.1", True, other_date, method),
        (response, "1.1", True, None, method),
        (response, "1.1", True, DATE, b"HEAD" if method == b"GET" else b"GET"),
        (Response(200, TEXT, b"hullo"), "1.1", True, DATE, method),
    ]
    for variant in variants:
        answer = _known_heads.response_bytes(*variant)
        given, version, keep_alive, date, request_method = variant
        assert isinstance(given.body, bytes)
        assert answer == reference(
            given.status, given.headers, given.body, version, keep_alive, date, request_method
        )
    assert _known_heads.response_bytes(response, *args) == first


def test_the_last_answer_is_only_for_bytes_bodies() -> None:
    stream = Response(200, TEXT, StreamBody(lambda: ex.just(b"x")))
    with pytest.raises(TypeError, match="body must be bytes"):
        _known_heads.response_bytes(stream, "1.1", True, DATE, b"GET")


def test_a_big_answer_is_not_kept() -> None:
    small = Response(200, TEXT, b"x")
    big = Response(200, TEXT, b"y" * (_known_heads._LAST_ANSWER_BYTES + 1))
    kept = _known_heads.response_bytes(small, "1.1", True, DATE, b"GET")
    answer = _known_heads.response_bytes(big, "1.1", True, DATE, b"GET")
    assert answer.endswith(big.body)  # type: ignore[arg-type]
    entry = _known_heads._LAST.entry
    assert entry is not None
    assert entry[0] is small  # the big one did not replace it
    assert _known_heads.response_bytes(small, "1.1", True, DATE, b"GET") is kept
