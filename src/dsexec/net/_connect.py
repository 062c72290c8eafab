"""``async_connect(sch, host, port)``: a TCP connection with Happy Eyeballs (RFC 8305).

Theory of operation
-------------------
1. *Resolve* ``host`` off the loop thread (``_resolve.py``; an IP literal is answered inline).
   A stop while resolving completes with ``set_stopped`` at once and drops the late answer.
2. *Order* the addresses: interleave the families, starting with the family of the first
   address the resolver returned (RFC 8305 section 4, "First Address Family Count" of 1):
   ``[v6a, v6b, v4a]`` becomes ``[v6a, v4a, v6b]``.
3. *Race*: start a non-blocking connect to the first address. Start the next one when
   ``happy_eyeballs_delay`` (250 ms, RFC 8305's recommended "Connection Attempt Delay") has
   passed on the reactor's clock, or at once when the previous attempt fails -- whichever comes
   first. Every attempt is a separate socket with its own writability wait (an ``_Attempt``
   waiter); their number grows by one per delay.
4. *Exactly one winner*: the first attempt whose socket becomes writable with ``SO_ERROR == 0``
   wins. Every other attempt -- in flight or not yet started -- is withdrawn and its socket
   closed before the winner is delivered (non-blocking, ``TCP_NODELAY`` on, peer known).
5. If every address failed: ``NetError`` naming each address with its error; its ``errno`` is
   the common errno if all agree (``ECONNREFUSED``), else the first attempt's; its
   ``__cause__`` is an ``ExceptionGroup`` of the individual errors.

A stop at any point withdraws the waits and the delay timer, closes every attempt's socket and
completes with ``set_stopped`` at once. With ``happy_eyeballs_delay=None`` the attempts run one
after another (the next only after the previous failed).
"""

from __future__ import annotations

import errno
import functools
import math
import os
import socket
from collections import deque
from typing import Any, Final, final

from .._core import ClosedResourceError, NetError, Receiver, Sender
from ..schedulers._reactor import IoScheduler, Reactor, ReactorSender, TimerHandle, reactor_of
from ._checks import check_int
from ._endpoint import IPAddress, endpoint_of_sockaddr
from ._factory import get_socket_factory
from ._resolve import Resolved, ResolvingOp
from ._socket import Socket, wrap_socket

__all__ = ["DEFAULT_HAPPY_EYEBALLS_DELAY", "async_connect", "interleave_families"]

DEFAULT_HAPPY_EYEBALLS_DELAY: Final = 0.25
"""RFC 8305's recommended Connection Attempt Delay, in seconds."""

_IN_PROGRESS: Final = frozenset(
    {errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN, errno.EALREADY, errno.EINTR}
)


def interleave_families(addresses: Resolved) -> deque[tuple[socket.AddressFamily, Any]]:
    """RFC 8305 ordering: alternate families, starting with the first address's family."""
    if not addresses:
        return deque()
    first = addresses[0][0]
    primary = [item for item in addresses if item[0] == first]
    secondary = [item for item in addresses if item[0] != first]
    ordered: deque[tuple[socket.AddressFamily, Any]] = deque()
    for index in range(max(len(primary), len(secondary))):
        if index < len(primary):
            ordered.append(primary[index])
        if index < len(secondary):
            ordered.append(secondary[index])
    return ordered


@final
class _Attempt:
    """One connection attempt: the socket and its writability wait."""

    __slots__ = ("fd", "op", "sock", "sockaddr")

    def __init__(self, op: _ConnectOp, sock: socket.socket, sockaddr: Any) -> None:
        self.op = op
        self.sock = sock
        self.sockaddr = sockaddr
        self.fd = sock.fileno()

    def fd_ready(self) -> None:
        self.op.attempt_ready(self)

    def fd_closed(self, error: ClosedResourceError, /) -> None:
        self.op.attempt_failed(self, error)

    def abandon(self, reactor: Reactor) -> None:
        reactor.remove_writer(self.fd, self)
        reactor.notify_closing(self.fd)
        self.sock.close()


@final
class _ConnectOp(ResolvingOp[Socket]):
    __slots__ = ("_attempts", "_delay", "_delays_armed", "_errors", "_queue", "_timer")

    def __init__(
        self, reactor: Reactor, receiver: Receiver[Socket], host: str, port: int, delay: float
    ) -> None:
        super().__init__(reactor, receiver, host, port)
        self._delay = delay
        self._queue: deque[tuple[socket.AddressFamily, Any]] = deque()
        self._attempts: list[_Attempt] = []
        self._errors: list[tuple[Any, OSError]] = []
        self._timer: TimerHandle | None = None
        # Counts _start_next calls: a delay timer already due (its callback queued, too late to
        # cancel) when a failure started the next attempt carries an old count and is ignored.
        self._delays_armed = 0

    # -- 1. resolve ---------------------------------------------------------------------------

    def _on_addresses(self, addresses: Resolved) -> None:
        if not addresses:
            self._fail(
                NetError(errno.EADDRNOTAVAIL, f"{self._host!r} resolved to no TCP address")
            )
            return
        self._queue = interleave_families(addresses)
        self._start_next()

    # -- 3. race --------------------------------------------------------------------------------

    def _start_next(self) -> None:
        self._delays_armed += 1
        timer = self._timer
        if timer is not None:
            self._timer = None
            timer.cancel()
        queue = self._queue
        factory = get_socket_factory()
        reactor = self._reactor
        while queue:
            family, sockaddr = queue.popleft()
            try:
                sock = factory.socket(family, socket.SOCK_STREAM, 0)
            except OSError as exc:
                self._errors.append((sockaddr, exc))
                continue
            try:
                sock.setblocking(False)
                code = sock.connect_ex(sockaddr)
            except OSError as exc:
                sock.close()
                self._errors.append((sockaddr, exc))
                continue
            if code == 0:
                self._win(sock, sockaddr, waited=False)
                return
            if code not in _IN_PROGRESS:
                sock.close()
                self._errors.append((sockaddr, OSError(code, os.strerror(code))))
                continue
            attempt = _Attempt(self, sock, sockaddr)
            try:
                reactor.add_writer(attempt.fd, attempt)
            except Exception as exc:  # not expected for a fresh fd; never into the loop
                sock.close()
                self._cancel()
                self._fail(exc)
                return
            self._attempts.append(attempt)
            if queue and self._delay != math.inf:
                self._timer = reactor.call_at(
                    reactor.time() + self._delay,
                    functools.partial(self._on_delay, self._delays_armed),
                )
            return
        if not self._attempts:
            self._fail_all()

    def _on_delay(self, armed: int) -> None:
        if armed != self._delays_armed:  # superseded: a failure started the next attempt
            return
        self._timer = None
        if not self._done:
            self._start_next()

    def attempt_ready(self, attempt: _Attempt) -> None:
        """An attempt's socket became writable: it connected, or failed (its receiver tells)."""
        if self._done:
            return
        self._attempts.remove(attempt)
        try:
            code = attempt.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        except OSError as exc:
            code = exc.errno or errno.EIO
        if code == 0:
            self._win(attempt.sock, attempt.sockaddr, waited=True, fd=attempt.fd)
            return
        self._reactor.notify_closing(attempt.fd)
        attempt.sock.close()
        self._errors.append((attempt.sockaddr, OSError(code, os.strerror(code))))
        self._next_after_failure()

    def attempt_failed(self, attempt: _Attempt, error: OSError | ClosedResourceError) -> None:
        """An attempt failed: start the next one at once, or fail if none is left."""
        if self._done or attempt not in self._attempts:
            return
        self._attempts.remove(attempt)
        attempt.sock.close()
        failure = error if isinstance(error, OSError) else OSError(errno.EBADF, str(error))
        self._errors.append((attempt.sockaddr, failure))
        self._next_after_failure()

    def _next_after_failure(self) -> None:
        if self._queue:
            self._start_next()  # at once: a failure ends the wait for the delay
        elif not self._attempts:
            self._fail_all()

    # -- 4. / 5. outcome ------------------------------------------------------------------------

    def _win(self, sock: socket.socket, sockaddr: Any, *, waited: bool, fd: int = -1) -> None:
        self._withdraw()
        try:
            winner = wrap_socket(sock, sockaddr)
        except OSError as exc:  # reset right after connecting
            if waited:
                self._reactor.notify_closing(fd)
            sock.close()
            self._errors.append((sockaddr, exc))
            self._fail_all()
            return
        if waited:
            winner.note_reactor(self._reactor)
        self._succeed(winner)

    def _fail_all(self) -> None:
        errors = self._errors
        self._errors = []
        if not errors:
            self._fail(NetError(errno.EADDRNOTAVAIL, f"no address to connect to {self._host!r}"))
            return
        codes = {exc.errno for _, exc in errors}
        code = codes.pop() if len(codes) == 1 else errors[0][1].errno
        detail = "; ".join(f"{endpoint_of_sockaddr(addr)}: {exc}" for addr, exc in errors)
        count = "the only address" if len(errors) == 1 else f"all {len(errors)} addresses"
        error = NetError(
            code, f"cannot connect to {self._host} port {self._port}: {count} failed: {detail}"
        )
        error.__cause__ = ExceptionGroup(
            f"connection attempts to {self._host} port {self._port}", [exc for _, exc in errors]
        )
        self._fail(error)

    def _withdraw(self) -> None:
        timer = self._timer
        if timer is not None:
            self._timer = None
            timer.cancel()
        self._queue.clear()
        attempts = self._attempts
        self._attempts = []
        reactor = self._reactor
        for attempt in attempts:
            attempt.abandon(reactor)

    def _cancel(self) -> None:
        super()._cancel()  # a pending resolution
        self._withdraw()
        self._errors = []


# ``data`` is ``(reactor, host, port, happy_eyeballs_delay)``.
_ConnectSender = ReactorSender.variant(
    "async_connect", reactor_operation=_ConnectOp, describe=lambda data: f"{data[1]!r}, {data[2]}"
)


def async_connect(
    scheduler: IoScheduler,
    host: str | IPAddress,
    port: int,
    /,
    *,
    happy_eyeballs_delay: float | None = DEFAULT_HAPPY_EYEBALLS_DELAY,
) -> Sender[Socket]:
    """Connect to ``host``:``port`` over TCP: ``Sender[Socket]``.

    ``host`` is a name (resolved off the loop thread) or an IP address. All resolved addresses
    are tried Happy-Eyeballs style (RFC 8305): families interleaved, a new attempt every
    ``happy_eyeballs_delay`` seconds or as soon as the previous one fails (``None``: strictly
    one after another); the first to connect wins and the others are closed. If all fail:
    ``NetError`` listing each address's error. On stop: every attempt is closed and the
    operation completes with ``set_stopped`` at once.

    ``TypeError``/``ValueError`` when built for a scheduler without a reactor or bad
    arguments.
    """
    reactor = reactor_of(scheduler, "async_connect")
    if not isinstance(host, str):
        if not hasattr(host, "version"):
            raise TypeError(f"async_connect: host must be a str, got {type(host).__name__}")
        host = str(host)
    port = check_int("async_connect", "port", port, 1, 65535)
    if happy_eyeballs_delay is None:
        delay = math.inf
    else:
        delay = float(happy_eyeballs_delay)
        if not delay >= 0:
            raise ValueError(
                f"async_connect: happy_eyeballs_delay must be >= 0 or None, got {delay!r}"
            )
    return _ConnectSender(None, (reactor, host, port, delay))
