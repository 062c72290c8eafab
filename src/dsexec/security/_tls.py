"""TLS for dsexec sockets: ``async_tls_handshake`` and the ``SecureSocket`` it delivers.

Theory of operation
-------------------
TLS runs over ``ssl.MemoryBIO``: an ``ssl.SSLObject`` encrypts into one memory BIO and decrypts
from another, and this module moves the bytes between those BIOs and the non-blocking socket.
Nothing but ``recv``, ``send`` and readiness waits touches the fd, so TLS runs on every reactor
(``IoContext``, ``VirtualTimeScheduler``, ``AnyioScheduler`` on asyncio, uvloop and trio).

* **One channel, the socket's contract.** A :class:`SecureSocket` is a ``dsexec.net.Socket``
  whose ``raw`` is a ``_TlsChannel`` instead of the kernel socket. The channel's ``recv``,
  ``recv_into`` and ``send`` keep ``socket.socket``'s contract -- data, ``BlockingIOError``
  when the fd must become ready first, ``b""`` at the end -- so ``async_read``,
  ``async_read_until``, ``async_write`` and ``async_sendfile`` work unchanged on it. A TLS
  failure is raised as a ``RawError`` carrying the ``TlsError`` the operation reports.
* **Reads drain.** A kernel ``recv`` brings up to 64 KiB of records, ``SSLObject.read`` returns
  at most one record, and a readiness wait only announces bytes still in the kernel. So a read
  decrypts *everything* complete that it has (the rest beyond ``max_bytes`` waits in a plaintext
  buffer), and ``buffered``/``more`` tell the operations to read again without waiting while
  that buffer holds bytes. What is left in the BIO is at most part of one record: the kernel
  must deliver the rest, and a readiness wait is right.
* **Ends are explicit.** ``b""`` means the peer sent ``close_notify``. The kernel's EOF without
  it (a "ragged EOF") is a ``TlsError``: a truncating attacker looks exactly like it. This holds
  even for a context with ``OP_IGNORE_UNEXPECTED_EOF``: the EOF is fed to the BIO only after
  ``read`` asked for more with every complete record consumed, so an end reported right after
  it cannot be a ``close_notify``.
* **Writes are honest.** ``send(data)`` encrypts 64 KiB at a time and reports plaintext as
  accepted only once *all* its ciphertext is with the kernel. When the kernel takes part, the
  rest waits in ``_out`` and that plaintext is *owed*: the next ``send`` (after a writability
  wait; the operations resend what was not accepted) flushes ``_out`` first and then reports
  the owed bytes without encrypting them again. So ``async_write`` completes only when every
  byte is on its way, and never leaves ciphertext behind that nobody would send. A ``send`` of
  anything but the rest of the same buffer (the write that owed them was stopped) is another
  write: the owed bytes are forgotten, and went out with the stopped write's last chunk.
* **Ciphertext from reads** (TLS 1.3 session tickets, key updates, alerts) and the
  ``close_notify`` of ``shutdown_write`` are sent opportunistically by the call that produced
  them and by every later one. A read that finds nothing to decrypt while such output is still
  queued raises ``WantWrite``: its operation waits for writability, not readability, because
  the peer may be waiting for that output (our ``close_notify``) before it sends anything.
* **Closing** sends ``close_notify`` (best effort, non-blocking) before the fd closes. The
  channel's ``close()`` runs where ``Socket.close()`` closes the fd: on the loop thread, after
  the pending operations were woken, so the ``SSLObject`` is never used from two threads.

The handshake is a ``SocketOperation`` on the plain socket looping ``do_handshake()``: flush
what it wrote, wait for writability while the kernel will not take it, pull from the kernel
when it wants to read, wait for readability on ``EAGAIN``. ``| timeout(seconds)`` bounds it,
and one receiver around both owns the outcome: on an error or a stop it closes the socket (an
alert the ``SSLObject`` produced is flushed first), and an error is written to the audit log.
On success the plain socket is *detached* (it reads as closed, like a socket given to
``ssl.SSLContext.wrap_socket``) and the ``SecureSocket`` owns the fd.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import socket
import ssl
from collections.abc import Callable
from typing import Any, ClassVar, Final, Literal, NoReturn, final, overload

from typing_extensions import Buffer

from .._core import (
    BasicSender,
    ClosedResourceError,
    DsexecError,
    ForwardingReceiver,
    OperationState,
    Receiver,
    Sender,
    TlsError,
    check_delay,
)
from ..net import Socket
from ..net._socket_operation import RawError, SocketOperation, WantWrite
from ..schedulers._reactor import IoScheduler, Reactor, ReactorSender, reactor_of
from ..senders import timeout as timeout_after
from ._audit import audit, audit_tls_failure

__all__ = ["SecureSocket", "async_tls_handshake"]

_NAME: Final = "async_tls_handshake"
_PULL: Final = 65536  # ciphertext bytes asked of the kernel per recv
_SEAL: Final = 65536  # plaintext bytes encrypted per kernel send (four full records)
_RECORD: Final = 16384  # the largest plaintext of one TLS record


@final
class _TlsChannel:
    """TLS over one non-blocking socket: the ``raw`` of a :class:`SecureSocket` (see the
    module docstring). Used on the loop thread only."""

    __slots__ = (
        "_failure",
        "_fd",
        "_finished",
        "_incoming",
        "_out",
        "_outgoing",
        "_owed",
        "_owed_for",
        "_plain",
        "_shut",
        "eof",
        "obj",
        "ready",
        "sock",
    )

    def __init__(
        self,
        sock: socket.socket,
        obj: ssl.SSLObject,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
    ) -> None:
        self.sock = sock
        self.obj = obj
        self._incoming = incoming
        self._outgoing = outgoing
        self._fd = sock.fileno()
        self._plain = bytearray()  # decrypted, not yet returned
        self._out = b""  # ciphertext the kernel has not taken yet
        self._owed = 0  # plaintext bytes encrypted into _out and not yet reported as sent
        self._owed_for: tuple[object, int] = (None, 0)  # (buffer, length) the resend must be
        self.eof = False
        """Whether the kernel reported EOF (and the incoming BIO was told)."""
        self._finished = False  # the stream ended: b"" or _failure from now on
        self._failure: TlsError | None = None
        self._shut = False  # close_notify was sent (or attempted)
        self.ready = False
        """Whether a read can complete without the kernel: plaintext is buffered, or the end
        (``close_notify``, an error) was seen."""

    # -- moving ciphertext ---------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Bytes already received for this stream (``Socket.unread`` before the handshake)."""
        self._incoming.write(data)

    def pull(self) -> None:
        """One kernel ``recv`` into the incoming BIO; ``BlockingIOError`` when there is none."""
        data = self.sock.recv(_PULL)
        if data:
            self._incoming.write(data)
        else:
            self.eof = True
            self._incoming.write_eof()

    def collect(self) -> None:
        """Move what the ``SSLObject`` wrote into the outgoing queue."""
        if self._outgoing.pending:
            self._out += self._outgoing.read()

    @property
    def has_output(self) -> bool:
        """Whether ciphertext waits for the kernel."""
        return bool(self._out)

    def flush(self) -> None:
        """Send the queued ciphertext; ``BlockingIOError`` if the kernel did not take all."""
        out = self._out
        try:
            while out:
                sent = self.sock.send(out)
                out = out[sent:]
        finally:
            self._out = out

    def flush_quietly(self) -> None:
        """``flush()``, leaving what the kernel refuses for later."""
        with contextlib.suppress(OSError):
            self.flush()

    # -- the socket contract: recv, recv_into, send ----------------------------------------------

    def recv(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` of plaintext; ``b""`` after ``close_notify``;
        ``BlockingIOError`` when the kernel must deliver more first."""
        plain = self._plain
        if plain:
            head = bytes(plain[:max_bytes])
            del plain[:max_bytes]
            self.ready = bool(plain) or self._finished
            return head
        if self._finished:
            return self._end()
        data: bytes | None = self._decrypt(max_bytes, None)
        if data is None:
            return self._end()
        if plain:  # _decrypt decrypted further records: top up from them
            if len(data) < max_bytes:
                wanted = max_bytes - len(data)
                data += plain[:wanted]
                del plain[:wanted]
            self.ready = bool(plain) or self._finished
        return data

    def recv_into(self, buffer: memoryview, nbytes: int) -> int:
        """``recv`` into ``buffer[:nbytes]``; the number of bytes, 0 after ``close_notify``."""
        plain = self._plain
        if plain:
            taken = min(nbytes, len(plain))
            buffer[:taken] = plain[:taken]
            del plain[:taken]
            self.ready = bool(plain) or self._finished
            return taken
        if self._finished:
            return len(self._end())
        count: int | None = self._decrypt(nbytes, buffer)
        if count is None:
            return len(self._end())
        if plain:  # _decrypt decrypted further records: top up from them
            extra = min(nbytes - count, len(plain))
            if extra:
                buffer[count : count + extra] = plain[:extra]
                del plain[:extra]
                count += extra
            self.ready = bool(plain) or self._finished
        return count

    def send(self, data: Buffer) -> int:
        """Encrypt and send a prefix of ``data``: the number of plaintext bytes whose ciphertext
        the kernel has taken (``BlockingIOError`` for none)."""
        if self._out:
            self.flush()  # BlockingIOError: nothing more is accepted until it is out
        view = memoryview(data)
        total = len(view)
        done = 0
        if self._owed:  # encrypted and sent by the last call, not yet reported
            buffer, remaining = self._owed_for
            if buffer is view.obj and remaining == total:  # that call's write resends its rest
                done = self._owed
            self._owed = 0  # else that write was abandoned: this is another one
            self._owed_for = (None, 0)
        obj = self.obj
        outgoing = self._outgoing
        sock = self.sock
        while done < total:
            chunk = view[done : done + _SEAL]
            try:
                obj.write(chunk)
            except ssl.SSLWantReadError:  # a TLS 1.2 renegotiation wants to read first
                raise RawError(
                    self._error("cannot write while the peer renegotiates (not supported)")
                ) from None
            except ssl.SSLError as exc:
                raise RawError(self._error("cannot encrypt", exc)) from None
            wire = outgoing.read()
            try:
                sent = sock.send(wire)
            except BlockingIOError:
                sent = 0
            if sent < len(wire):
                self._out = wire[sent:]
                self._owed = len(chunk)
                self._owed_for = (view.obj, total - done)
                break
            done += len(chunk)
        if not done:
            raise BlockingIOError(errno.EAGAIN, "the kernel takes no more now")
        return done

    def close_notify(self) -> None:
        """Send ``close_notify`` once, best effort: what the kernel does not take now goes
        with the next call (or never, once the socket closes)."""
        if not self._shut:
            self._shut = True
            with contextlib.suppress(ssl.SSLError, ValueError):
                self.obj.unwrap()  # SSLWantReadError: the peer's close_notify is not here yet
        self.collect()
        self.flush_quietly()

    # -- what Socket asks of its raw ---------------------------------------------------------------

    @property
    def family(self) -> socket.AddressFamily:
        """The socket's address family."""
        return self.sock.family

    def getsockname(self) -> Any:
        """The socket's local address."""
        return self.sock.getsockname()

    def getpeername(self) -> Any:
        """The socket's peer address."""
        return self.sock.getpeername()

    def close(self) -> None:
        """Send ``close_notify`` (best effort), then close the socket."""
        try:
            self.close_notify()
        finally:
            self.sock.close()

    # -- ends ----------------------------------------------------------------------------------

    def settle(self) -> None:
        """After the handshake: decrypt application data that came with its last flight."""
        self._drain()
        self.ready = bool(self._plain) or self._finished

    def _decrypt(self, nbytes: int, buffer: memoryview | None) -> Any:
        """``obj.read`` of up to ``nbytes`` (into ``buffer``: the count; else the bytes), with
        queued output sent first and the incoming BIO filled from the kernel as it runs dry;
        then the records left in the BIO are decrypted into ``_plain`` (setting ``ready``) and
        what the read made the ``SSLObject`` write is sent. Called with ``_plain`` empty.
        ``None`` once the stream has ended (an empty read or an ``SSLError``, recorded by
        ``_finish`` for ``_end`` to answer); ``BlockingIOError`` when the kernel has nothing."""
        if self._out:
            self.flush_quietly()
        if not self._incoming.pending:
            # Reads drain, so an empty BIO means nothing is decryptable: ask the kernel first
            # rather than have read() fail with SSLWantReadError (a costly exception) first.
            self._pull_for_read()
        obj = self.obj
        while True:
            try:
                result = obj.read(nbytes) if buffer is None else obj.read(nbytes, buffer)
                break
            except ssl.SSLWantReadError:
                if self.eof:  # cannot happen: after write_eof the SSLObject reports an end
                    self._finish(None)
                    self._end()
                self._pull_for_read()
            except ssl.SSLError as exc:
                self._finish(exc)
                return None
        if not result:
            self._finish(None)
            return None
        if self._incoming.pending or obj.pending():
            self._drain()
            self.ready = bool(self._plain) or self._finished
        else:
            self.ready = False
        if self._outgoing.pending:
            self.collect()
            self.flush_quietly()
        return result

    def _pull_for_read(self) -> None:
        """``pull()`` for a read; ``WantWrite`` instead of ``BlockingIOError`` while output the
        kernel would not take is queued: the peer may be waiting for it (our ``close_notify``
        after ``shutdown_write``) before it sends anything, so the read waits for writability
        and flushes on its retry."""
        try:
            self.pull()
        except BlockingIOError:
            if self._out:
                raise WantWrite(errno.EAGAIN, "queued TLS output must go out first") from None
            raise

    def _drain(self) -> None:
        """Decrypt every complete record in the BIO into ``_plain`` (no system call)."""
        obj = self.obj
        plain = self._plain
        while True:
            try:
                chunk = obj.read(_RECORD)
            except ssl.SSLWantReadError:
                return
            except ssl.SSLError as exc:
                self._finish(exc)
                return
            if not chunk:
                self._finish(None)
                return
            plain += chunk

    def _finish(self, exc: ssl.SSLError | None) -> None:
        """The stream ended: cleanly (``close_notify``), ragged, or with ``exc``."""
        if isinstance(exc, ssl.SSLZeroReturnError):
            exc = None  # close_notify, reported as an exception
        self._finished = True
        self.ready = True
        if exc is None and not self.eof:
            return  # close_notify
        if exc is None or isinstance(exc, ssl.SSLEOFError):
            self._failure = self._error(
                "the peer closed the connection without a TLS close_notify, so the data may be "
                "truncated",
                exc,
            )
        else:
            self._failure = self._error("TLS failure", exc)
        self.collect()  # an alert for the peer, if the SSLObject wrote one
        self.flush_quietly()

    def _end(self) -> bytes:
        """``b""`` after ``close_notify``; raise the failure otherwise."""
        failure = self._failure
        if failure is None:
            return b""
        error = TlsError(*failure.args)
        error.__cause__ = failure.__cause__
        raise RawError(error)

    def _error(self, what: str, exc: BaseException | None = None) -> TlsError:
        detail = f": {exc}" if exc is not None else ""
        error = TlsError(f"{what} on fd {self._fd}{detail}")
        error.__cause__ = exc
        return error


@final
class SecureSocket(Socket):
    """A TLS connection over a dsexec socket, made by :func:`async_tls_handshake`.

    It is a ``dsexec.net.Socket``: ``async_read`` (also with a pool), ``async_read_until``,
    ``async_write`` and ``async_sendfile`` (through Python, never ``os.sendfile``, since the
    bytes must be encrypted) read and write plaintext, and ``get_remote_address()``,
    ``get_remote_endpoint()``, ``get_local_endpoint()`` and ``fileno()`` work as on the plain
    socket. A read returns ``b""`` once the peer sent ``close_notify``; a peer that closes the
    connection without it fails the read with ``TlsError`` (the data may be truncated), as do
    corrupt records. ``close()`` sends ``close_notify`` first (best effort, without waiting)
    and is idempotent; ``shutdown_write()`` sends it and keeps the socket open for reading.
    ``version()``, ``cipher()``, ``selected_alpn_protocol()`` and ``getpeercert()`` describe
    the session as on an ``ssl.SSLSocket``.
    """

    __slots__ = ("_more", "_tls")

    _tls: _TlsChannel
    _more: bool
    zero_copy: ClassVar[bool] = False

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError("SecureSocket: made by async_tls_handshake, not constructed directly")

    @classmethod
    def _adopt(cls, sock: Socket, channel: _TlsChannel) -> SecureSocket:
        """Take over ``sock``'s fd, peer and reactors; ``sock`` is detached (reads as
        closed, and closing it does nothing)."""
        secure = cls.__new__(cls)
        secure._tls = channel
        secure.raw = channel  # type: ignore[assignment]  # the socket contract, see _socket.py
        secure.fd = sock.fd
        secure._peer = sock._peer
        secure.reactor = sock.reactor
        secure.unread = b""
        secure.output_wait = None
        secure._more = False
        sock.fd = -1
        sock.reactor = None
        return secure

    # The plain Socket keeps ``more`` in a slot; here a buffered record counts too, so a read
    # never waits for readability while decrypted bytes are already here, and so does queued
    # output, which the read must send (or wait for writability to send) before it waits.
    @property
    def more(self) -> bool:
        """The next read should try at once: the last one filled its buffer, bytes wait, or
        output waits to be sent."""
        tls = self._tls
        return self._more or tls.ready or tls.has_output

    @more.setter
    def more(self, value: bool) -> None:
        self._more = value

    @property
    def buffered(self) -> bool:
        """Whether decrypted bytes (or the stream's end) wait here, ahead of the kernel."""
        return self._tls.ready

    @property
    def socket(self) -> socket.socket:
        """The underlying ``socket.socket`` (for options; do not read, write or close it)."""
        return self._tls.sock

    @property
    def server_side(self) -> bool:
        """Whether this end is the TLS server."""
        return self._tls.obj.server_side

    @property
    def server_hostname(self) -> str | None:
        """The name a client asked for (SNI) and checked; ``None`` on the server side (see
        ``ssl.SSLContext.sni_callback`` for the name a client sent)."""
        return self._tls.obj.server_hostname

    def version(self) -> str | None:
        """The protocol version: ``"TLSv1.3"``, ``"TLSv1.2"``."""
        return self._tls.obj.version()

    def cipher(self) -> tuple[str, str, int] | None:
        """``(name, protocol, secret bits)`` of the cipher in use."""
        return self._tls.obj.cipher()

    def selected_alpn_protocol(self) -> str | None:
        """The protocol ALPN settled on (``"h2"``, ``"http/1.1"``), if the context offered
        any (``ssl.SSLContext.set_alpn_protocols``)."""
        return self._tls.obj.selected_alpn_protocol()

    @overload
    def getpeercert(self, binary_form: Literal[False] = False) -> dict[str, Any] | None: ...
    @overload
    def getpeercert(self, binary_form: Literal[True]) -> bytes | None: ...
    def getpeercert(self, binary_form: bool = False) -> dict[str, Any] | bytes | None:
        """The peer's certificate as ``ssl.SSLSocket.getpeercert`` gives it (a server sees
        one only if its context asked for client certificates)."""
        if binary_form:
            return self._tls.obj.getpeercert(True)
        return self._tls.obj.getpeercert(False)

    def shutdown_write(self) -> None:
        """Send ``close_notify``: the peer reads the end of the stream; this side can still
        read. Best effort, as in ``close()``: what the kernel does not take at once goes with
        the next read or write. Writing afterwards fails with ``TlsError``."""
        self._check_open()
        self._tls.close_notify()

    def _repr_extra(self) -> str:
        return f" {self._tls.obj.version()}"


# -- the handshake ------------------------------------------------------------------------------


@final
class _HandshakeOp(SocketOperation[SecureSocket]):
    """``do_handshake()`` until done, flushing and pulling through the plain socket."""

    __slots__ = ("_channel", "_client_hostname", "_context", "_server_side", "_shaken")
    name: ClassVar[str] = _NAME

    def __init__(  # noqa: PLR0917
        self,
        reactor: Reactor,
        receiver: Receiver[SecureSocket],
        sock: Socket,
        context: ssl.SSLContext,
        server_side: bool,
        server_hostname: str | None,
    ) -> None:
        super().__init__(reactor, receiver, sock)
        self._context = context
        self._server_side = server_side
        self._client_hostname = server_hostname
        self._channel: _TlsChannel | None = None
        self._shaken = False

    def _begin(self) -> None:
        sock = self._sock
        if sock.fd < 0:
            self._fail(ClosedResourceError(f"{_NAME}: the socket is closed"))
            return
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = self._context.wrap_bio(
            incoming,
            outgoing,
            server_side=self._server_side,
            server_hostname=self._client_hostname,
        )
        channel = self._channel = _TlsChannel(sock.raw, obj, incoming, outgoing)
        if sock.unread:  # bytes read while sniffing the protocol belong to the handshake
            channel.feed(sock.take_unread(len(sock.unread)))
        self._step()

    def fd_ready(self) -> None:
        if self._done:  # stopped after the reactor had queued this wake-up
            return
        self._step()

    def _step(self) -> None:
        channel = self._channel
        assert channel is not None
        while True:
            if channel.has_output and not self._move(channel.flush, writable=True):
                return
            if self._shaken:
                channel.settle()
                self._succeed(SecureSocket._adopt(self._sock, channel))
                return
            try:
                channel.obj.do_handshake()
            except ssl.SSLWantReadError:
                channel.collect()
                if channel.has_output:
                    continue  # our flight first, then the peer's answer
                if not self._move(channel.pull, writable=False):
                    return
                continue
            except ssl.SSLError as exc:
                self._failed(channel, exc)
                return
            self._shaken = True
            channel.collect()  # the last flight (a TLS 1.3 server's session tickets)

    def _failed(self, channel: _TlsChannel, exc: ssl.SSLError) -> None:
        channel.collect()  # the alert telling the peer why, if there is one
        channel.flush_quietly()
        if channel.eof:
            what = "the peer closed the connection during the TLS handshake"
        else:
            what = f"the TLS handshake failed: {exc}"
        error = TlsError(f"{_NAME} on {_describe(self._sock)}: {what}")
        error.__cause__ = exc
        self._fail(error)

    def _move(self, transfer: Callable[[], None], *, writable: bool) -> bool:
        """Run ``transfer`` (the channel's ``flush`` when ``writable``, else its ``pull``);
        ``False`` when the handshake step must end here: the socket would block (now waited
        for in that direction) or the call failed (the operation failed with its error)."""
        try:
            transfer()
        except BlockingIOError:
            self._wait(writable)
            return False
        except OSError as exc:
            self._fail_os(exc, "send" if writable else "recv")
            return False
        return True

    def _cancel(self) -> None:
        fd = self._sock.fd  # the handshake waits in either direction
        if fd >= 0:
            self._reactor.remove_reader(fd, self)
            self._reactor.remove_writer(fd, self)



def _describe(sock: Socket) -> str:
    """``fd 7, peer 192.0.2.1:50000`` for messages (without the peer when unknown)."""
    text = f"fd {sock.fd}"
    with contextlib.suppress(DsexecError):
        text += f", peer {sock.get_remote_endpoint()}"
    return text


def _audit_failure(sock: Socket, error: BaseException) -> None:
    if not audit.isEnabledFor(logging.WARNING):
        return
    peer = None
    port = 0
    with contextlib.suppress(DsexecError):
        peer = sock.get_remote_address()
    with contextlib.suppress(DsexecError):
        port = sock.get_local_endpoint().port
    audit_tls_failure(peer, port, error)


@final
class _Outcome(ForwardingReceiver[SecureSocket]):
    """Owns the plain socket until the handshake succeeds: an error or a stop closes it (an
    error is audited first, while its addresses can still be read). ``data`` is the socket."""

    __slots__ = ()

    def set_error(self, error: BaseException, /) -> None:
        sock: Socket = self.data
        _audit_failure(sock, error)
        sock.close()
        self.receiver.set_error(error)

    def set_stopped(self) -> None:
        self.data.close()
        self.receiver.set_stopped()


# ``data`` is ``(reactor, sock, context, server_side, server_hostname)``.
_CoreSender = ReactorSender.variant(_NAME, reactor_operation=_HandshakeOp)


@final
class _HandshakeSender(BasicSender):
    """``data`` is ``(inner sender, sock, server_side, timeout)``."""

    __slots__ = ()
    name: ClassVar[str] = _NAME

    def connect(self, receiver: Receiver[Any], /) -> OperationState:
        inner: Sender[SecureSocket] = self.data[0]
        return inner.connect(_Outcome(receiver, self.data[1]))

    def __repr__(self) -> str:
        _, sock, server_side, seconds = self.data
        return f"{_NAME}({sock!r}, server_side={server_side}, timeout={seconds:g})"


def _check_timeout(value: object) -> float:
    seconds = check_delay(_NAME, value, "timeout")
    if seconds == 0.0:
        raise ValueError(f"{_NAME}: the timeout must be > 0 seconds (math.inf: none), got 0")
    return seconds


def _fail_argument(message: str, error: type[Exception] = ValueError) -> NoReturn:
    raise error(f"{_NAME}: {message}")


def async_tls_handshake(
    scheduler: IoScheduler,
    sock: Socket,
    context: ssl.SSLContext,
    /,
    *,
    server_side: bool,
    server_hostname: str | None = None,
    timeout: float = 10.0,
) -> Sender[SecureSocket]:
    """Run a TLS handshake on ``sock``: ``Sender[SecureSocket]``.

    ``context`` is an ``ssl.SSLContext`` for the side given by ``server_side`` (certificate
    and key loaded for a server; trust, and ALPN protocols if wanted, for either side). A client
    names the server with ``server_hostname``: it is sent as SNI and checked against the
    certificate when the context has ``check_hostname`` (then it is required). Bytes already
    read from ``sock`` (``async_read_until`` sniffing the protocol) count as the peer's first
    flight.

    On success ``sock`` is detached (it reads as closed) and the ``SecureSocket`` owns the fd.
    On failure the fd is closed and the error delivered: ``TlsError`` when the peer speaks no
    TLS, sends a bad certificate or closes the connection mid-handshake (its ``__cause__`` is
    the ``ssl.SSLError``), ``TimeoutError`` when it has not finished after ``timeout`` seconds
    (``math.inf``: no limit), ``NetError`` for socket errors; each is written to the audit log
    (``audit_tls_failure``). A stop request closes the fd too and completes with
    ``set_stopped``.

    ``TypeError``/``ValueError`` when built: no I/O scheduler, ``sock`` not a plain
    ``dsexec.net.Socket``, ``context`` not an ``ssl.SSLContext`` or made for the other side,
    ``server_hostname`` on the server side or missing where the context checks it, a timeout
    that is not a number > 0.
    """
    reactor = reactor_of(scheduler, _NAME)
    if not isinstance(sock, Socket):
        _fail_argument(f"expected a dsexec.net.Socket, got {type(sock).__name__}", TypeError)
    if isinstance(sock, SecureSocket):
        _fail_argument(f"{sock!r} speaks TLS already (TLS in TLS is not supported)", TypeError)
    if not isinstance(context, ssl.SSLContext):
        _fail_argument(f"expected an ssl.SSLContext, got {type(context).__name__}", TypeError)
    if not isinstance(server_side, bool):
        _fail_argument(f"server_side must be a bool, got {server_side!r:.60}", TypeError)
    if server_side and context.protocol == ssl.PROTOCOL_TLS_CLIENT:
        _fail_argument("server_side=True with a PROTOCOL_TLS_CLIENT context")
    if not server_side and context.protocol == ssl.PROTOCOL_TLS_SERVER:
        _fail_argument("server_side=False with a PROTOCOL_TLS_SERVER context")
    if server_hostname is not None:
        if not isinstance(server_hostname, str):
            _fail_argument(
                f"server_hostname must be a str, got {type(server_hostname).__name__}", TypeError
            )
        if server_side:
            _fail_argument("server_hostname is for the client side (server_side=False)")
        if not server_hostname or server_hostname.startswith("."):
            _fail_argument(f"server_hostname {server_hostname!r} is not a host name")
    elif not server_side and context.check_hostname:
        _fail_argument("the context checks the host name (check_hostname): pass server_hostname")
    seconds = _check_timeout(timeout)
    core: Sender[SecureSocket] = _CoreSender(
        None, (reactor, sock, context, server_side, server_hostname)
    )
    inner = core if seconds == math.inf else timeout_after(core, seconds, scheduler=scheduler)
    return _HandshakeSender(None, (inner, sock, server_side, seconds))
