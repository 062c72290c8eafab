"""TLS over MemoryBIO: ``async_tls_handshake`` and ``SecureSocket``, against the stdlib ``ssl``
client and server in both directions (peers on a thread), dsexec against itself on every
scheduler, and the failure paths -- silent peer, garbage, ragged EOF, stop -- with their fds
counted. Certificates come from ``trustme``."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import math
import os
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, NamedTuple, TypeVar

import pytest
import trustme

import dsexec as ex
from dsexec import let_value, then, when_all
from dsexec.net import (
    Socket,
    async_read,
    async_read_until,
    async_sendfile,
    async_write,
)
from dsexec.perf import MemoryPool
from dsexec.schedulers import IoScheduler
from dsexec.security import (
    SecureSocket,
    async_tls_handshake,
    audit,
    disable_audit_log,
    enable_audit_log,
)
from dsexec.testing import SchedulerRunner

T = TypeVar("T")

HOST = "localhost"
PEER_TIMEOUT = 10.0  # a blocking stdlib peer gives up after this (a hang fails, not stalls)


# -- certificates and contexts ------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def leaf(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert(HOST, "127.0.0.1")


@pytest.fixture
def server_ctx(leaf: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(context)
    return context


@pytest.fixture
def client_ctx(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca.configure_trust(context)
    return context


# -- sockets, peers, fds ------------------------------------------------------------------------


@pytest.fixture
def cleanup() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as stack:
        yield stack


@pytest.fixture
def pair(cleanup: contextlib.ExitStack) -> Callable[[], tuple[socket.socket, socket.socket]]:
    """``pair()``: two connected TCP sockets over 127.0.0.1 (closed at teardown)."""

    def make() -> tuple[socket.socket, socket.socket]:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            left = cleanup.enter_context(socket.create_connection(listener.getsockname()))
            right, _ = listener.accept()
            cleanup.enter_context(right)
        left.settimeout(PEER_TIMEOUT)
        right.settimeout(PEER_TIMEOUT)
        return left, right

    return make


def count_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


needs_proc_fd = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd to count open fds"
)


class Peer(Generic[T]):
    """``fn()`` on a thread; ``result()`` joins it and returns its value or raises its error."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self._value: list[T] = []
        self._error: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], T]) -> None:
        try:
            self._value.append(fn())
        except BaseException as exc:
            self._error.append(exc)

    def result(self) -> T:
        self._thread.join(PEER_TIMEOUT + 5)
        assert not self._thread.is_alive(), "the peer thread hangs"
        if self._error:
            raise self._error[0]
        return self._value[0]


def recv_exactly(sock: ssl.SSLSocket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "EOF too early"
        data += chunk
    return data


def recv_all(sock: ssl.SSLSocket) -> bytes:
    chunks = []
    while chunk := sock.recv(1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


class AuditRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def audited() -> Iterator[AuditRecords]:
    level, handlers, disabled = audit.level, list(audit.handlers), audit.disabled
    handler = AuditRecords()
    enable_audit_log(handler, level=logging.WARNING)
    yield handler
    disable_audit_log()
    audit.setLevel(level)
    audit.handlers[:] = handlers
    audit.disabled = disabled


def client_handshake(
    sch: IoScheduler, sock: Socket, context: ssl.SSLContext, **options: Any
) -> ex.Sender[SecureSocket]:
    return async_tls_handshake(
        sch, sock, context, server_side=False, server_hostname=HOST, **options
    )


class BioClient:
    """A blocking TLS client over MemoryBIO driven by hand, to put bytes on the wire exactly
    when the test wants: ``prefix`` before the ClientHello, application data in the same
    segment as the Finished message."""

    def __init__(self, raw: socket.socket, context: ssl.SSLContext) -> None:
        self.raw = raw
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.obj = context.wrap_bio(self.incoming, self.outgoing, server_hostname=HOST)

    def handshake(self, *, prefix: bytes = b"", then_send: bytes = b"") -> None:
        first = True
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                wire = self.outgoing.read()
                if first:
                    wire, first = prefix + wire, False
                if wire:
                    self.raw.sendall(wire)
                self.receive()
        if then_send:
            self.obj.write(then_send)
        self.raw.sendall(self.outgoing.read())

    def read(self, size: int) -> bytes:
        while True:
            try:
                return self.obj.read(size)
            except ssl.SSLWantReadError:
                self.receive()

    def receive(self) -> None:
        data = self.raw.recv(1 << 16)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.incoming.write(data)


# -- the handshake against the stdlib, both directions --------------------------------------


def test_a_dsexec_client_talks_to_a_stdlib_server(
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
) -> None:
    ours, theirs = pair()
    names: list[str | None] = []
    server_ctx.sni_callback = lambda _obj, name, _ctx: names.append(name)

    def serve() -> bytes:
        with server_ctx.wrap_socket(theirs, server_side=True) as tls:
            request = tls.recv(100)
            tls.sendall(b"echo:" + request)
            return request

    peer = Peer(serve)
    with ex.IoContext() as context:
        sch = context.get_scheduler()
        plain = Socket(ours)
        secure = ex.sync_wait(client_handshake(sch, plain, client_ctx), context=context)
        with secure:
            ex.sync_wait(async_write(sch, secure, b"hello"), context=context)
            reply = ex.sync_wait(async_read(sch, secure, 100), context=context)
            assert reply == b"echo:hello"
            assert secure.version() == "TLSv1.3"
            assert secure.cipher() is not None
            assert secure.server_hostname == HOST
            assert not secure.server_side
            assert str(secure.get_remote_address()) == "127.0.0.1"
            assert secure.get_local_endpoint().port == ours.getsockname()[1]
            assert secure.socket is ours
            assert secure.fileno() == ours.fileno()
            assert plain.closed  # detached: the SecureSocket owns the fd now
    assert peer.result() == b"hello"
    assert names == [HOST]  # SNI: the stdlib server saw the name the client sent


def test_a_dsexec_server_talks_to_a_stdlib_client(
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
) -> None:
    ours, theirs = pair()
    names: list[str | None] = []
    server_ctx.sni_callback = lambda _obj, name, _ctx: names.append(name)

    def talk() -> bytes:
        with client_ctx.wrap_socket(theirs, server_hostname=HOST) as tls:
            tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            return tls.recv(100)

    peer = Peer(talk)
    with ex.IoContext() as context:
        sch = context.get_scheduler()
        handshake = async_tls_handshake(sch, Socket(ours), server_ctx, server_side=True)
        secure = ex.sync_wait(handshake, context=context)
        with secure:
            head = ex.sync_wait(async_read_until(sch, secure, b"\r\n\r\n", 1024), context=context)
            assert head.startswith(b"GET / HTTP/1.1\r\n")
            answer = async_write(sch, secure, b"HTTP/1.1 204 No Content\r\n\r\n")
            ex.sync_wait(answer, context=context)
            assert secure.server_side
            assert secure.server_hostname is None
    assert peer.result() == b"HTTP/1.1 204 No Content\r\n\r\n"
    assert names == [HOST]  # SNI: the dsexec server's context saw the name


@pytest.mark.parametrize("server_side", [True, False], ids=["dsexec-server", "dsexec-client"])
def test_handshake_and_echo_against_the_stdlib_on_every_real_loop(  # noqa: PLR0917
    real_time_scheduler_runner: SchedulerRunner,
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
    cleanup: contextlib.ExitStack,
    server_side: bool,
) -> None:
    ours, theirs = pair()

    def stdlib_side() -> bytes:
        if server_side:
            tls = client_ctx.wrap_socket(theirs, server_hostname=HOST)
        else:
            tls = server_ctx.wrap_socket(theirs, server_side=True)
        with tls:
            tls.sendall(b"ping")
            return tls.recv(100)

    def build(sch: IoScheduler) -> ex.Sender[bytes]:
        sock = cleanup.enter_context(Socket(ours))
        if server_side:
            handshake = async_tls_handshake(sch, sock, server_ctx, server_side=True)
        else:
            handshake = client_handshake(sch, sock, client_ctx)

        def echo(secure: SecureSocket) -> ex.Sender[bytes]:
            cleanup.enter_context(secure)
            return async_read(sch, secure, 100) | let_value(
                lambda data: async_write(sch, secure, data + b"/pong") | then(lambda _: data)
            )

        return handshake | let_value(echo)

    peer = Peer(stdlib_side)
    assert real_time_scheduler_runner.run(build) == b"ping"
    assert peer.result() == b"ping/pong"


def test_dsexec_client_and_server_talk_on_every_scheduler(
    scheduler_runner: SchedulerRunner,
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
    cleanup: contextlib.ExitStack,
) -> None:
    server_ctx.set_alpn_protocols(["h2", "http/1.1"])
    client_ctx.set_alpn_protocols(["http/1.1"])
    left, right = pair()

    def build(sch: IoScheduler) -> ex.Sender[Any]:
        server = cleanup.enter_context(Socket(left))
        client = cleanup.enter_context(Socket(right))
        handshakes = when_all(
            async_tls_handshake(sch, server, server_ctx, server_side=True),
            client_handshake(sch, client, client_ctx),
        )

        def talk(secure: tuple[SecureSocket, SecureSocket]) -> ex.Sender[Any]:
            tls_server, tls_client = (cleanup.enter_context(sock) for sock in secure)
            ask = when_all(
                async_write(sch, tls_client, b"line one\nline two\n"),
                async_read_until(sch, tls_server, b"\n", 100),
            )
            answer = ask | let_value(
                lambda got: when_all(
                    async_write(sch, tls_server, got[1].upper()),
                    async_read(sch, tls_client, 100),
                    async_read_until(sch, tls_server, b"\n", 100),
                )
            )
            return answer | then(
                lambda got: (
                    got[1],
                    got[2],
                    tls_server.selected_alpn_protocol(),
                    tls_client.selected_alpn_protocol(),
                )
            )

        return handshakes | let_value(talk)

    assert scheduler_runner.run(build) == (
        b"LINE ONE\n",
        b"line two\n",
        "http/1.1",
        "http/1.1",
    )


# -- reading and writing over TLS ---------------------------------------------------------------


@pytest.fixture
def connected(
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
    cleanup: contextlib.ExitStack,
) -> Iterator[tuple[ex.IoContext, SecureSocket, ssl.SSLSocket]]:
    """A dsexec TLS client connected to a stdlib TLS server socket (blocking, in this thread)."""
    ours, theirs = pair()
    peer = Peer(lambda: server_ctx.wrap_socket(theirs, server_side=True))
    with ex.IoContext() as context:
        sch = context.get_scheduler()
        secure = ex.sync_wait(client_handshake(sch, Socket(ours), client_ctx), context=context)
        stdlib = cleanup.enter_context(peer.result())
        with secure:
            yield context, secure, stdlib


Connected = tuple[ex.IoContext, SecureSocket, ssl.SSLSocket]


def test_reads_get_every_buffered_record_without_waiting_for_the_fd(
    connected: Connected,
) -> None:
    # 40 KB arrive as three records in one kernel read; the peer then stays silent, so every
    # later read must come from what was decrypted already, not from a readiness wait.
    context, secure, stdlib = connected
    sch = context.get_scheduler()
    payload = bytes(range(256)) * 160
    stdlib.sendall(payload)
    got = b""
    while len(got) < len(payload):
        got += ex.sync_wait(async_read(sch, secure, 1000), context=context)
    assert got == payload


def test_read_until_finds_lines_left_over_by_a_small_read(connected: Connected) -> None:
    context, secure, stdlib = connected
    sch = context.get_scheduler()
    stdlib.sendall(b"LEN 5\r\nfirst\r\nsecond\r\n")
    assert ex.sync_wait(async_read(sch, secure, 4), context=context) == b"LEN "
    lines = [
        ex.sync_wait(async_read_until(sch, secure, b"\r\n", 100), context=context)
        for _ in range(3)
    ]
    assert lines == [b"5\r\n", b"first\r\n", b"second\r\n"]


def test_pooled_reads_decrypt_into_the_pool(connected: Connected) -> None:
    context, secure, stdlib = connected
    sch = context.get_scheduler()
    pool = MemoryPool(4096, 4)
    payload = os.urandom(20000)
    stdlib.sendall(payload)
    got = b""
    while len(got) < len(payload):
        view = ex.sync_wait(async_read(sch, secure, 4096, pool=pool), context=context)
        got += bytes(view)
        pool.release(view)
    assert got == payload
    assert pool.in_use == 0


def test_a_large_write_arrives_whole_through_partial_sends(
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
) -> None:
    ours, theirs = pair()
    # A small send buffer: most sends are partial. (Not smaller: below it, and with a small
    # receive buffer, TCP itself slows to a crawl.)
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    payload = os.urandom(6 * 1024 * 1024)

    def receive() -> str:
        with server_ctx.wrap_socket(theirs, server_side=True) as tls:
            received = recv_all(tls)
            tls.unwrap()
            return hashlib.sha256(received).hexdigest()

    peer = Peer(receive)
    with ex.IoContext() as context:
        sch = context.get_scheduler()
        secure = ex.sync_wait(client_handshake(sch, Socket(ours), client_ctx), context=context)
        with secure:
            written = ex.sync_wait(async_write(sch, secure, memoryview(payload)), context=context)
            assert written == len(payload)
            secure.shutdown_write()  # close_notify: the peer's recv loop ends
            try:
                assert ex.sync_wait(async_read(sch, secure, 100), context=context) == b""
            except Exception:
                peer.result()  # the peer's own failure, if it had one, is the cause: show it
                raise
    assert peer.result() == hashlib.sha256(payload).hexdigest()




class Stalled(NamedTuple):
    """A client session whose write stalled: ciphertext waits in the channel, the peer has not
    read yet; setting ``go`` lets the peer's ``serve`` run."""

    context: ex.VirtualTimeScheduler
    sch: IoScheduler
    secure: SecureSocket
    payload: bytes
    go: threading.Event

    def run(self, sender: ex.Sender[T], peer: Peer[Any]) -> T:
        """``sync_wait(sender)``; on failure the peer's own error, if it had one, first."""
        try:
            return ex.sync_wait(sender, context=self.context)
        except Exception:
            peer.result()
            raise


# Both versions: TLS 1.3 servers send session tickets after the handshake, which wake a read.
@pytest.fixture(params=[ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["tls1.2", "tls1.3"])
def stalled(
    request: pytest.FixtureRequest,
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
) -> Callable[[Callable[[ssl.SSLSocket], Any]], contextlib.AbstractContextManager[Any]]:
    """``with stalled(serve) as (session, peer):`` a :func:`stalled_session` on each version."""
    client_ctx.maximum_version = request.param
    return functools.partial(stalled_session, pair, server_ctx, client_ctx)


@contextlib.contextmanager
def stalled_session(
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
    serve: Callable[[ssl.SSLSocket], T],
) -> Iterator[tuple[Stalled, Peer[T]]]:
    """A session whose write stalled (see :func:`stalled_peer`), on virtual time: the stop
    comes as soon as the loop has nothing to do but wait for the peer."""
    ours, payload, go, peer = stalled_peer(pair, server_ctx, serve)
    with ex.VirtualTimeScheduler() as context:
        sch = context
        # No handshake timer: on virtual time it would fire before the real peer answers.
        handshake = client_handshake(sch, Socket(ours), client_ctx, timeout=math.inf)
        secure = ex.sync_wait(handshake, context=context)
        with secure:
            assert ex.sync_wait(stalled_write(sch, secure, payload), context=context) is None
            yield Stalled(context, sch, secure, payload, go), peer


def stalled_peer(
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
    serve: Callable[[ssl.SSLSocket], T],
) -> tuple[socket.socket, bytes, threading.Event, Peer[T]]:
    """Our socket, a payload far larger than the small buffers of the pair hold, and ``go``:
    the peer runs ``serve(tls)`` once it is set (it does not read before)."""
    ours, theirs = pair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    go = threading.Event()

    def peer_side() -> T:
        with server_ctx.wrap_socket(theirs, server_side=True) as tls:
            assert go.wait(PEER_TIMEOUT)
            return serve(tls)

    return ours, os.urandom(8 * 1024 * 1024), go, Peer(peer_side)


def stalled_write(
    sch: IoScheduler, secure: SecureSocket, payload: bytes
) -> ex.Sender[int | None]:
    """The write of ``payload`` while the peer does not read, stopped once the kernel's buffers
    are surely full (``None``: stopped, as it must be): its last ciphertext stays queued."""
    return (
        async_write(sch, secure, memoryview(payload))
        | ex.stop_when(sch.schedule_after(0.05))
        | ex.stopped_as_optional()
    )


def receive_to_the_end(tls: ssl.SSLSocket) -> bytes:
    received = recv_all(tls)
    tls.unwrap()
    return received


def assert_a_prefix(received: bytes, payload: bytes) -> None:
    assert 0 < len(received) < len(payload)
    assert received == payload[: len(received)]


def test_a_read_sends_the_queued_close_notify_before_it_waits(
    stalled: Callable[[Callable[[ssl.SSLSocket], Any]], contextlib.AbstractContextManager[Any]],
) -> None:
    # shutdown_write() queues close_notify behind ciphertext the kernel would not take. The
    # peer reads everything and waits for that close_notify before it answers with its own: a
    # read waiting for readability would wait for the peer as the peer waits for it.
    with stalled(receive_to_the_end) as (session, peer):
        session.secure.shutdown_write()
        # The read starts (and parks) first; only then does the peer begin to read.
        sch, secure = session.sch, session.secure
        start_peer = sch.schedule() | then(lambda _: session.go.set())
        end, _ = session.run(when_all(async_read(sch, secure, 100), start_peer), peer)
        assert end == b""
    assert_a_prefix(peer.result(), session.payload)


def test_a_write_takes_over_from_a_read_waiting_to_send(
    stalled: Callable[[Callable[[ssl.SSLSocket], Any]], contextlib.AbstractContextManager[Any]],
) -> None:
    # A read parked for writability (queued ciphertext to send) must not keep a write from
    # waiting there too: the write sends the queued bytes first, the read waits to read.
    marker = os.urandom(64)

    def answer(tls: ssl.SSLSocket) -> bytes:
        received = b""
        while not received.endswith(marker):
            chunk = tls.recv(1 << 16)
            assert chunk, "the stream ended before the marker"
            received += chunk
        tls.sendall(b"reply")
        assert recv_all(tls) == b""
        tls.unwrap()
        return received

    with stalled(answer) as (session, peer):
        sch, secure = session.sch, session.secure
        both = when_all(
            async_read(sch, secure, 100),  # parks first, to send the queued ciphertext
            async_write(sch, secure, marker),
            sch.schedule() | then(lambda _: session.go.set()),
        )
        reply, written, _ = session.run(both, peer)
        assert (reply, written) == (b"reply", len(marker))
        secure.shutdown_write()
        assert session.run(async_read(sch, secure, 100), peer) == b""
    received = peer.result()
    assert received.endswith(marker)
    assert_a_prefix(received[: -len(marker)], session.payload)


def test_a_read_waiting_to_send_can_be_stopped(
    stalled: Callable[[Callable[[ssl.SSLSocket], Any]], contextlib.AbstractContextManager[Any]],
) -> None:
    # Stopping a read parked for writability withdraws that wait: a later write has the
    # writable side to itself and is not handed a stale waiter.
    marker = os.urandom(64)
    with stalled(receive_to_the_end) as (session, peer):
        sch, secure = session.sch, session.secure
        parked = (
            async_read(sch, secure, 100)
            | ex.stop_when(sch.schedule_after(0.01))
            | ex.stopped_as_optional()
        )
        assert session.run(parked, peer) is None
        session.go.set()
        assert session.run(async_write(sch, secure, marker), peer) == len(marker)
        secure.shutdown_write()
        assert session.run(async_read(sch, secure, 100), peer) == b""
        assert session.context.statistics().writers == 0
    assert peer.result().endswith(marker)



def test_queued_close_notify_goes_out_on_every_real_loop(
    real_time_scheduler_runner: SchedulerRunner,
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
    cleanup: contextlib.ExitStack,
) -> None:
    # The first stalled-session scenario as one pipeline, on each reactor: the read parks for
    # writability through that reactor's add_writer and sends the queued close_notify.
    ours, payload, go, peer = stalled_peer(pair, server_ctx, receive_to_the_end)

    def build(sch: IoScheduler) -> ex.Sender[bytes]:
        sock = cleanup.enter_context(Socket(ours))

        def session(secure: SecureSocket) -> ex.Sender[bytes]:
            cleanup.enter_context(secure)

            def read_to_the_end(written: int | None) -> ex.Sender[bytes]:
                assert written is None  # stopped: the write could not finish
                secure.shutdown_write()
                start_peer = sch.schedule() | then(lambda _: go.set())
                return when_all(async_read(sch, secure, 100), start_peer) | then(lambda r: r[0])

            return stalled_write(sch, secure, payload) | let_value(read_to_the_end)

        return client_handshake(sch, sock, client_ctx) | let_value(session)

    try:
        assert real_time_scheduler_runner.run(build) == b""
    except Exception:
        peer.result()
        raise
    assert_a_prefix(peer.result(), payload)


def test_a_large_transfer_both_ways_at_once(
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
) -> None:
    # The read and the write operations share one SSLObject: a read flushing the write's
    # pending ciphertext must not lose or repeat bytes.
    ours, theirs = pair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    payload = os.urandom(4 * 1024 * 1024)

    def echo() -> None:
        with server_ctx.wrap_socket(theirs, server_side=True) as tls:
            while data := tls.recv(1 << 16):
                tls.sendall(data)
            tls.unwrap()

    peer = Peer(echo)
    with ex.IoContext() as context:
        sch = context.get_scheduler()
        secure = ex.sync_wait(client_handshake(sch, Socket(ours), client_ctx), context=context)

        def read_all(chunks: list[bytes]) -> ex.Sender[Any]:
            def more(data: bytes) -> ex.Sender[Any]:
                chunks.append(data)
                if sum(map(len, chunks)) >= len(payload):
                    return ex.just(None)
                return read_all(chunks)

            return async_read(sch, secure, 1 << 16) | let_value(more)

        chunks: list[bytes] = []
        with secure:
            both = when_all(async_write(sch, secure, payload), read_all(chunks))
            ex.sync_wait(both, context=context)
            secure.shutdown_write()
            assert ex.sync_wait(async_read(sch, secure, 100), context=context) == b""
    peer.result()
    assert b"".join(chunks) == payload


def test_a_write_after_a_stopped_one_is_sent_whole(
    vts: ex.VirtualTimeScheduler,
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
) -> None:
    # The stopped write leaves encrypted bytes it was never credited for; the next write is
    # another buffer, and none of its bytes may be taken for those.
    ours, theirs = pair()
    peer = Peer(lambda: server_ctx.wrap_socket(theirs, server_side=True))
    handshake = client_handshake(vts, Socket(ours), client_ctx, timeout=math.inf)
    secure = ex.sync_wait(handshake, context=vts)
    first = os.urandom(8 * 1024 * 1024)
    with secure, peer.result() as stdlib:
        with pytest.raises(TimeoutError):  # the peer does not read: the kernel buffers fill
            ex.sync_wait(async_write(vts, secure, first) | ex.timeout(1.0), context=vts)

        def read_to_the_end() -> bytes:
            data = b""
            while not data.endswith(b"second"):
                data += stdlib.recv(1 << 16)
            return data

        reader = Peer(read_to_the_end)
        assert ex.sync_wait(async_write(vts, secure, b"second"), context=vts) == 6
        received = reader.result()
    assert received.endswith(b"second")
    assert first.startswith(received[:-6])  # a prefix of the stopped write, then all of this


def test_sendfile_over_tls_encrypts_through_python(connected: Connected, tmp_path: Any) -> None:
    context, secure, stdlib = connected
    sch = context.get_scheduler()
    content = os.urandom(300_000)
    path = tmp_path / "file.bin"
    path.write_bytes(content)
    assert SecureSocket.zero_copy is False  # os.sendfile would send plaintext
    received = Peer(lambda: recv_exactly(stdlib, 200_000))
    with path.open("rb") as file:
        sent = ex.sync_wait(async_sendfile(sch, secure, file, 1000, 200_000), context=context)
    assert sent == 200_000
    assert received.result() == content[1000:201_000]


# -- the ends of a stream -----------------------------------------------------------------------


def test_close_sends_close_notify(
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
) -> None:
    ours, theirs = pair()

    def serve() -> bytes:
        # suppress_ragged_eofs=False: a close without close_notify would raise SSLEOFError
        tls = server_ctx.wrap_socket(theirs, server_side=True, suppress_ragged_eofs=False)
        with tls:
            return recv_all(tls)

    peer = Peer(serve)
    with ex.IoContext() as context:
        sch = context.get_scheduler()
        secure = ex.sync_wait(client_handshake(sch, Socket(ours), client_ctx), context=context)
        ex.sync_wait(async_write(sch, secure, b"bye"), context=context)
        secure.close()
        secure.close()  # idempotent
        assert secure.closed
    assert peer.result() == b"bye"


def test_the_peers_close_notify_is_a_clean_end_and_unwrap_completes(
    connected: Connected,
) -> None:
    context, secure, stdlib = connected
    sch = context.get_scheduler()
    stdlib.sendall(b"last words")
    unwrapped = Peer(stdlib.unwrap)  # sends close_notify, then waits for ours
    assert ex.sync_wait(async_read(sch, secure, 100), context=context) == b"last words"
    assert ex.sync_wait(async_read(sch, secure, 100), context=context) == b""
    assert ex.sync_wait(async_read_until(sch, secure, b"\n", 100), context=context) == b""
    secure.close()
    unwrapped.result().close()  # the stdlib side saw our close_notify: unwrap() succeeded


def test_a_ragged_eof_is_a_tls_error_not_an_end(connected: Connected) -> None:
    context, secure, stdlib = connected
    sch = context.get_scheduler()
    stdlib.sendall(b"partial")
    stdlib.close()  # the stdlib never sends close_notify on close()
    assert ex.sync_wait(async_read(sch, secure, 100), context=context) == b"partial"
    with pytest.raises(ex.TlsError, match="without a TLS close_notify") as caught:
        ex.sync_wait(async_read(sch, secure, 100), context=context)
    assert isinstance(caught.value.__cause__, ssl.SSLEOFError)
    with pytest.raises(ex.TlsError):  # and it stays an error
        ex.sync_wait(async_read_until(sch, secure, b"\n", 100), context=context)


def test_a_ragged_eof_is_an_error_even_when_the_context_ignores_it(
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
) -> None:
    client_ctx.options |= ssl.OP_IGNORE_UNEXPECTED_EOF  # OpenSSL then reports a clean end
    ours, theirs = pair()
    peer = Peer(lambda: server_ctx.wrap_socket(theirs, server_side=True))
    with ex.IoContext() as context:
        sch = context.get_scheduler()
        secure = ex.sync_wait(client_handshake(sch, Socket(ours), client_ctx), context=context)
        peer.result().close()
        with secure, pytest.raises(ex.TlsError, match="without a TLS close_notify"):
            ex.sync_wait(async_read(sch, secure, 100), context=context)


def test_a_corrupt_record_is_a_tls_error(connected: Connected) -> None:
    context, secure, stdlib = connected
    sch = context.get_scheduler()
    # an application-data record header and bytes that no key decrypts
    os.write(stdlib.fileno(), b"\x17\x03\x03\x00\x20" + bytes(32))
    with pytest.raises(ex.TlsError, match="TLS failure") as caught:
        ex.sync_wait(async_read(sch, secure, 100), context=context)
    assert isinstance(caught.value.__cause__, ssl.SSLError)


def test_writing_after_shutdown_write_is_a_tls_error(connected: Connected) -> None:
    context, secure, _stdlib = connected
    sch = context.get_scheduler()
    secure.shutdown_write()
    with pytest.raises(ex.TlsError, match="cannot encrypt"):
        ex.sync_wait(async_write(sch, secure, b"more"), context=context)


# -- what the handshake takes along -------------------------------------------------------------


def test_bytes_read_before_the_handshake_belong_to_it(
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
) -> None:
    # A PROXY protocol line, then the ClientHello in the same segment: async_read_until reads
    # past the line, and the handshake starts from the bytes it left on the socket. The
    # client's first request arrives with its Finished message, so it waits in the TLS buffer
    # when the handshake completes -- the first read must not wait for the (silent) fd.
    ours, theirs = pair()
    proxy_line = b"PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n"
    client = BioClient(theirs, client_ctx)
    peer = Peer(lambda: client.handshake(prefix=proxy_line, then_send=b"GET /\r\n"))
    with ex.IoContext() as context:
        sch = context.get_scheduler()
        plain = Socket(ours)
        line = ex.sync_wait(async_read_until(sch, plain, b"\r\n", 200), context=context)
        assert line == proxy_line
        assert plain.unread  # the start of the ClientHello
        handshake = async_tls_handshake(sch, plain, server_ctx, server_side=True)
        secure = ex.sync_wait(handshake, context=context)
        with secure:
            peer.result()  # the client is done sending and waits
            request = ex.sync_wait(async_read_until(sch, secure, b"\r\n", 100), context=context)
            assert request == b"GET /\r\n"
            ex.sync_wait(async_write(sch, secure, b"ok"), context=context)
            assert client.read(10) == b"ok"


def test_the_first_read_finds_data_that_came_with_the_handshake(
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
) -> None:
    # The request is decrypted along with the client's Finished message; the client then
    # waits, so the fd never becomes readable again: async_read must not wait for it.
    ours, theirs = pair()
    client = BioClient(theirs, client_ctx)
    peer = Peer(lambda: client.handshake(then_send=b"request"))
    with ex.IoContext() as context:
        sch = context.get_scheduler()
        handshake = async_tls_handshake(sch, Socket(ours), server_ctx, server_side=True)
        secure = ex.sync_wait(handshake, context=context)
        with secure:
            peer.result()
            assert ex.sync_wait(async_read(sch, secure, 100), context=context) == b"request"


def test_client_certificates_reach_the_server(
    ca: trustme.CA,
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
) -> None:
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    ca.configure_trust(server_ctx)
    ca.issue_cert("client@example.org").configure_cert(client_ctx)
    left, right = pair()
    with ex.IoContext() as context:
        sch = context.get_scheduler()
        server, client = ex.sync_wait(
            when_all(
                async_tls_handshake(sch, Socket(left), server_ctx, server_side=True),
                client_handshake(sch, Socket(right), client_ctx),
            ),
            context=context,
        )
        with server, client:
            certificate = server.getpeercert()
            assert certificate is not None
            assert ("email", "client@example.org") in certificate["subjectAltName"]
            assert server.getpeercert(binary_form=True)
            assert client.getpeercert() is not None
            assert repr(server).startswith("<SecureSocket fd=")
            assert "TLSv1.3" in repr(server)
    assert repr(server) == "<SecureSocket closed>"


def test_handshake_messages_a_read_produces_are_sent_by_that_read(
    ca: trustme.CA,
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
) -> None:
    # TLS 1.3 post-handshake authentication: the server asks for a certificate after the
    # handshake, and the client answers while *reading* -- with nothing to write itself.
    server_ctx.verify_mode = ssl.CERT_OPTIONAL
    server_ctx.post_handshake_auth = True
    ca.configure_trust(server_ctx)
    client_ctx.post_handshake_auth = True
    ca.issue_cert("client@example.org").configure_cert(client_ctx)
    ours, theirs = pair()

    def serve() -> ssl.SSLSocket:
        tls = server_ctx.wrap_socket(theirs, server_side=True)
        tls.verify_client_post_handshake()
        tls.sendall(b"who are you?")  # goes out with the CertificateRequest
        return tls

    peer = Peer(serve)
    with ex.IoContext() as context:
        sch = context.get_scheduler()
        secure = ex.sync_wait(client_handshake(sch, Socket(ours), client_ctx), context=context)
        with secure, peer.result() as stdlib:
            assert stdlib.getpeercert() is None
            question = ex.sync_wait(async_read(sch, secure, 100), context=context)
            assert question == b"who are you?"
            # the answer is on the wire already, though the client wrote nothing
            readable, _, _ = select.select([stdlib], [], [], PEER_TIMEOUT)
            assert readable
            ex.sync_wait(async_write(sch, secure, b"me"), context=context)
            assert stdlib.recv(10) == b"me"
            certificate = stdlib.getpeercert()
            assert certificate is not None
            assert certificate["subjectAltName"] == (("email", "client@example.org"),)


# -- failures: the fd is closed, the audit log told ---------------------------------------------


@needs_proc_fd
def test_a_silent_peer_times_out_in_virtual_time_and_its_fd_is_closed(
    vts: ex.VirtualTimeScheduler,
    server_ctx: ssl.SSLContext,
    audited: AuditRecords,
) -> None:
    before = count_fds()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        silent = socket.create_connection(("127.0.0.1", port))  # says nothing, ever
        raw, _ = listener.accept()
    with silent:
        sock = Socket(raw)
        handshake = async_tls_handshake(vts, sock, server_ctx, server_side=True, timeout=7.5)
        with pytest.raises(TimeoutError):
            ex.sync_wait(handshake, context=vts)
        assert vts.now() == 7.5  # virtual seconds: no real waiting
        assert sock.closed
    assert count_fds() == before
    [record] = audited.records
    assert vars(record)["event"] == "tls_failure"
    assert str(vars(record)["peer"]) == "127.0.0.1"
    assert vars(record)["local_port"] == port
    assert vars(record)["reason"].startswith("TimeoutError")


@needs_proc_fd
@pytest.mark.parametrize("server_side", [True, False], ids=["server", "client"])
def test_a_garbage_speaking_peer_fails_with_tls_error_and_its_fd_is_closed(  # noqa: PLR0917
    vts: ex.VirtualTimeScheduler,
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
    audited: AuditRecords,
    server_side: bool,
) -> None:
    before = count_fds()
    ours, theirs = pair()
    if server_side:  # a plain-HTTP client on the TLS port
        theirs.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        handshake = async_tls_handshake(vts, Socket(ours), server_ctx, server_side=True)
    else:  # a plain-HTTP server answering the ClientHello
        theirs.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        handshake = client_handshake(vts, Socket(ours), client_ctx)
    with pytest.raises(ex.TlsError, match="TLS handshake failed") as caught:
        ex.sync_wait(handshake, context=vts)
    assert isinstance(caught.value.__cause__, ssl.SSLError)
    assert ours.fileno() == -1  # closed
    theirs.close()
    assert count_fds() == before
    [record] = audited.records
    assert vars(record)["reason"].startswith("TlsError")


def test_a_peer_closing_mid_handshake_is_a_tls_error(
    vts: ex.VirtualTimeScheduler,
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
) -> None:
    ours, theirs = pair()
    theirs.sendall(b"\x16\x03\x01\x02\x00\x01")  # the start of a ClientHello
    theirs.close()
    handshake = async_tls_handshake(vts, Socket(ours), server_ctx, server_side=True)
    with pytest.raises(ex.TlsError, match="closed the connection during the TLS handshake"):
        ex.sync_wait(handshake, context=vts)
    assert ours.fileno() == -1


def test_an_untrusted_certificate_fails_and_the_peer_gets_an_alert(
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
) -> None:
    ours, theirs = pair()
    stranger = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    trustme.CA().configure_trust(stranger)  # trusts another CA

    def serve() -> None:
        server_ctx.wrap_socket(theirs, server_side=True).close()

    peer = Peer(serve)
    with ex.IoContext() as context:
        handshake = client_handshake(context.get_scheduler(), Socket(ours), stranger)
        with pytest.raises(ex.TlsError, match="CERTIFICATE_VERIFY_FAILED") as caught:
            ex.sync_wait(handshake, context=context)
    assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)
    with pytest.raises(ssl.SSLError, match="ALERT_UNKNOWN_CA"):  # the alert was flushed first
        peer.result()


def test_a_wrong_host_name_fails(
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
) -> None:
    ours, theirs = pair()
    peer = Peer(lambda: server_ctx.wrap_socket(theirs, server_side=True).close())
    with ex.IoContext() as context:
        sch = context.get_scheduler()
        handshake = async_tls_handshake(
            sch, Socket(ours), client_ctx, server_side=False, server_hostname="example.org"
        )
        with pytest.raises(ex.TlsError, match=r"example\.org"):
            ex.sync_wait(handshake, context=context)
    with pytest.raises(ssl.SSLError):
        peer.result()


@needs_proc_fd
def test_a_stop_during_the_handshake_closes_the_fd_without_an_audit_record(
    vts: ex.VirtualTimeScheduler,
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
    audited: AuditRecords,
) -> None:
    ours, _silent = pair()
    before = count_fds()
    handshake = async_tls_handshake(vts, Socket(ours), server_ctx, server_side=True)
    stopped = handshake | ex.stop_when(vts.schedule_after(2.0)) | ex.stopped_as_optional()
    assert ex.sync_wait(stopped, context=vts) is None
    assert vts.now() == 2.0
    assert count_fds() == before - 1
    assert audited.records == []


def test_closing_the_socket_mid_handshake_fails_it(
    vts: ex.VirtualTimeScheduler,
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
) -> None:
    ours, _silent = pair()
    sock = Socket(ours)
    handshake = async_tls_handshake(vts, sock, server_ctx, server_side=True)
    closer = vts.schedule_after(1.0) | then(lambda _: sock.close())
    with pytest.raises(ex.ClosedResourceError):
        ex.sync_wait(when_all(handshake, closer), context=vts)


def test_no_timeout_with_math_inf(
    vts: ex.VirtualTimeScheduler,
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
) -> None:
    ours, _silent = pair()
    handshake = async_tls_handshake(
        vts, Socket(ours), server_ctx, server_side=True, timeout=math.inf
    )
    # only the stop ends it: at 1000 virtual seconds, not at a default 10
    stopped = handshake | ex.stop_when(vts.schedule_after(1000.0)) | ex.stopped_as_optional()
    assert ex.sync_wait(stopped, context=vts) is None
    assert vts.now() == 1000.0
    assert "timeout=inf" in repr(handshake)


# -- arguments ----------------------------------------------------------------------------------


def test_bad_arguments_are_refused_when_built(
    pair: Callable[[], tuple[socket.socket, socket.socket]],
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
) -> None:
    ours, _ = pair()
    sock = Socket(ours)
    with ex.IoContext() as context:
        sch = context.get_scheduler()
        bad: list[tuple[type[Exception], str, Callable[[], object]]] = [
            (TypeError, "I/O reactor", lambda: async_tls_handshake(
                object(), sock, server_ctx, server_side=True)),  # type: ignore[arg-type]
            (TypeError, "dsexec.net.Socket", lambda: async_tls_handshake(
                sch, ours, server_ctx, server_side=True)),  # type: ignore[arg-type]
            (TypeError, "ssl.SSLContext", lambda: async_tls_handshake(
                sch, sock, "ctx", server_side=True)),  # type: ignore[arg-type]
            (TypeError, "server_side must be a bool", lambda: async_tls_handshake(
                sch, sock, server_ctx, server_side=1)),  # type: ignore[arg-type]
            (ValueError, "PROTOCOL_TLS_CLIENT", lambda: async_tls_handshake(
                sch, sock, client_ctx, server_side=True)),
            (ValueError, "PROTOCOL_TLS_SERVER", lambda: async_tls_handshake(
                sch, sock, server_ctx, server_side=False)),
            (ValueError, "for the client side", lambda: async_tls_handshake(
                sch, sock, server_ctx, server_side=True, server_hostname=HOST)),
            (ValueError, "pass server_hostname", lambda: async_tls_handshake(
                sch, sock, client_ctx, server_side=False)),
            (TypeError, "server_hostname must be a str", lambda: async_tls_handshake(
                sch, sock, client_ctx, server_side=False,
                server_hostname=b"localhost")),  # type: ignore[arg-type]
            (ValueError, "not a host name", lambda: async_tls_handshake(
                sch, sock, client_ctx, server_side=False, server_hostname="")),
            (ValueError, "NaN", lambda: async_tls_handshake(
                sch, sock, server_ctx, server_side=True, timeout=math.nan)),
            (ValueError, ">= 0", lambda: async_tls_handshake(
                sch, sock, server_ctx, server_side=True, timeout=-1)),
            (ValueError, "> 0", lambda: async_tls_handshake(
                sch, sock, server_ctx, server_side=True, timeout=0)),
            (TypeError, "number", lambda: async_tls_handshake(
                sch, sock, server_ctx, server_side=True, timeout="10")),  # type: ignore[arg-type]
            (TypeError, "number", lambda: async_tls_handshake(
                sch, sock, server_ctx, server_side=True, timeout=True)),
        ]
        for error, message, build in bad:
            with pytest.raises(error, match=message):
                build()
            assert not sock.closed  # refusing to build touches nothing


def test_a_secure_socket_is_not_constructed_directly_nor_wrapped_twice(
    connected: Connected, client_ctx: ssl.SSLContext
) -> None:
    context, secure, _stdlib = connected
    with socket.socket() as raw, pytest.raises(TypeError, match="made by async_tls_handshake"):
        SecureSocket(raw)
    with pytest.raises(TypeError, match="speaks TLS already"):
        client_handshake(context.get_scheduler(), secure, client_ctx)


def test_the_net_senders_still_refuse_what_is_no_socket() -> None:
    with ex.IoContext() as context, socket.socket() as raw:
        sch = context.get_scheduler()
        with pytest.raises(TypeError, match=r"dsexec\.net\.Socket"):
            async_read(sch, raw, 10)  # type: ignore[call-overload]
        with pytest.raises(TypeError, match=r"dsexec\.net\.Socket"):
            async_write(sch, raw, b"x")  # type: ignore[arg-type]
