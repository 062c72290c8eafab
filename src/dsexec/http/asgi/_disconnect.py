"""``DisconnectWatch``: noticing that the client has gone while an ASGI app waits in
``receive()`` for ``http.disconnect``.

Theory of operation
-------------------
Once a request's body is read, nothing reads its connection until the response is written and
the server's next ``read_request`` begins. A client that closes meanwhile goes unnoticed until
a write fails -- and an app that waits in ``receive()`` for ``http.disconnect`` (a long poll, a
stream of server-sent events between two events) writes nothing. Reading on every request just
in case would cost every request a readiness registration and its removal; so the read starts
lazily, when ``receive()`` first has nothing left to give and must wait (the body is over, the
response is not complete). It goes on while the exchange does, also when that ``receive()`` is
cancelled (a ``receive()`` cancelled at once is how some apps poll for the disconnect,
Starlette's ``Request.is_disconnected``: the next poll must know), until one of:

* ``b""`` (end of input) or an error (a reset; ``ClosedResourceError`` when the server's
  deadline sweep or a drain closes the socket): the exchange's ``client_gone`` -- the waiting
  ``receive()``, or the next, says ``http.disconnect``. A half-closed connection counts as
  gone, as under uvicorn: an HTTP/1.1 client stops sending only when it is done.
* more than ``_MAX_BUFFERED`` bytes of pipelined requests. Bytes that arrive are fed to the
  connection's parser, which keeps them unparsed until the response is written and the next
  ``read_request`` asks (so nothing is lost), and the read goes on; past that amount the
  client is evidently there, and reading on would buffer without bound (uvicorn pauses
  reading at its high-water mark too): the watch stays stopped for the rest of the exchange.
* ``BusyResourceError``: something else reads the socket (another task of the app reading the
  body) and will meet the end of input itself. A later wait in ``receive()`` tries again.
* the exchange stops it: *before* handing over the last of its response (a socket takes one
  pending read, and the server's next ``read_request`` may begin inside the very call that
  hands it over, when the write goes out at once), when the app ends without completing its
  response, and when the connection is lost (a stop). ``stop`` requests stop of the read: on
  the loop thread, where the exchange runs, that withdraws the wait at once (the read
  completes with ``set_stopped``, which is ignored); no task or callback is left behind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

from ..._core import BusyResourceError, Env, OperationState, StopSource
from ...net import async_read

if TYPE_CHECKING:
    from ._exchange import Exchange

__all__ = ["DisconnectWatch"]

_READ_SIZE: Final = 65536
# Pipelined bytes a watch takes in, at most (plus one read): then it stops reading.
_MAX_BUFFERED: Final = 65536


@final
class DisconnectWatch:
    """The read that watches one exchange's connection for the client's end (see the module
    docstring): ``start()`` when ``receive()`` must wait, ``stop()`` before the response ends
    and when the exchange does. Both are idempotent; loop thread only. It is its read's
    receiver: it completes nothing itself, and tells the exchange (``client_gone``)."""

    __slots__ = ("_buffered", "_env", "_exchange", "_op", "_source", "reading")

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange
        self._buffered = 0
        self._op: OperationState | None = None
        self._source: StopSource | None = None
        self._env: Env | None = None
        self.reading = False
        """Whether the read is pending (or about to be restarted)."""

    def start(self) -> None:
        """Start reading, unless a read is pending already or the watch has given up. A
        connection that cannot be read (no scheduler: not from ``read_request``) is not
        watched."""
        if self.reading or self._buffered >= _MAX_BUFFERED:
            return
        conn = self._exchange.request.connection
        scheduler = conn.scheduler
        if scheduler is None:
            return
        # A fresh stop source per start: a stopped one stays stopped.
        source = self._source = StopSource()
        self._env = Env(source.token, scheduler)
        op = self._op = async_read(scheduler, conn.sock, _READ_SIZE).connect(self)
        self.reading = True
        op.start()

    def stop(self) -> None:
        """Withdraw the pending read (if any): on the loop thread, at once."""
        if self.reading:
            self.reading = False
            source = self._source
            assert source is not None
            source.request_stop()

    # -- the read's receiver ----------------------------------------------------------------

    def set_value(self, data: bytes, /) -> None:
        if not self.reading:
            return
        parser = self._exchange.request.connection.parser
        if not data:
            self.reading = False
            parser.feed(b"")  # the connection's next read sees the end too
            self._exchange.client_gone(None)
            return
        parser.feed(data)  # a pipelined request: kept for the next read_request
        self._buffered += len(data)
        if self._buffered >= _MAX_BUFFERED:
            self.reading = False
            return
        op = self._op
        assert op is not None
        op.start()  # a completed reactor operation may be started again

    def set_error(self, error: BaseException, /) -> None:
        if not self.reading:
            return
        self.reading = False
        if isinstance(error, BusyResourceError):
            return  # another read is pending: it sees the end itself
        self._exchange.client_gone(error)

    def set_stopped(self) -> None:
        self.reading = False

    def get_env(self) -> Env:
        env = self._env
        assert env is not None
        return env
