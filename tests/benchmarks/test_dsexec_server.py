"""benchmarks/http_hello/dsexec_server.py without a server: the request-head classification,
``answer`` (whole buffer, one byte at a time, trailing data) and the per-connection
``Responder``."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest
from benchmarks.http_hello import dsexec_server as hp

import dsexec as ex
from dsexec.net import Socket

GET = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
Respond = Callable[[bytes], ex.Sender[int]]


@pytest.mark.parametrize(
    ("head", "special"),
    [
        (GET, False),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Connection: y\r\nAccept: */*\r\n\r\n", False),
        (b"GET / HTTP/1.1\r\nCookie: a=1\r\nTE: trailers\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\nHost: x\r\n\r\n", True),
        (b"GET / HTTP/1.1\r\nconnection: close\r\n\r\n", True),
        (b"GET / HTTP/1.1\r\nCONNECTION: keep-alive\r\n\r\n", True),
        (b"POST / HTTP/1.1\r\nContent-Length : 3\r\n\r\n", True),
        (b"POST / HTTP/1.1\r\ntransfer-Encoding: chunked\r\n\r\n", True),
    ],
)
def test_special_matches_exactly_the_heads_that_may_change_the_answer(
    head: bytes, special: bool
) -> None:
    assert (hp.SPECIAL.search(head) is not None) == special


def test_answer_answers_every_complete_head_and_keeps_the_rest() -> None:
    assert hp.answer(GET * 3) == (hp.KEEP_ALIVE * 3, False, len(GET) * 3)
    assert hp.answer(GET + b"GET / HT") == (hp.KEEP_ALIVE, False, len(GET))
    assert hp.answer(b"GET / HT") == (b"", False, 0)


def feed(chunks: Iterator[bytes]) -> tuple[bytes, bool]:
    """Run ``answer`` over a stream the way a Responder does: keep the unconsumed tail."""
    pending = b""
    out = b""
    for chunk in chunks:
        pending += chunk
        responses, close, used = hp.answer(pending)
        out += responses
        pending = pending[used:]
        if close:
            return out, True
    return out, False


@pytest.mark.parametrize("split", ["whole", "bytewise"])
def test_answer_gives_the_same_answers_however_the_bytes_arrive(split: str) -> None:
    stream = GET + GET + b"GET /x HTTP/1.1\r\nConnection: close\r\n\r\n" + GET
    chunks = iter([stream]) if split == "whole" else (stream[i : i + 1] for i in range(len(stream)))
    assert feed(chunks) == (hp.KEEP_ALIVE * 2 + hp.CLOSE, True)


@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.0\r\nHost: x\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
    ],
)
def test_answer_closes_after_http10_and_requests_with_a_body(head: bytes) -> None:
    responses, close, _used = hp.answer(head)
    assert (responses, close) == (hp.CLOSE, True)


def test_answer_keeps_an_http10_keep_alive_connection_open() -> None:
    head = b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    assert hp.answer(head) == (hp.KEEP_ALIVE, False, len(head))


def test_answer_refuses_a_head_larger_than_the_limit() -> None:
    responses, close, used = hp.answer(b"x" * (hp.MAX_HEAD + 1))
    assert (responses, close, used) == (hp.BAD_REQUEST, True, hp.MAX_HEAD + 1)


@pytest.fixture
def responder() -> Iterator[tuple[ex.IoContext, Respond, socket.socket]]:
    a, b = socket.socketpair()
    with ex.IoContext() as ctx, Socket(a) as sock, b:
        yield ctx, hp.Responder(ctx.get_scheduler(), sock), b


def test_responder_answers_a_plain_request_with_its_prebuilt_write(
    responder: tuple[ex.IoContext, Respond, socket.socket],
) -> None:
    ctx, answer, peer = responder
    sender = answer(GET)
    assert sender is answer(GET)  # built once per connection, reused every round
    assert ex.sync_wait(sender, context=ctx) == len(hp.KEEP_ALIVE)
    assert peer.recv(1000) == hp.KEEP_ALIVE


def test_responder_keeps_a_partial_head_and_answers_it_when_complete(
    responder: tuple[ex.IoContext, Respond, socket.socket],
) -> None:
    ctx, answer, peer = responder
    assert answer(GET + GET[:10]) is not hp.NOTHING  # one answer now
    assert answer(GET[10:20]) is hp.NOTHING  # still incomplete: read on
    assert ex.sync_wait(answer(GET[20:] + GET), context=ctx) == 2 * len(hp.KEEP_ALIVE)
    assert peer.recv(1000) == 2 * hp.KEEP_ALIVE


def test_responder_ends_the_connection_on_eof_and_after_a_closing_answer(
    responder: tuple[ex.IoContext, Respond, socket.socket],
) -> None:
    ctx, answer, peer = responder
    assert answer(b"") is hp.EOF
    closing = answer(b"GET / HTTP/1.0\r\n\r\n")
    assert ex.sync_wait(closing, context=ctx) == hp.CLOSED
    assert hp.closed(hp.CLOSED)
    assert not hp.closed(len(hp.CLOSE))
    assert peer.recv(1000) == hp.CLOSE


@pytest.fixture
def no_plain_heads() -> Iterator[set[bytes]]:
    hp.PLAIN_HEADS.clear()
    yield hp.PLAIN_HEADS
    hp.PLAIN_HEADS.clear()


@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.0\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
        GET + GET,  # pipelined: answer() counts them
        GET[:-2],  # incomplete
        GET + b"GET",  # a whole head and the start of the next
    ],
)
def test_is_plain_head_refuses_and_never_remembers_anything_but_one_plain_head(
    no_plain_heads: set[bytes], head: bytes
) -> None:
    assert not hp.is_plain_head(head)
    assert not no_plain_heads


def test_a_plain_head_is_remembered_and_the_memory_stays_bounded(
    no_plain_heads: set[bytes],
) -> None:
    assert hp.is_plain_head(GET)
    assert no_plain_heads == {GET}
    long_head = b"GET /" + b"x" * hp.MAX_PLAIN_HEAD_BYTES + b" HTTP/1.1\r\n\r\n"
    assert hp.is_plain_head(long_head)  # plain, but too long to keep
    assert long_head not in no_plain_heads
    for number in range(3 * hp.MAX_PLAIN_HEADS):
        assert hp.is_plain_head(b"GET /%d HTTP/1.1\r\n\r\n" % number)
        assert len(no_plain_heads) <= hp.MAX_PLAIN_HEADS


def test_responder_answers_a_remembered_head_and_still_looks_at_the_others(
    no_plain_heads: set[bytes], responder: tuple[ex.IoContext, Respond, socket.socket]
) -> None:
    ctx, answer, peer = responder
    first = answer(GET)
    assert GET in no_plain_heads
    assert answer(GET) is first  # remembered: the same prebuilt write
    closing = answer(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert closing is not first
    assert ex.sync_wait(closing, context=ctx) == hp.CLOSED
    assert peer.recv(1000) == hp.CLOSE
