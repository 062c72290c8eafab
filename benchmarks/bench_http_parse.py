"""Cost per request of the sans-IO HTTP/1.1 core, beside bare httptools (and h11) on the same
bytes.

Run: ``.venv/bin/python benchmarks/bench_http_parse.py`` (``--quick`` for a smoke run). Each
figure is the best of several repetitions, in microseconds per request; ratios compare figures
of the same run (the machine is shared and noisy: only paired ratios mean anything).

* dsexec: ``RequestParser.feed`` + ``next_event`` until ``PAUSED`` + ``start_next_cycle``:
  the whole per-request work a server does with the core, policy checks and events included.
* httptools: ``HttpRequestParser.feed_data`` with the cheapest useful callbacks (keep the
  target and a list of headers): the floor under any parser built on it.
* h11: ``Connection.receive_data`` + ``next_event``, answering each request (the pure-Python
  reference the core is differentially tested against), where h11 is installed.
* serialise: ``serialize_response`` of a small hello answer with a cached ``Date``.

Each request is fed as a bytes object of its own, as read from a socket (the parser's cache of
known heads hashes it: the same object fed again would have its hash cached). ``--varied`` adds
heads that never repeat (a different target each time, more than the cache holds): what a cache
miss costs, beside the repeated head above it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import TypeAlias

import httptools

from dsexec.http import PAUSED, DateCache, RequestParser, serialize_response

SMALL_GET = (
    b"GET /plaintext HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"
)
BROWSER_GET = (
    b"GET /index.html?lang=en HTTP/1.1\r\nHost: www.example.com\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n"
    b"Connection: keep-alive\r\nCookie: session=abc123; theme=dark\r\n"
    b"Upgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\n\r\n"
)
SMALL_POST = (
    b"POST /api HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    b'Content-Length: 16\r\n\r\n{"hello":"you"}\n'
)


VARIED = 1000  # distinct targets: more than the parser's cache of known heads holds


def varied(request: bytes) -> list[bytes]:
    """``request`` with ``VARIED`` different targets (a query string added)."""
    line_end = request.index(b" HTTP/1.1\r\n")
    return [request[:line_end] + b"?id=%d" % index + request[line_end:] for index in range(VARIED)]


# A runner: called before each timed repetition (untimed), it returns the work to time.
Runner: TypeAlias = Callable[[], Callable[[], object]]


def best_per_request(requests: int, runner: Runner, repeats: int) -> float:
    """Microseconds per request: the best of ``repeats`` timed runs of what ``runner`` makes."""
    best = float("inf")
    for _ in range(repeats):
        run = runner()
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best / requests * 1e6


def fresh_feeds(requests: list[bytes], rounds: int, per_feed: int) -> list[bytes]:
    """What ``rounds`` reads bring: ``per_feed`` requests each (in turn from ``requests``),
    each read a new bytes object."""
    count = len(requests)
    # (bytes(bytearray(...)): joining one piece may return that very object)
    return [
        bytes(bytearray(b"".join(requests[(turn * per_feed + i) % count] for i in range(per_feed))))
        for turn in range(rounds)
    ]


def dsexec_run(requests: list[bytes], rounds: int, per_feed: int) -> Runner:
    parser = RequestParser()

    def runner() -> Callable[[], object]:
        feeds = fresh_feeds(requests, rounds, per_feed)

        def run() -> object:
            feed, next_event, next_cycle = parser.feed, parser.next_event, parser.start_next_cycle
            for data in feeds:
                feed(data)
                for _ in range(per_feed):
                    while next_event() is not PAUSED:
                        pass
                    next_cycle()
            return None

        return run

    return runner


class _Callbacks:
    __slots__ = ("headers", "url")

    def __init__(self) -> None:
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []

    def on_url(self, url: bytes) -> None:
        self.url = url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.headers = []

    def on_message_complete(self) -> None:
        pass


def httptools_run(requests: list[bytes], rounds: int, per_feed: int) -> Runner:
    parser = httptools.HttpRequestParser(_Callbacks())

    def runner() -> Callable[[], object]:
        feeds = fresh_feeds(requests, rounds, per_feed)

        def run() -> object:
            feed = parser.feed_data
            for data in feeds:
                feed(data)
            return None

        return run

    return runner


def h11_run(requests: list[bytes], rounds: int, per_feed: int) -> Runner | None:
    try:
        import h11
    except ImportError:  # pragma: no cover - h11 is a dev dependency
        return None
    answer = h11.Response(status_code=200, headers=[(b"content-length", b"0")])

    def runner() -> Callable[[], object]:
        feeds = fresh_feeds(requests, rounds, per_feed)

        def run() -> object:
            conn = h11.Connection(h11.SERVER)
            for data in feeds:
                conn.receive_data(data)
                for _ in range(per_feed):
                    while type(conn.next_event()) is not h11.EndOfMessage:
                        pass
                    conn.send(answer)
                    conn.send(h11.EndOfMessage())
                    conn.start_next_cycle()
            return None

        return run

    return runner


def serialize_run(rounds: int) -> Runner:
    dates = DateCache()
    headers = [(b"Content-Type", b"text/plain"), (b"Server", b"dsexec")]

    def run() -> object:
        for _ in range(rounds):
            serialize_response(200, headers, b"Hello, World!", date=dates.get())
        return None

    return lambda: run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--varied", action="store_true", help="add heads that never repeat (cache misses)"
    )
    args = parser.parse_args()
    # Many short repetitions: on a shared machine the best of many is the figure to trust.
    rounds = 2_000 if args.quick else 10_000
    repeats = 2 if args.quick else 15

    cases = [
        ("small GET", [SMALL_GET], 1),
        ("browser GET (9 headers)", [BROWSER_GET], 1),
        ("small POST (16 B body)", [SMALL_POST], 1),
        ("small GET x16 pipelined", [SMALL_GET], 16),
    ]
    if args.varied:
        cases += [
            ("small GET, varied target", varied(SMALL_GET), 1),
            ("browser GET, varied", varied(BROWSER_GET), 1),
        ]
    print(f"{'request':<26} {'dsexec us':>10} {'httptools us':>13} {'ratio':>6} {'h11 us':>8}")
    for name, request, per_feed in cases:
        feeds = max(1, rounds // per_feed)
        count = feeds * per_feed
        ours = best_per_request(count, dsexec_run(request, feeds, per_feed), repeats)
        floor = best_per_request(count, httptools_run(request, feeds, per_feed), repeats)
        h11_runner = h11_run(request, max(1, feeds // 10), per_feed)
        h11_cost = (
            best_per_request(max(1, feeds // 10) * per_feed, h11_runner, repeats)
            if h11_runner is not None
            else float("nan")
        )
        print(f"{name:<26} {ours:>10.2f} {floor:>13.2f} {ours / floor:>6.2f} {h11_cost:>8.2f}")
    cost = best_per_request(rounds, serialize_run(rounds), repeats)
    print(f"{'serialize hello + Date':<26} {cost:>10.2f}")


if __name__ == "__main__":
    main()
