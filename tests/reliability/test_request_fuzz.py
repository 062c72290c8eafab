"""Fuzzing ``RequestParser`` for request smuggling, beyond ``tests/http/test_fuzz.py``.

``tests/http/test_fuzz.py`` mutates valid pipelines at parser-sensitive spots and checks them
against h11; this module reuses its generators and checks and adds what a smuggler tries:

* **carriers**: a request whose body hides a second one (``GET /smuggled``), framed by
  ``Content-Length``, chunked, both, twice, or neither, then mutated where framing is decided:
  the ``Content-Length`` and ``Transfer-Encoding`` values and names, the chunk-size lines and
  the version. Mutations use Unicode digits and spaces (``int()`` and ``str.strip()`` accept
  them: gunicorn#3364), the Latin-1 bytes ``str.strip()`` removes once decoded (``\\x1c`` to
  ``\\x1f``, ``\\x85``, ``\\xa0``), header names that only case-fold to the real one
  (``Tran\\u017ffer-Encoding``: ``"\\u017f".upper() == "S"``, long s), header case,
  whitespace and duplicates.
  Properties: no exception; the same events however the bytes are split; **every request head
  dsexec emits, h11 emits too, in the same order** (a head is where a server starts acting, so
  this is checked on heads, not only on complete requests); so the hidden request is never seen
  by dsexec alone;
* **limits**: mutated pipelines under random small header and body limits give the same
  events whole, byte by byte and at random split points;
* **the API**: random sequences of ``feed`` (bytes, other buffers, non-bytes), ``feed(b"")``,
  ``next_event`` and ``start_next_cycle`` raise nothing but the documented ``TypeError`` and
  ``RuntimeError``, and the events stay well-formed.

The default run tries ``EXAMPLES`` inputs per property; ``-m slow`` runs ``SLOW_EXAMPLES``.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from typing import Any

import h11
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests._helpers.http import by_byte, drive, h11_server, parse, random_split
from tests.http.test_fuzz import (
    TE_VALUES,
    check_against_h11,
    check_well_formed,
    comparable,
    mutated_request,
    valid_request,
)

from dsexec.http import (
    NEED_DATA,
    PAUSED,
    ConnectionClosed,
    Event,
    ProtocolError,
    RequestHead,
    RequestParser,
)

EXAMPLES = 150
# DSEXEC_FUZZ_EXAMPLES=30000 makes the slow variants a long campaign (as in http/test_fuzz.py).
SLOW_EXAMPLES = int(os.environ.get("DSEXEC_FUZZ_EXAMPLES", "4000"))
# A long campaign outlasts pytest-timeout\'s default two minutes: its own bound scales with it.
SLOW_TIMEOUT = max(120, SLOW_EXAMPLES // 25)


def fuzz(examples: int) -> Callable[[Any], Any]:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


SEEDS = st.integers(0, 2**64 - 1)
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: s\r\n\r\n"

# Characters that are digits or whitespace to Python's str methods but not to HTTP.
UNICODE_DIGITS = ["\u0660", "\u0661", "\u06f5", "\uff10", "\uff11", "\u2075", "\u00b9", "\u0e51"]
UNICODE_SPACES = ["\u00a0", "\u1680", "\u2000", "\u2007", "\u200a", "\u2028", "\u3000", "\u0085"]
# Latin-1 bytes that str.strip() removes once the header is decoded as Latin-1.
LATIN1_STRIPPED = [b"\x1c", b"\x1d", b"\x1e", b"\x1f", b"\x85", b"\xa0"]
# Header names that are the real one only after a Unicode case mapping.
LOOKALIKE_NAMES = [
    "Tran\u017ffer-Encoding".encode(),  # long s: "\u017f".upper() == "S"
    "Content-Lengt\u0127".encode(),
    "Transfer-Encod\u0131ng".encode(),  # dotless i: "\u0131".upper() == "I"
    "Content-Length\u200b".encode(),
    "\ufeffContent-Length".encode(),
    b"Content_Length",
    b"Transfer_Encoding",
    b"Content-Length\x00",
]


def _odd_space(rng: random.Random) -> bytes:
    if rng.random() < 0.5:
        return rng.choice(LATIN1_STRIPPED)
    return rng.choice(UNICODE_SPACES).encode()


def _odd_number(n: int, rng: random.Random, *, chunk_size: bool = False) -> bytes:
    """``n`` written in a way ``int()`` or ``str.strip()`` would accept and HTTP does not.

    For a ``chunk_size``, no run of leading zeros past 20 digits: h11 caps chunk sizes at 20
    digits where llhttp (and RFC 9112) take any number of leading zeros, a known difference
    (see ``tests/http/test_fuzz.py``) that is not a smuggling vector: both read the same size.
    """
    digits = b"%d" % n
    how = rng.randrange(6)
    if how == 0:  # one digit replaced by a Unicode digit of the same value... or not
        i = rng.randrange(len(digits))
        return digits[:i] + rng.choice(UNICODE_DIGITS).encode() + digits[i + 1 :]
    if how == 1:
        return _odd_space(rng) + digits
    if how == 2:
        return digits + _odd_space(rng)
    if how == 3:
        zeros = [] if chunk_size else [b"00000000000000000000"]
        return rng.choice([b"+", b"-", b"0x", b"0", *zeros]) + digits
    if how == 4:
        return digits + rng.choice([b",", b", ", b";", b" ", b"\t", b"_0", b".0", b"e0"]) + digits
    return rng.choice([b"%x" % n, b"%X" % n, b"%o" % n, b"18446744073709551616"])


def _framing_lines(rng: random.Random, body: bytes, chunked_body: bytes) -> tuple[bytes, bytes]:
    """Framing header lines and the body they frame (on purpose, not always consistently)."""
    how = rng.choice(["cl", "te", "cl+te", "te+cl", "cl+cl", "te+te", "none"])
    length = rng.choice([len(body), 0, len(body) - len(SMUGGLED), len(body) + 1])
    cl = b"Content-Length: %d\r\n" % max(length, 0)
    te = b"Transfer-Encoding: chunked\r\n"
    if how == "cl":
        return cl, body
    if how == "te":
        return te, chunked_body
    if how == "cl+te":
        return cl + te, rng.choice([body, chunked_body])
    if how == "te+cl":
        return te + cl, rng.choice([body, chunked_body])
    if how == "cl+cl":
        other = b"Content-Length: %d\r\n" % rng.choice([0, len(body), len(SMUGGLED)])
        return cl + other, body
    if how == "te+te":
        return te + b"Transfer-Encoding: " + rng.choice(TE_VALUES) + b"\r\n", chunked_body
    return b"", body


def _mutate_framing(data: bytes, rng: random.Random) -> bytes:
    """One mutation where the framing is decided."""
    how = rng.randrange(9)
    lowered = data.lower()
    if how == 0:  # the Content-Length value
        at = lowered.find(b"content-length:")
        if at >= 0:
            end = data.find(b"\r\n", at)
            value = data[at + 15 : end].strip(b" \t")
            n = int(value) if value.isdigit() else 5
            return data[: at + 15] + b" " + _odd_number(n, rng) + data[end:]
    if how == 1:  # the Transfer-Encoding value
        at = lowered.find(b"transfer-encoding:")
        if at >= 0:
            end = data.find(b"\r\n", at)
            value = rng.choice(
                [b"chunked" + _odd_space(rng), _odd_space(rng) + b"chunked", *TE_VALUES]
            )
            return data[: at + 18] + b" " + value + data[end:]
    if how == 2:  # a header name that only case-folds to a framing one
        for name in (b"content-length:", b"transfer-encoding:"):
            at = lowered.find(name)
            if at >= 0:
                return data[:at] + rng.choice(LOOKALIKE_NAMES) + b":" + data[at + len(name) :]
    if how == 3:  # a chunk-size line
        head_end = data.find(b"\r\n\r\n")
        at = data.find(b"\r\n", head_end + 4) if head_end >= 0 else -1
        if at > head_end + 4:
            size_line = data[head_end + 4 : at]
            try:
                n = int(size_line.split(b";")[0], 16)
            except ValueError:
                n = 0
            odd = (
                _odd_number(n, rng, chunk_size=True)
                if rng.random() < 0.5
                else b"%x" % n + _odd_space(rng)
            )
            return data[: head_end + 4] + odd + data[at:]
    if how == 4:  # header case
        chars = bytearray(data)
        for i in range(len(chars)):
            if 0x41 <= chars[i] | 0x20 <= 0x7A and rng.random() < 0.3:
                chars[i] ^= 0x20
        return bytes(chars)
    if how == 5:  # whitespace around a colon or at a line end
        colons = [i for i, c in enumerate(data) if c == 0x3A]
        if colons:
            i = rng.choice(colons) + rng.choice([0, 1])
            return data[:i] + rng.choice([b" ", b"\t", b"\x0b", _odd_space(rng)]) + data[i:]
    if how == 6:  # a framing header duplicated, possibly with a different value
        for name in (b"Content-Length: ", b"Transfer-Encoding: "):
            at = data.find(name)
            if at >= 0:
                line = data[at : data.find(b"\r\n", at) + 2]
                if rng.random() < 0.5:
                    line = name + rng.choice([b"0", b"1", b"chunked", b"5"]) + b"\r\n"
                return data[:at] + line + data[at:]
    if how == 7:  # obsolete line folding of a framing header
        at = data.find(b": ", data.find(b"\r\n"))
        if at >= 0:
            return data[:at] + b":\r\n " + data[at + 2 :]
    return data.replace(b"HTTP/1.1", rng.choice([b"HTTP/1.0", b"HTTP/1.1", b"HTTP/1.\xd9\xa1"]), 1)


def carrier(rng: random.Random) -> bytes:
    """A request hiding ``SMUGGLED`` in its body, with one to three framing mutations, maybe
    after a valid request and maybe followed by one."""
    chunk = SMUGGLED
    chunked_body = rng.choice(
        [
            b"0\r\n\r\n" + SMUGGLED,
            b"%x\r\n" % len(chunk) + chunk + b"\r\n0\r\n\r\n",
            b"%x\r\n" % (len(chunk) - 1) + chunk + b"\r\n0\r\n\r\n",
            b"0\r\nTransfer-Encoding: chunked\r\n\r\n" + SMUGGLED,
            b"0\r\nContent-Length: 5\r\n\r\n" + SMUGGLED,
        ]
    )
    framing, body = _framing_lines(rng, SMUGGLED, chunked_body)
    method = rng.choice([b"POST", b"GET", b"PUT"])
    data = method + b" /carrier HTTP/1.1\r\nHost: c\r\n" + framing + b"\r\n" + body
    for _ in range(rng.randrange(1, 4)):
        data = _mutate_framing(data, rng)
    if rng.random() < 0.3:
        data = valid_request(rng) + data
    if rng.random() < 0.3:
        data += valid_request(rng)
    return data


carriers = SEEDS.map(lambda seed: carrier(random.Random(seed)))


def h11_heads(data: bytes) -> tuple[list[bytes], bool]:
    """The targets of the request heads h11 reads from ``data`` as a server (answering each
    request at once, skipping empty lines before each as dsexec does), and whether it stopped
    on a protocol error."""
    conn = h11_server(data)
    targets: list[bytes] = []
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError:
            return targets, True
        if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
            return targets, False
        if isinstance(event, h11.Request):
            targets.append(bytes(event.target))
        elif event is h11.PAUSED:
            if conn.our_state is h11.SEND_RESPONSE:
                conn.send(h11.Response(status_code=200, headers=[(b"content-length", b"0")]))
                conn.send(h11.EndOfMessage())
            if h11.MUST_CLOSE in (conn.our_state, conn.their_state):
                return targets, False
            conn.start_next_cycle()
            conn = h11_server(conn.trailing_data[0])


def check_heads_against_h11(data: bytes, events: list[Event]) -> None:
    """Every request head dsexec emits, h11 emits too, in the same order (the documented
    exception: a head after an HTTP/1.0 keep-alive request, which h11 never reads)."""
    heads = [event for event in events if type(event) is RequestHead]
    theirs, _ = h11_heads(data)
    ours = [head.target for head in heads]
    common = min(len(ours), len(theirs))
    assert ours[:common] == theirs[:common]
    if len(ours) > len(theirs):
        previous = heads[len(theirs) - 1] if theirs else None
        assert previous is not None, f"dsexec read a head h11 did not: {ours} vs {theirs}"
        assert previous.http_version == "1.0"
        assert previous.keep_alive


def check_carrier(data: bytes, seed: int) -> None:
    whole = parse(data)
    check_well_formed(whole)
    assert comparable(parse(by_byte(data))) == comparable(whole)
    assert comparable(parse(random_split(data, random.Random(seed), 6))) == comparable(whole)
    check_heads_against_h11(data, whole)
    check_against_h11(data, whole)


@fuzz(EXAMPLES)
@given(data=carriers, seed=st.integers(0, 2**32 - 1))
def test_a_hidden_request_is_never_read_unless_h11_reads_it_too(data: bytes, seed: int) -> None:
    check_carrier(data, seed)


@pytest.mark.slow
@pytest.mark.timeout(SLOW_TIMEOUT)
@fuzz(SLOW_EXAMPLES)
@given(data=carriers, seed=st.integers(0, 2**32 - 1))
def test_a_hidden_request_is_never_read_unless_h11_reads_it_too_long_run(
    data: bytes, seed: int
) -> None:
    check_carrier(data, seed)


@fuzz(EXAMPLES)
@given(data=mutated_request())
def test_mutated_pipelines_emit_no_head_that_h11_does_not(data: bytes) -> None:
    check_heads_against_h11(data, parse(data))


@pytest.mark.slow
@pytest.mark.timeout(SLOW_TIMEOUT)
@fuzz(SLOW_EXAMPLES)
@given(data=mutated_request(), seed=st.integers(0, 2**32 - 1))
def test_mutated_pipelines_long_run(data: bytes, seed: int) -> None:
    whole = parse(data)
    check_well_formed(whole)
    assert comparable(parse(random_split(data, random.Random(seed), 8))) == comparable(whole)
    check_heads_against_h11(data, whole)
    check_against_h11(data, whole)


# -- limits -----------------------------------------------------------------------------------


def check_limits(data: bytes, header: int, body: int, seed: int) -> None:
    def parse_limited(pieces: bytes | list[bytes]) -> list[Event]:
        return comparable(parse(pieces, max_header_bytes=header, max_body_bytes=body))

    whole = parse_limited(data)
    check_well_formed(whole)
    assert parse_limited(by_byte(data)) == whole
    assert parse_limited(random_split(data, random.Random(seed), 5)) == whole
    for event in whole:
        if type(event) is ProtocolError:
            assert event.status in (400, 413, 414, 431, 501, 505)


LIMITS = {
    "data": mutated_request() | carriers,
    "header": st.integers(64, 400),
    "body": st.integers(0, 40),
    "seed": st.integers(0, 2**32 - 1),
}


@fuzz(EXAMPLES)
@given(**LIMITS)
def test_small_limits_hold_the_same_however_the_bytes_are_split(
    data: bytes, header: int, body: int, seed: int
) -> None:
    check_limits(data, header, body, seed)


@pytest.mark.slow
@pytest.mark.timeout(SLOW_TIMEOUT)
@fuzz(SLOW_EXAMPLES)
@given(**LIMITS)
def test_small_limits_long_run(data: bytes, header: int, body: int, seed: int) -> None:
    check_limits(data, header, body, seed)


# -- the API ----------------------------------------------------------------------------------

Step = tuple[str, object]

steps = st.lists(
    st.one_of(
        st.tuples(st.just("feed"), mutated_request().map(lambda d: d[: len(d) // 2])),
        st.tuples(st.just("feed"), mutated_request()),
        st.tuples(st.just("feed"), st.binary(max_size=40)),
        st.tuples(st.just("feed-bytearray"), st.binary(min_size=1, max_size=40)),
        st.tuples(st.just("feed-memoryview"), st.binary(min_size=1, max_size=40)),
        st.tuples(st.just("feed-wrong-type"), st.sampled_from(["text", 3, None, [b"x"]])),
        st.tuples(st.just("eof"), st.none()),
        st.tuples(st.just("next"), st.integers(1, 5)),
        st.tuples(st.just("cycle"), st.none()),
    ),
    max_size=20,
)


def run_steps(script: list[Step]) -> None:
    """Drive a parser through ``script``; only documented exceptions may come out."""
    parser = RequestParser(max_header_bytes=512, max_body_bytes=64)
    events: list[Event] = []
    ended = False
    for action, argument in script:
        try:
            if action == "feed":
                assert isinstance(argument, bytes)
                parser.feed(argument)
                ended = ended or argument == b""
            elif action == "feed-bytearray":
                assert isinstance(argument, bytes)
                parser.feed(bytearray(argument))
            elif action == "feed-memoryview":
                assert isinstance(argument, bytes)
                parser.feed(memoryview(argument))
            elif action == "feed-wrong-type":
                with pytest.raises(TypeError):
                    parser.feed(argument)  # type: ignore[arg-type]
            elif action == "eof":
                parser.feed(b"")
                ended = True
            elif action == "next":
                assert isinstance(argument, int)
                for _ in range(argument):
                    event = parser.next_event()
                    if event is NEED_DATA or event is PAUSED:
                        break
                    events.append(event)
            else:
                parser.start_next_cycle()
        except RuntimeError as error:
            # Documented: data after the end of input, or a cycle started at the wrong time.
            assert "RequestParser" in str(error)  # noqa: PT017
            assert (action.startswith("feed") and ended) or action == "cycle"
    check_well_formed([e for e in events if type(e) is not ConnectionClosed] or events)
    after_error = False
    for event in events:
        assert not after_error, "an event after a ProtocolError"
        after_error = type(event) is ProtocolError


@fuzz(EXAMPLES)
@given(script=steps)
def test_any_sequence_of_calls_raises_only_the_documented_errors(script: list[Step]) -> None:
    run_steps(script)


@pytest.mark.slow
@pytest.mark.timeout(SLOW_TIMEOUT)
@fuzz(SLOW_EXAMPLES)
@given(script=steps)
def test_any_sequence_of_calls_long_run(script: list[Step]) -> None:
    run_steps(script)


def test_the_generators_make_what_they_promise() -> None:
    """The harness: carriers hide the request, mutations produce the Unicode cases, and the
    head check catches a parser that reads a head h11 does not."""
    rng = random.Random(7)
    made = [carrier(rng) for _ in range(300)]
    assert sum(b"smuggled" in data.lower() for data in made) > 0.8 * len(made)
    assert any("\u0660".encode() in data or b"\xa0" in data for data in made)
    assert any("\u017f".encode() in data for data in made)
    h11_sees, _ = h11_heads(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
    assert h11_sees == [b"/a"]
    fake = [
        RequestHead(b"GET", b"/a", "1.1", ((b"Host", b"x"),), True, False, None, False),
        RequestHead(b"GET", b"/smuggled", "1.1", ((b"Host", b"x"),), True, False, None, False),
    ]
    with pytest.raises(AssertionError):
        check_heads_against_h11(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n", list(fake))
    assert drive(RequestParser(), [SMUGGLED])  # the hidden request alone is valid
