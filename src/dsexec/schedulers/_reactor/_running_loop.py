"""``running_loop``: which reactor's loop the current thread is running, if it says so.

A module of its own because it is a ``threading.local`` subclass, which mypyc cannot compile:
it stays Python in the compiled build too (see ``setup.py``), and the compiled helpers of
``_interface`` read it like any Python object.
"""

from __future__ import annotations

import threading
from typing import Final

__all__ = ["running_loop"]


class _RunningLoop(threading.local):
    """Per thread: the reactor whose loop this thread is running right now, if it says so."""

    reactor: object = None


running_loop: Final = _RunningLoop()
"""``running_loop.reactor is r`` is a cheap, sufficient test for ``r.in_loop_thread()``.

A reactor may publish itself here while its loop runs (``IoContext`` does, and restores the
previous value when its ``run`` returns, so nested loops on one thread work). The test is only a
shortcut: when it fails, ask ``r.in_loop_thread()``, which stays the authority (a reactor that
publishes nothing, or one nobody runs, whose home thread counts as its loop thread).
"""
