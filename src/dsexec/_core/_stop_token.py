"""In-place stop tokens: P2300's ``inplace_stop_source`` and ``inplace_stop_token``
[stoptoken.inplace].

Theory of operation
-------------------
A :class:`StopSource` owns the stop state; :class:`StopToken` is a cheap view of it that
operations keep in their environment. An operation that can be cancelled registers a callback
with ``token.register(callback)`` when it starts and calls ``handle.unregister()`` before it
completes. The facts every caller relies on:

* ``request_stop()`` flips the state once (later calls return ``False``) and then runs every
  registered callback, one at a time, on the requesting thread, with the lock *released* while a
  callback runs (so a callback may register, unregister or complete an operation inline).
* ``register()`` on a source where stop was already requested runs the callback at once, on the
  registering thread, and returns an inert handle.
* ``unregister()`` guarantees that, once it returns, the callback is not running and will never
  run -- with one exception: a callback that unregisters itself (directly or by completing its
  operation from inside the callback) does not wait for itself. If another thread is running the
  callback at that moment, ``unregister()`` blocks until it returns, so the operation can safely
  free what the callback touches.
* A never-stop token (``StopToken.never()``) has no source: ``stop_possible()`` is false and
  ``register()`` returns a shared inert handle without allocating; algorithms test
  ``stop_possible()`` to skip all of this on the fast path.
* dsexec's own operations skip the handle too (``StopSource.observe(op)`` /
  ``unobserve(op)``, the :class:`StopObserver` protocol): the operation object itself is the
  registry key and its ``on_stop_requested()`` method the callback, so a registration allocates
  nothing (no handle, no bound method). It follows every rule above -- ``observe`` runs the
  method inline when stop was already requested, ``unobserve`` waits for it while another
  thread runs it. An operation must not be observed twice at once (one key, one entry).
  Operations read the source as ``token.source`` (``None`` for the never-stop token) and may
  test ``source.stopped`` directly: it only ever goes from false to true.

Exceptions raised by callbacks are logged to the ``dsexec`` logger and otherwise ignored: a stop
request must reach every operation, and one faulty callback must not starve the others. That
holds for a callback run by ``register()`` too: it never raises out of ``register()`` (and so
never out of an operation's ``start()``). A ``BaseException`` (``KeyboardInterrupt``) from a
callback is re-raised by ``request_stop()``, but only after every other callback ran, so no
``unregister()`` is left waiting and no operation is left unstopped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final, Protocol

from ._resource import ClosingContext

__all__ = ["ChildStopSource", "StopCallback", "StopObserver", "StopSource", "StopToken"]

_logger = logging.getLogger("dsexec")


class StopObserver(Protocol):
    """An object registered with ``StopSource.observe``: its method is the stop callback."""

    def on_stop_requested(self) -> None:
        """Stop was requested (runs on the requesting thread, or inline in ``observe``)."""


class StopCallback(ClosingContext):
    """Handle of one registered stop callback; ``unregister()`` removes it (idempotent).

    Usable as a context manager: the callback is registered for the duration of the block.
    """

    __slots__ = ("_callback", "_source")

    def __init__(self, source: StopSource | None, callback: Callable[[], object]) -> None:
        self._source = source
        self._callback = callback

    def unregister(self) -> None:
        """Remove the callback; once this returns it is not running and never will.

        Blocks only while another thread is running this very callback. Calling it twice, or
        after the callback ran, does nothing.
        """
        source = self._source
        if source is not None:
            self._source = None
            source.unobserve(self)

    def on_stop_requested(self) -> None:
        """Run the callback (the :class:`StopObserver` protocol; called by the source)."""
        self._callback()

    def close(self) -> None:
        """``unregister()``, as the context manager does on exit."""
        self.unregister()

    def __repr__(self) -> str:
        return f"<StopCallback {self._callback!r}>"


def _nothing() -> None:
    pass


_INERT: Final = StopCallback(None, _nothing)


class StopSource:
    """Owner of a stop state: ``request_stop()`` runs every callback registered through its tokens.

    Thread-safe: tokens may be registered and unregistered from any thread, and
    ``request_stop()`` may race with them.
    """

    __slots__ = (
        "_callbacks",
        "_done",
        "_lock",
        "_running",
        "_running_thread",
        "_token",
        "stopped",
    )

    stopped: bool
    """Whether stop was requested (as ``stop_requested()``, read as a plain attribute by the
    operations that check it per round); it only ever goes from false to true."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Insertion-ordered set of live registrations (StopCallback handles and observed
        # operations); request_stop pops them newest first.
        self._callbacks: dict[StopObserver, bool] = {}
        self.stopped = False
        self._running: StopObserver | None = None
        self._running_thread = 0
        self._done: threading.Condition | None = None
        self._token = StopToken(self)

    @property
    def token(self) -> StopToken:
        """The token that observes this source."""
        return self._token

    def get_token(self) -> StopToken:
        """The token that observes this source (P2300 spelling)."""
        return self._token

    def stop_requested(self) -> bool:
        """Whether ``request_stop()`` has been called."""
        return self.stopped

    def stop_possible(self) -> bool:
        """Always true: a source can always be stopped."""
        return True

    def request_stop(self) -> bool:
        """Request stop and run the registered callbacks on this thread.

        Returns ``True`` for the call that made the request, ``False`` if stop had already been
        requested (the callbacks then ran, or are running, on the first caller's thread).
        """
        with self._lock:
            if self.stopped:
                return False
            self._running_thread = threading.get_ident()
            self.stopped = True
        callbacks = self._callbacks
        interrupt: BaseException | None = None
        while True:
            with self._lock:
                self._running = None
                # The condition exists only once another thread waits in unregister().
                if self._done is not None:
                    self._done.notify_all()
                handle = callbacks.popitem()[0] if callbacks else None
                self._running = handle
            if handle is None:
                break
            try:
                handle.on_stop_requested()
            except Exception:
                _logger.exception(
                    "stop callback of %r raised; ignoring it", handle
                )
            except BaseException as exc:  # re-raised below, once every callback has run
                if interrupt is None:
                    interrupt = exc
        if interrupt is not None:
            raise interrupt
        return True

    # register/unregister take no lock on their common paths. They rely on single dict
    # operations being atomic (true under the GIL and, per object, on free-threaded builds)
    # and on request_stop() setting ``stopped`` before it pops any callback: whoever removes
    # an entry from ``_callbacks`` -- request_stop's popitem or our pop -- owns running it.

    def register(self, callback: Callable[[], object]) -> StopCallback:
        """As ``token.register(callback)``: run ``callback`` when stop is requested (now, if it
        already was); returns the handle that unregisters it."""
        if not self.stopped:
            handle = StopCallback(self, callback)
            callbacks = self._callbacks
            callbacks[handle] = True
            if not self.stopped:  # re-read: request_stop() may have run since the first read
                return handle
            if not callbacks.pop(handle, False):  # type: ignore[unreachable]
                return handle  # request_stop() took it and runs it; unregister() will wait
        try:
            callback()
        except Exception:
            _logger.exception("stop callback %r raised; ignoring it", callback)
        return _INERT

    def observe(self, observer: StopObserver) -> None:
        """``register`` without a handle: ``observer.on_stop_requested()`` is the callback.

        As ``register``, it runs the callback inline if stop was already requested. Undo with
        ``unobserve(observer)`` (which then does nothing if the callback ran here).
        """
        if self.stopped:
            self._run_inline(observer)
            return
        self._callbacks[observer] = True
        if self.stopped:  # re-read, as in register: request_stop() may have run meanwhile
            self._observed_late(observer)  # type: ignore[unreachable]

    def _observed_late(self, observer: StopObserver) -> None:
        """``observer`` was put in ``_callbacks``, then ``stopped`` was seen set: whoever
        pops the entry runs the callback."""
        if self._callbacks.pop(observer, False):
            self._run_inline(observer)
        # else request_stop() took it and runs it; _unobserve() will wait for it

    @staticmethod
    def _run_inline(observer: StopObserver) -> None:
        try:
            observer.on_stop_requested()
        except Exception:
            _logger.exception("stop callback of %r raised; ignoring it", observer)

    def unobserve(self, handle: StopObserver) -> None:
        """Withdraw ``handle`` (a ``StopCallback`` or an observed operation), as ``unregister``."""
        if self._callbacks.pop(handle, False):
            return  # still registered: now it never runs
        # request_stop() took it: it ran, runs, or is about to run on the stopping thread.
        # popitem and setting ``_running`` happen under the lock, so this sees them together.
        with self._lock:
            if self._running is handle and self._running_thread != threading.get_ident():
                done = self._done
                if done is None:
                    done = self._done = threading.Condition(self._lock)
                while self._running is handle:
                    done.wait()

    def __repr__(self) -> str:
        state = "stopped" if self.stopped else f"{len(self._callbacks)} callbacks"
        return f"<StopSource {state}>"


class ChildStopSource(StopSource):
    r"""The stop source an algorithm runs its children under (``when_all``, ``when_any``,
    ``stop_when``, ``timeout``): stopped by the algorithm itself, or by its downstream's token
    while :meth:`link`\ ed to it."""

    __slots__ = ("_link",)

    def __init__(self) -> None:
        super().__init__()
        self._link: StopCallback | None = None

    def link(self, outer: StopToken) -> bool:
        """Forward stop requests of ``outer`` here until :meth:`unlink`; ``False`` (and no
        link) if stop was requested already, on either."""
        if outer.stop_possible():
            self._link = outer.register(self.request_stop)  # runs at once if stopped already
        if self.stopped:
            self.unlink()
            return False
        return True

    def unlink(self) -> None:
        """Stop forwarding (before the algorithm completes); idempotent."""
        link = self._link
        if link is not None:
            self._link = None
            link.unregister()


class StopToken:
    """A view of a :class:`StopSource`, or of nothing (``StopToken.never()``).

    Operations read their token from their receiver's environment with ``get_stop_token``.
    """

    __slots__ = ("source",)

    source: StopSource | None
    """The source this token observes (``None`` for ``StopToken.never()``): operations read
    ``token.source.stopped`` and ``observe`` it directly."""

    def __init__(self, source: StopSource | None = None) -> None:
        self.source = source

    @staticmethod
    def never() -> StopToken:
        """The token that is never stopped (P2300's ``never_stop_token``)."""
        return NEVER_STOP_TOKEN

    def stop_requested(self) -> bool:
        """Whether stop has been requested on the source."""
        source = self.source
        return source is not None and source.stopped

    def stop_possible(self) -> bool:
        """Whether a stop request can ever arrive; false for ``StopToken.never()``."""
        return self.source is not None

    def register(self, callback: Callable[[], object]) -> StopCallback:
        """Run ``callback`` when stop is requested; returns the handle that unregisters it.

        If stop was already requested, ``callback`` runs now, before this returns.
        """
        source = self.source
        if source is None:
            return _INERT
        return source.register(callback)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StopToken) and other.source is self.source

    def __hash__(self) -> int:
        return id(self.source)

    def __repr__(self) -> str:
        if self.source is None:
            return "<StopToken never>"
        return f"<StopToken of {self.source!r}>"


NEVER_STOP_TOKEN: Final = StopToken(None)
