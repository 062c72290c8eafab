"""``static_files(root)``: a :data:`~dsexec.http.Handler` serving a directory, on the sans-IO
planner of ``_static_files.py``.

Per request: :func:`~dsexec.http._static_files.plan_static_response` decides the answer (400,
403, 404, 301, 304, 405, 412, 416, or a file's bytes with 200 or 206); this module carries the
plan out. An answer without a file is a ``bytes`` body. A file is opened, checked, and sent:

* files up to :data:`SMALL_FILE_BYTES` are read into memory at once (``pread``) and closed, so
  the head and the body go out in one write;
* larger ones go out as a :class:`~dsexec.http.FileBody` holding the open descriptor, through
  ``sendfile`` (zero-copy). ``write_response`` does not close a descriptor it was given, and
  the response's objects may live on in reference cycles until the garbage collector runs, so
  the handler closes it itself: it remembers the descriptor with the request, and closes it
  once that request's connection has moved on (its response is written: the connection has a
  new request or none) or is closed. It looks at every call, and on :meth:`StaticFiles.release`
  (a server calls that now and then, so a descriptor does not wait for the next request).

The per-request work -- the plan cache, opening and checking files, closing them -- is
``_static_cache.py``'s :class:`StaticCache` (compiled in the compiled build); this module is
the public face, which checks its arguments.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import final

from .._core import Sender
from ._request import Request
from ._response import Response
from ._static_cache import CACHED_BODY_BYTES, PLAN_CACHE_SIZE, SMALL_FILE_BYTES, StaticCache

__all__ = [
    "CACHED_BODY_BYTES",
    "PLAN_CACHE_SIZE",
    "SMALL_FILE_BYTES",
    "StaticFiles",
    "static_files",
]


@final
class StaticFiles:
    """The handler :func:`static_files` returns: ``handler(request)`` is the sender of the
    response; ``respond(method, target, headers)`` the response itself (no I/O but the file
    system's)."""

    __slots__ = ("_files",)

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        cache_control: bytes | None = b"no-cache",
        cache_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        given: object = root
        if not isinstance(given, str | os.PathLike):
            raise TypeError(f"static_files: root must be a path, got {root!r:.60}")
        path = Path(root)
        if not path.is_dir():
            raise ValueError(f"static_files: root {str(path)!r} is not a directory")
        control: object = cache_control
        if control is not None and not isinstance(control, bytes):
            raise TypeError(f"static_files: cache_control must be bytes or None: {control!r:.50}")
        seconds: object = cache_seconds
        if not isinstance(seconds, int | float) or isinstance(seconds, bool):
            raise TypeError(f"static_files: cache_seconds must be a number, got {seconds!r:.60}")
        if not 0 <= seconds <= 3600:  # also refuses NaN
            raise ValueError(f"static_files: cache_seconds must be in 0..3600, got {seconds!r}")
        if not callable(clock):
            raise TypeError(f"static_files: clock must be callable, got {clock!r:.60}")
        self._files = StaticCache(path, cache_control, float(cache_seconds), clock)

    @property
    def root(self) -> Path:
        """The directory served."""
        return self._files.root

    @property
    def cache_control(self) -> bytes | None:
        """The ``Cache-Control`` of file answers (``None``: none)."""
        return self._files.cache_control

    @property
    def cache_seconds(self) -> float:
        """How long a file plan is reused (0: never)."""
        return self._files.cache_seconds

    def __call__(self, request: Request, /) -> Sender[Response]:
        return self._files.answer(request)

    @property
    def open_files(self) -> int:
        """How many files of responses being sent (through ``sendfile``) are open."""
        return self._files.open_files()

    def release(self) -> None:
        """Close the files of responses that are written (or whose connection is closed)."""
        self._files.release()

    def respond(
        self, method: bytes, target: bytes, headers: Iterable[tuple[bytes, bytes]]
    ) -> Response:
        """The response to a request for ``target`` (see ``_static_cache.py``)."""
        return self._files.respond(method, target, headers)

    def __repr__(self) -> str:
        return f"static_files({str(self.root)!r})"


def static_files(
    root: str | os.PathLike[str],
    *,
    cache_control: bytes | None = b"no-cache",
    cache_seconds: float = 1.0,
) -> StaticFiles:
    """A handler serving the files below ``root``: ``HttpServer(sch, static_files("www"))``.

    ``GET`` and ``HEAD`` only (405 otherwise); no path traversal (encoded, doubly encoded,
    backslash, NUL: 400) and no symlink escaping the root (403); hidden names (``.git``) 404;
    a directory serves its ``index.html`` (no listings) and one asked for without its slash
    gets a 301; ``Content-Type`` from the suffix; ``ETag`` and ``Last-Modified`` with ``304``
    and ``412``; one ``Range`` with ``206`` or ``416``; files over 64 KiB through ``sendfile``.
    Every opened file is checked to be the one planned (see ``_static_cache.py``).
    ``cache_control`` is the ``Cache-Control`` of file answers (``None``: none);
    ``cache_seconds`` how long a file's plan is reused (0: plan every request).

    ``TypeError`` for a root that is no path, ``ValueError`` if it is not a directory.
    """
    return StaticFiles(root, cache_control=cache_control, cache_seconds=cache_seconds)
