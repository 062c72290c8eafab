"""Soak: normal keep-alive clients beside hostile ones, against the server in its own process.

For the whole run, threads of this process play:

* **normal clients**: one keep-alive connection each, ``GET /`` and ``GET /hello`` in turn with
  5 ms between requests, every answer checked (status and length) and timed;
* **hostile clients**, one behaviour per thread, one connection after another:

  ==================  =====================================================  ====================
  behaviour           what it does                                           must end
  ==================  =====================================================  ====================
  silent              connects, sends nothing                                closed at the header
                                                                             timeout
  slowloris           a head, one header line every 50 ms, never the end     closed at the header
                                                                             timeout
  slow body           a whole head (``POST /echo``, 100 kB announced), then  closed at the request
                      one body byte every 50 ms                              timeout (or refused
                                                                             at once, 4xx)
  reset mid-request   half a head, then ``SO_LINGER`` 0 close (RST)          (server: fd closed)
  reset mid-response  ``GET /big.bin``, reads 64 kB, then RST                (server: fd closed)
  half-closed         a whole request, then ``shutdown(SHUT_WR)``            answered 200, closed
  half-closed early   half a head, then ``shutdown(SHUT_WR)``                closed at once
  never reads         16 kB receive buffer, ``GET /big.bin``, never reads    cut at the write
                                                                             timeout (< 6 MB)
  smuggling           CL.TE, TE.CL, duplicate CL, ``xchunked``, obs-fold,    refused (4xx, 501),
                      Unicode digits... each hiding a second request         closed; the hidden
                                                                             request never
                                                                             answered
  TLS on plain port   a TLS ClientHello                                      400 (or nothing),
                                                                             closed
  huge head           70 kB of header fields                                 431, closed
  ==================  =====================================================  ====================

The server runs with short timeouts (``SoakPlan``) so every hostile connection meets its limit
several times over. Afterwards: no normal request failed and their p99 is under 100 ms; every
hostile connection ended as its row says, within its limit plus a slack; the server's fd count
is back to its baseline. The default run lasts 2 s; ``-m slow`` runs the issue's 60 s.

The **TLS port**, where the server under test has one (``--tls-port``, ``--certfile``,
``--keyfile``: MedusaServ; the test server has none, and the test is skipped): silent
connections and a ClientHello followed by silence are closed at the TLS handshake timeout,
garbage and plain HTTP are refused without an answer, a real TLS client is served, and the fd
count comes back to its baseline.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import ssl
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
from tests.reliability._harness import (
    BIG_BYTES,
    BIG_FILE,
    HELLO,
    Client,
    ServerProcess,
    limits_file,
    read_until_closed,
)


@attrs.frozen
class SoakPlan:
    """How long, with which server timeouts, and how many clients of each kind."""

    seconds: float
    header_timeout: float
    request_timeout: float
    write_timeout: float
    keepalive_timeout: float
    normal_clients: int
    threads_per_behaviour: int
    threads_per_holder: int
    """Threads for each behaviour that holds its connection until a timeout (silent,
    slowloris, slow body, never reads): how many such connections are open at once."""

    def server_args(self, site: Path, config_dir: Path) -> list[str]:
        config = limits_file(config_dir, write_timeout=self.write_timeout)
        return [
            "--port", "0", "--root", str(site), "--config", str(config),
            "--header-timeout", str(self.header_timeout),
            "--request-timeout", str(self.request_timeout),
            "--keepalive-timeout", str(self.keepalive_timeout),
        ]  # fmt: skip

    def slack(self, limit: float) -> float:
        """How late past ``limit`` a close may come: the sweep's tick plus scheduling."""
        return max(1.0, limit / 2)


SHORT = SoakPlan(2.0, 0.5, 1.0, 0.5, 2.0, 4, threads_per_behaviour=1, threads_per_holder=3)
LONG = SoakPlan(60.0, 2.0, 4.0, 2.0, 5.0, 6, threads_per_behaviour=2, threads_per_holder=16)

P99_LIMIT = 0.100


@attrs.frozen
class Ending:
    """How one hostile connection ended: ``ok`` if as its behaviour must."""

    behaviour: str
    ok: bool
    seconds: float
    detail: str = ""


Behaviour = Callable[[int, SoakPlan], Ending]


def _connect(port: int, *, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10.0)
    sock.connect(("127.0.0.1", port))
    return sock


def _reset(sock: socket.socket) -> None:
    """Close with ``SO_LINGER`` 0: the kernel sends RST instead of FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _within(name: str, elapsed: float, limit: float, plan: SoakPlan) -> Ending:
    """Closed by ``limit``: not before it (less 50 ms of clock granularity), not long after."""
    ok = limit - 0.05 <= elapsed <= limit + plan.slack(limit)
    return Ending(name, ok, elapsed, f"closed after {elapsed:.2f} s, limit {limit} s")


def _dribble(sock: socket.socket, piece: bytes, give_up: float) -> tuple[float | None, bytes]:
    """Send ``piece`` every 50 ms until the server closes: the seconds it took (``None`` if it
    did not within ``give_up``) and what the server sent meanwhile."""
    start = time.monotonic()
    received = b""
    sock.settimeout(0.05)
    while time.monotonic() - start < give_up:
        try:
            data = sock.recv(65536)
            if not data:
                return time.monotonic() - start, received
            received += data
        except TimeoutError:
            pass
        except ConnectionResetError:
            return time.monotonic() - start, received
        try:
            sock.send(piece)
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - start, received
    return None, received


def silent(port: int, plan: SoakPlan) -> Ending:
    with _connect(port) as sock:
        start = time.monotonic()
        if read_until_closed(sock, plan.header_timeout + 5) is None:
            return Ending("silent", False, 0.0, "never closed")
        return _within("silent", time.monotonic() - start, plan.header_timeout, plan)


def slowloris(port: int, plan: SoakPlan) -> Ending:
    with _connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: soak\r\n")
        elapsed, _ = _dribble(sock, b"X-Dribble: 1\r\n", plan.header_timeout + 5)
        if elapsed is None:
            return Ending("slowloris", False, 0.0, "never closed")
        return _within("slowloris", elapsed, plan.header_timeout, plan)


def slow_body(port: int, plan: SoakPlan) -> Ending:
    with _connect(port) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: soak\r\nContent-Length: 100000\r\n\r\n")
        elapsed, received = _dribble(sock, b"b", plan.request_timeout + 5)
        if elapsed is None:
            return Ending("slow body", False, 0.0, "never closed")
        if received:
            # A server without /echo may answer without reading the body (405, 404, 413):
            # then it must close at once, not wait for the body.
            ok = received.startswith(b"HTTP/1.1 4") and elapsed < plan.slack(0)
            return Ending("slow body", ok, elapsed, f"answered {received[:40]!r}, closed")
        return _within("slow body", elapsed, plan.request_timeout, plan)


def reset_mid_request(port: int, plan: SoakPlan) -> Ending:
    sock = _connect(port)
    sock.sendall(b"GET /hello HTTP/1.1\r\nHost: so")
    time.sleep(0.02)
    _reset(sock)
    return Ending("reset mid-request", True, 0.0)


def reset_mid_response(port: int, plan: SoakPlan) -> Ending:
    sock = _connect(port)
    sock.sendall(f"GET /{BIG_FILE} HTTP/1.1\r\nHost: soak\r\n\r\n".encode())
    got = 0
    while got < 65536:
        data = sock.recv(65536)
        if not data:
            sock.close()
            return Ending("reset mid-response", False, 0.0, f"closed after {got} bytes")
        got += len(data)
    _reset(sock)
    return Ending("reset mid-response", True, 0.0)


def half_closed(port: int, plan: SoakPlan) -> Ending:
    with _connect(port) as sock:
        sock.sendall(b"GET /hello HTTP/1.1\r\nHost: soak\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        start = time.monotonic()
        received = _read_all(sock, 2.0)
        elapsed = time.monotonic() - start
        ok = received is not None and received.startswith(b"HTTP/1.1 200 ")
        ok = ok and received is not None and received.endswith(HELLO)
        return Ending("half-closed", ok, elapsed, f"got {received!r:.80}")


def half_closed_early(port: int, plan: SoakPlan) -> Ending:
    with _connect(port) as sock:
        sock.sendall(b"GET /hello HTTP/1.1\r\nHo")
        sock.shutdown(socket.SHUT_WR)
        start = time.monotonic()
        received = _read_all(sock, 2.0)
        elapsed = time.monotonic() - start
        ok = received is not None and b"200 OK" not in received
        return Ending("half-closed early", ok, elapsed, f"got {received!r:.80}")


def never_reads(port: int, plan: SoakPlan) -> Ending:
    with _connect(port, rcvbuf=16384) as sock:
        sock.sendall(f"GET /{BIG_FILE} HTTP/1.1\r\nHost: soak\r\n\r\n".encode())
        time.sleep(plan.write_timeout + plan.slack(plan.write_timeout))
        # The server must have given up by now: what is left is what the buffers held.
        start = time.monotonic()
        total = read_until_closed(sock, 5.0)
        elapsed = time.monotonic() - start
        ok = total is not None and total < BIG_BYTES
        return Ending("never reads", ok, elapsed, f"read {total} bytes after the wait")


# The hidden request: answered, its response would carry HELLO, which no answer to the carrier
# (``POST /echo``: "N bytes", or a refusal) does.
SMUGGLED = b"GET /hello?smuggled HTTP/1.1\r\nHost: soak\r\n\r\n"
SMUGGLING: list[bytes] = [
    # CL.TE: a front end going by Content-Length sends it all as one request.
    b"POST /echo HTTP/1.1\r\nHost: soak\r\nContent-Length: %d\r\nTransfer-Encoding: chunked"
    b"\r\n\r\n0\r\n\r\n" % (5 + len(SMUGGLED)) + SMUGGLED,
    # TE.CL
    b"POST /echo HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\nContent-Length: 4"
    b"\r\n\r\n%x\r\n" % len(SMUGGLED) + SMUGGLED + b"\r\n0\r\n\r\n",
    # Two different lengths.
    b"POST /echo HTTP/1.1\r\nHost: soak\r\nContent-Length: 0\r\nContent-Length: %d\r\n\r\n"
    % len(SMUGGLED)
    + SMUGGLED,
    # A coding that is not chunked, hiding as one.
    b"POST /echo HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    # Obsolete line folding of Transfer-Encoding.
    b"POST /echo HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: "
    b"%d\r\n\r\n0\r\n\r\n" % (5 + len(SMUGGLED)) + SMUGGLED,
    # Whitespace before the colon.
    b"POST /echo HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding : chunked\r\nContent-Length: "
    b"%d\r\n\r\n0\r\n\r\n" % (5 + len(SMUGGLED)) + SMUGGLED,
    # Unicode digits in Content-Length (str.isdigit() and int() take them: gunicorn#3364).
    b"POST /echo HTTP/1.1\r\nHost: soak\r\nContent-Length: \xd9\xa0\r\n\r\n" + SMUGGLED,
    # A no-break space after the length (str.strip() removes it).
    b"POST /echo HTTP/1.1\r\nHost: soak\r\nContent-Length: 0\xa0\r\n\r\n" + SMUGGLED,
    # A chunk size with a sign.
    b"POST /echo HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\n\r\n+0\r\n\r\n" + SMUGGLED,
    # Bare LF line ends.
    b"POST /echo HTTP/1.1\nHost: soak\nContent-Length: 0\nTransfer-Encoding: chunked\n\n0\n\n"
    + SMUGGLED,
]


_shapes = itertools.count()


def smuggling(port: int, plan: SoakPlan) -> Ending:
    index = next(_shapes) % len(SMUGGLING)
    with _connect(port) as sock:
        sock.sendall(SMUGGLING[index])
        start = time.monotonic()
        received = _read_all(sock, 2.0)
        elapsed = time.monotonic() - start
        # Refused (400, or 501 for a coding it does not know), or answered from the head alone
        # (a 4xx from a server that does not read this body) and closed; the hidden request
        # is never answered.
        ok = (
            received is not None
            and received.startswith((b"HTTP/1.1 4", b"HTTP/1.1 501 "))
            and received.count(b"HTTP/1.1 ") <= 2
            and HELLO not in received
        )
        return Ending("smuggling", ok, elapsed, f"shape {index}: got {received!r:.80}")


def _client_hello() -> bytes:
    """The first flight of a TLS client: a ClientHello record."""
    context = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="soak.test")
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


CLIENT_HELLO = _client_hello()


def tls_on_plain_port(port: int, plan: SoakPlan) -> Ending:
    with _connect(port) as sock:
        sock.sendall(CLIENT_HELLO)
        start = time.monotonic()
        received = _read_all(sock, 2.0)
        elapsed = time.monotonic() - start
        ok = received is not None and (received == b"" or received.startswith(b"HTTP/1.1 400 "))
        return Ending("TLS on plain port", ok, elapsed, f"got {received!r:.80}")


def huge_head(port: int, plan: SoakPlan) -> Ending:
    with _connect(port) as sock:
        fields = b"".join(b"X-Field-%d: %s\r\n" % (i, b"v" * 1000) for i in range(70))
        start = time.monotonic()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # refused midway
            sock.sendall(b"GET / HTTP/1.1\r\nHost: soak\r\n" + fields + b"\r\n")
        received = _read_all(sock, 2.0)
        elapsed = time.monotonic() - start
        ok = received is not None and received.startswith(b"HTTP/1.1 431 ")
        return Ending("huge head", ok, elapsed, f"got {received!r:.80}")


def _read_all(sock: socket.socket, timeout: float) -> bytes | None:
    """Everything until the server closes (a reset counts as a close), or ``None`` if it is
    still open after ``timeout`` seconds."""
    sock.settimeout(timeout)
    received = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            return received
        except TimeoutError:
            return None
        if not data:
            return received
        received += data
    return None


BEHAVIOURS: dict[str, Behaviour] = {
    "silent": silent,
    "slowloris": slowloris,
    "slow body": slow_body,
    "reset mid-request": reset_mid_request,
    "reset mid-response": reset_mid_response,
    "half-closed": half_closed,
    "half-closed early": half_closed_early,
    "never reads": never_reads,
    "smuggling": smuggling,
    "TLS on plain port": tls_on_plain_port,
    "huge head": huge_head,
}


HOLDERS = {"silent", "slowloris", "slow body", "never reads"}


@attrs.define
class Tally:
    """What the clients saw (lists are appended to from many threads: one append is atomic)."""

    latencies: list[float] = attrs.Factory(list)
    failures: list[str] = attrs.Factory(list)
    endings: list[Ending] = attrs.Factory(list)


def normal_client(port: int, until: float, tally: Tally) -> None:
    expected = {"/": None, "/hello": HELLO}
    client: Client | None = None
    paths = list(expected)
    turn = 0
    while time.monotonic() < until:
        path = paths[turn % 2]
        turn += 1
        try:
            if client is None:
                client = Client(port, timeout=5.0)
            start = time.perf_counter()
            reply = client.request(path)
            tally.latencies.append(time.perf_counter() - start)
            want = expected[path]
            if reply.status != 200 or (want is not None and reply.body != want):
                tally.failures.append(f"{path}: {reply.status} {reply.body[:60]!r}")
        except OSError as exc:  # ConnectionClosed, resets, timeouts
            tally.failures.append(f"{path}: {exc!r}")
            if client is not None:
                client.close()
            client = None
        time.sleep(0.005)
    if client is not None:
        client.close()


def hostile_client(name: str, port: int, plan: SoakPlan, until: float, tally: Tally) -> None:
    behaviour = BEHAVIOURS[name]
    while time.monotonic() < until:
        try:
            ending = behaviour(port, plan)
        except OSError as exc:
            ending = Ending(name, False, 0.0, repr(exc))
        tally.endings.append(attrs.evolve(ending, behaviour=name))
        time.sleep(0.01)  # a pause between connections: no port exhaustion over a long run


def soak(site: Path, config_dir: Path, plan: SoakPlan) -> None:
    with ServerProcess.start(*plan.server_args(site, config_dir), cpu=0) as server:
        fd_baseline = server.fd_count()
        tally = Tally()
        until = time.monotonic() + plan.seconds
        threads = [
            threading.Thread(target=normal_client, args=(server.port, until, tally))
            for _ in range(plan.normal_clients)
        ]
        threads += [
            threading.Thread(target=hostile_client, args=(name, server.port, plan, until, tally))
            for name in BEHAVIOURS
            for _ in range(
                plan.threads_per_holder if name in HOLDERS else plan.threads_per_behaviour
            )
        ]
        for thread in threads:
            thread.daemon = True
            thread.start()
        for thread in threads:
            thread.join(plan.seconds + 30)
            assert not thread.is_alive(), "a client thread did not finish"
        fds_after = server.settle_fds(fd_baseline)

        latencies = sorted(tally.latencies)
        p99 = latencies[int(len(latencies) * 0.99)] if latencies else float("inf")
        counts = Counter(ending.behaviour for ending in tally.endings)
        bad = [ending for ending in tally.endings if not ending.ok]
        print(
            f"\nsoak {plan.seconds:g} s: {len(latencies)} normal requests, "
            f"{len(tally.failures)} failed, p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, "
            f"p99 {p99 * 1000:.1f} ms; {len(tally.endings)} hostile connections "
            f"({dict(counts)}), {len(bad)} not ended by their limit; fds {fd_baseline} -> "
            f"{fds_after}"
        )
        for ending in bad[:20]:
            print(f"  not by its limit: {ending}")
        assert tally.failures == []
        assert len(latencies) >= 50 * plan.normal_clients * plan.seconds / 3
        assert p99 < P99_LIMIT
        assert bad == []
        assert set(counts) == set(BEHAVIOURS)
        assert fds_after == fd_baseline
        assert server.alive()


def test_normal_clients_are_served_beside_hostile_ones_for_2_s(site: Path, tmp_path: Path) -> None:
    soak(site, tmp_path, SHORT)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_normal_clients_are_served_beside_hostile_ones_for_60_s(site: Path, tmp_path: Path) -> None:
    soak(site, tmp_path, LONG)


# -- the TLS port ------------------------------------------------------------------------------

HANDSHAKE_TIMEOUT = 0.5


def tls_server(site: Path, directory: Path) -> ServerProcess:
    """The server with a TLS port (a trustme certificate) and a short handshake timeout; the
    test is skipped when the server under test has no ``--tls-port``."""
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    authority.cert_pem.write_to_path(str(directory / "ca.pem"))
    issued = authority.issue_cert("localhost", "127.0.0.1", "::1")
    issued.private_key_pem.write_to_path(str(directory / "key.pem"))
    issued.cert_chain_pems[0].write_to_path(str(directory / "cert.pem"))
    for extra in issued.cert_chain_pems[1:]:
        extra.write_to_path(str(directory / "cert.pem"), append=True)
    config = limits_file(directory, tls_handshake_timeout=HANDSHAKE_TIMEOUT)
    args = ["--port", "0", "--tls-port", "0", "--root", str(site), "--config", str(config)]
    args += ["--certfile", str(directory / "cert.pem"), "--keyfile", str(directory / "key.pem")]
    try:
        server = ServerProcess.start(*args)
    except RuntimeError:
        pytest.skip("the server under test has no TLS port (it refused --tls-port)")
    if not server.tls_ports:
        server.kill()
        pytest.skip("the server under test printed no TLS port")
    return server


def test_garbage_on_the_tls_port_is_closed_by_the_handshake_and_tls_clients_are_served(
    site: Path, tmp_path: Path
) -> None:
    with tls_server(site, tmp_path) as server:
        port = server.tls_ports[0]
        fd_baseline = server.fd_count()
        plan = SHORT
        endings: list[Ending] = []
        for _ in range(3):
            # Silent, and a ClientHello then silence: the handshake timeout closes them.
            for name, data in (("silent", b""), ("hello, then silence", CLIENT_HELLO)):
                with _connect(port) as sock:
                    sock.sendall(data)
                    start = time.monotonic()
                    closed = read_until_closed(sock, HANDSHAKE_TIMEOUT + 5)
                    elapsed = time.monotonic() - start
                    ending = _within(name, elapsed, HANDSHAKE_TIMEOUT, plan)
                    endings.append(ending if closed is not None else Ending(name, False, 0.0))
            # Garbage, and plain HTTP, where a handshake is due: refused at once.
            for name, data in (
                ("garbage", bytes(range(256)) * 4),
                ("plain HTTP", b"GET /hello HTTP/1.1\r\nHost: soak\r\n\r\n"),
            ):
                with _connect(port) as sock:
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        sock.sendall(data)
                    start = time.monotonic()
                    received = _read_all(sock, 2.0)
                    elapsed = time.monotonic() - start
                    ok = received is not None and HELLO not in received
                    endings.append(Ending(name, ok, elapsed, f"got {received!r:.60}"))
        # A real TLS client is served.
        context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5.0) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            tls.sendall(b"GET /hello HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := tls.recv(65536):
                answer += chunk
        fds_after = server.settle_fds(fd_baseline)
        print(f"\nTLS port: {len(endings)} hostile connections, fds {fd_baseline} -> {fds_after}")
        assert [ending for ending in endings if not ending.ok] == []
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert answer.endswith(HELLO)
        assert fds_after == fd_baseline
