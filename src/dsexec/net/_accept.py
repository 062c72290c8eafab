"""``async_accept(sch, acceptor)``: take one connection from an acceptor, as a sender.

Theory of operation
-------------------
* ``accept()`` first: on a busy server the backlog usually holds a connection, so the common
  case is one system call and an inline completion. Only on ``EAGAIN`` does the operation wait
  for readability -- on *every* listening socket of the acceptor (one, or an IPv6 + IPv4 pair),
  accepting from whichever becomes ready. The operation is its own ``FdWaiter`` on all of them;
  ``_armed`` tells a real wake-up from a stale one queued for the second fd in the same turn.
* Per-connection errors (``ECONNABORTED``, ``EPROTO``, ``EPERM`` from a firewall, and the
  network errors Linux's accept(2) says to treat like ``EAGAIN``) concern a client that is
  already gone: retried at once, silently. Each consumed a queued connection, so the retry loop
  ends.
* Capacity errors (``EMFILE``, ``ENFILE``, ``ENOBUFS``, ``ENOMEM``) leave the connection queued,
  so the listening socket stays readable: waiting for readability again would spin at 100% CPU.
  Instead the operation logs once (until an accept succeeds again) to the ``dsexec.net`` logger
  and retries after ``ACCEPT_BACKOFF`` seconds on the reactor's clock (trio's
  ``serve_listeners``). Virtual time makes that back-off instant in tests.
* A delivered socket is non-blocking with ``TCP_NODELAY`` and knows its peer address (from
  ``accept``, so ``get_remote_address()`` costs no system call).

Errors: ``ClosedResourceError`` if the acceptor is (or gets) closed; ``BusyResourceError`` if
another ``async_accept`` is already waiting on it (run one accept at a time per acceptor, as
``repeat()`` does); ``NetError`` for other accept failures. On stop: waits and back-off timer
are withdrawn and ``set_stopped`` sent at once; no connection is taken from the backlog.
"""

from __future__ import annotations

import errno
import logging
import os
from typing import Final, final

from .._core import ClosedResourceError, NetError, Receiver, Sender
from ..schedulers._reactor import (
    IoScheduler,
    Reactor,
    ReactorOperation,
    ReactorSender,
    TimerHandle,
    reactor_of,
    run_on_loop,
)
from ._acceptor import Acceptor
from ._socket import Socket, wrap_socket

__all__ = ["ACCEPT_BACKOFF", "async_accept"]

_logger = logging.getLogger("dsexec.net")

ACCEPT_BACKOFF: Final = 0.1
"""Seconds to wait before retrying an accept that failed for lack of fds or memory."""


def _errnos(*names: str) -> frozenset[int]:
    return frozenset(getattr(errno, name) for name in names if hasattr(errno, name))


PER_CONNECTION_ERRNOS: Final = _errnos(
    "ECONNABORTED",
    "EPROTO",
    "EPERM",
    "ENETDOWN",
    "ENOPROTOOPT",
    "EHOSTDOWN",
    "ENONET",
    "EHOSTUNREACH",
    "EOPNOTSUPP",
    "ENETUNREACH",
    "ETIMEDOUT",
)
"""accept errors that concern one (already gone) client: retried at once, silently."""

CAPACITY_ERRNOS: Final = _errnos("EMFILE", "ENFILE", "ENOBUFS", "ENOMEM")
"""accept errors meaning "out of fds or memory": retried after ``ACCEPT_BACKOFF``."""

_CLOSED_MESSAGE: Final = "async_accept: the acceptor is closed"


@final
class _AcceptOp(ReactorOperation[Socket]):
    __slots__ = ("_acceptor", "_armed", "_timer")

    def __init__(self, reactor: Reactor, receiver: Receiver[Socket], acceptor: Acceptor) -> None:
        super().__init__(reactor, receiver)
        self._acceptor = acceptor
        self._armed: tuple[int, ...] = ()
        self._timer: TimerHandle | None = None

    def _begin(self) -> None:
        acceptor = self._acceptor
        if acceptor.closed:
            self._fail(ClosedResourceError(_CLOSED_MESSAGE))
            return
        acceptor.note_reactor(self._reactor)
        self._attempt()

    def _attempt(self) -> None:
        acceptor = self._acceptor
        for listener in acceptor.sockets:
            while True:
                try:
                    conn, address = listener.accept()
                except BlockingIOError:
                    break
                except OSError as exc:
                    code = exc.errno
                    if code in PER_CONNECTION_ERRNOS:
                        continue
                    if code in CAPACITY_ERRNOS:
                        self._back_off(exc)
                        return
                    if acceptor.closed or code == errno.EBADF:
                        self._fail(ClosedResourceError(_CLOSED_MESSAGE))
                        return
                    error = NetError(code, f"accept on {acceptor!r} failed: {exc.strerror}")
                    error.__cause__ = exc
                    self._fail(error)
                    return
                try:
                    sock = wrap_socket(conn, address)
                except OSError:  # the client reset before we could set it up: take the next
                    conn.close()
                    continue
                acceptor.backoff_logged = False
                self._succeed(sock)
                return
        self._arm()

    def _arm(self) -> None:
        acceptor = self._acceptor
        fds = acceptor.fds
        if not fds:  # closed, or between the sockets of enable_dual_stack
            self._fail(ClosedResourceError(_CLOSED_MESSAGE))
            return
        reactor = self._reactor
        try:
            for fd in fds:
                reactor.add_reader(fd, self)
        except Exception as exc:  # BusyResourceError: another accept waits already
            for fd in fds:
                reactor.remove_reader(fd, self)
            self._fail(exc)
            return
        self._armed = fds
        acceptor.waiters.add(self)

    def _disarm(self) -> None:
        armed = self._armed
        if armed:
            self._armed = ()
            reactor = self._reactor
            for fd in armed:
                reactor.remove_reader(fd, self)

    def fd_ready(self) -> None:
        if not self._armed:  # a second fd's wake-up from the same turn; already handled
            return
        self._disarm()
        self._acceptor.waiters.discard(self)
        self._attempt()

    def fd_closed(self, error: ClosedResourceError, /) -> None:
        self._cancel()
        self._fail(error)

    def _back_off(self, exc: OSError) -> None:
        acceptor = self._acceptor
        if not acceptor.backoff_logged:
            acceptor.backoff_logged = True
            _logger.warning(
                "accept on %r failed with %s (%s); retrying every %.1f s until it succeeds "
                "(not logged again until then)",
                acceptor,
                errno.errorcode.get(exc.errno or 0, exc.errno),
                exc.strerror or os.strerror(exc.errno or 0),
                ACCEPT_BACKOFF,
            )
        reactor = self._reactor
        self._timer = reactor.call_at(reactor.time() + ACCEPT_BACKOFF, self._retry)
        acceptor.waiters.add(self)

    def _retry(self) -> None:
        self._timer = None
        if self._done:
            return
        self._acceptor.waiters.discard(self)
        if self._acceptor.closed:
            self._fail(ClosedResourceError(_CLOSED_MESSAGE))
            return
        self._attempt()

    def _cancel(self) -> None:
        self._disarm()
        timer = self._timer
        if timer is not None:
            self._timer = None
            timer.cancel()
        self._acceptor.waiters.discard(self)

    # -- AcceptWaiter: called by the Acceptor --------------------------------------------------

    def acceptor_closed(self) -> None:
        """The acceptor was closed (any thread): fail with ``ClosedResourceError``."""
        run_on_loop(self._reactor, self._closed_on_loop)

    def _closed_on_loop(self) -> None:
        if self._done:
            return
        self._cancel()
        self._fail(ClosedResourceError(_CLOSED_MESSAGE))

    def detach(self) -> None:
        """The listening sockets are being replaced: withdraw the fd waits."""
        self._disarm()  # a backing-off operation keeps its timer: the retry finds new sockets

    def reattach(self) -> None:
        """The new listening sockets are in place: try again on them."""
        if self._timer is None and not self._done:
            self._acceptor.waiters.discard(self)
            self._reactor.post(self._resume)

    def _resume(self) -> None:
        if not self._done:
            self._attempt()


# ``data`` is ``(reactor, acceptor)``.
_AcceptSender = ReactorSender.variant(
    "async_accept", reactor_operation=_AcceptOp, describe=lambda data: repr(data[1])
)


def async_accept(scheduler: IoScheduler, acceptor: Acceptor, /) -> Sender[Socket]:
    """Accept one connection: ``Sender[Socket]``, the socket non-blocking with
    ``TCP_NODELAY`` on and its peer address known.

    Retries per-connection errors silently and backs off on ``EMFILE``/``ENFILE``/
    ``ENOBUFS``/``ENOMEM`` without spinning (see the module comment). A server loop is
    ``async_accept(sch, acc) | then(spawn) | upon_error(log) | repeat()``, where ``log``
    re-raises ``ClosedResourceError`` so the loop ends when the acceptor closes.

    ``TypeError`` when built if ``scheduler`` has no I/O reactor or ``acceptor`` is not an
    :class:`Acceptor`.
    """
    reactor = reactor_of(scheduler, "async_accept")
    if not isinstance(acceptor, Acceptor):
        raise TypeError(
            f"async_accept: expected a dsexec.net.Acceptor, got {type(acceptor).__name__}"
        )
    return _AcceptSender(None, (reactor, acceptor))
