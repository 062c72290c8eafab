"""Closing an fd that reactors may be watching: ``notify_closing`` on every reactor first,
*then* ``close()``.

The order matters. ``notify_closing(fd)`` wakes the operations waiting on ``fd`` with
``ClosedResourceError`` and makes the reactor forget the fd; only then may the number be freed,
because the next ``socket()`` or ``accept()`` can get the same number back and must not inherit
a stale registration. ``notify_closing`` is a loop-thread call: a reactor whose loop runs on
another thread gets it posted, and the fd is closed by whichever posted callback runs last.
Until then the fd stays open (so its number cannot be reused early). An ``IoContext`` that no
thread runs is told at once instead (``Reactor.call_if_idle``), so its fds close at once too.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Sequence
from typing import Protocol, final

from ..schedulers._reactor import Reactor, on_loop

__all__ = ["close_watched"]


class _Closable(Protocol):
    def close(self) -> None: ...


def _notify(reactor: Reactor, fds: Sequence[int]) -> None:
    for fd in fds:
        # A loop that has ended (trio outside its run) raises: nobody waits there any more.
        with contextlib.suppress(Exception):
            reactor.notify_closing(fd)


@final
class _DeferredClose:
    __slots__ = ("_closables", "_fds", "_lock", "_remaining")

    def __init__(self, fds: Sequence[int], closables: Sequence[_Closable], remaining: int) -> None:
        self._fds = fds
        self._closables = closables
        self._remaining = remaining
        self._lock = threading.Lock()

    def notify(self, reactor: Reactor) -> None:
        try:
            _notify(reactor, self._fds)
        finally:
            self.done()

    def done(self) -> None:
        with self._lock:
            self._remaining -= 1
            last = self._remaining == 0
        if last:
            for closable in self._closables:
                with contextlib.suppress(OSError):
                    closable.close()


def close_watched(
    fds: Sequence[int], closables: Sequence[_Closable], reactors: Sequence[Reactor]
) -> None:
    """Call ``notify_closing(fd)`` for ``fds`` on each of ``reactors`` (posting to those whose
    loop runs elsewhere), then close ``closables`` once all reactors were told."""
    foreign: list[Reactor] = []
    for reactor in reactors:
        if on_loop(reactor):
            _notify(reactor, fds)
            continue
        # An idle IoContext is told now rather than posted to: nothing may run it again soon
        # (the fd would stay open meanwhile), and closing it would drop the posted notice.
        if not reactor.call_if_idle(functools.partial(_notify, reactor, fds)):
            foreign.append(reactor)
    if not foreign:
        for closable in closables:
            with contextlib.suppress(OSError):
                closable.close()
        return
    deferred = _DeferredClose(fds, closables, len(foreign))
    for reactor in foreign:
        try:
            reactor.post(functools.partial(deferred.notify, reactor))
        except Exception:  # the loop is gone (closed): nobody waits there any more
            deferred.done()
