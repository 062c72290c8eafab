"""The per-request work of :class:`~dsexec.http.StaticFiles`: its plan cache, and opening,
checking and closing the files it sends (``_static_handler.py`` is the public face, which
checks its arguments; this part is compiled in the compiled build).

Theory of operation: opening what was checked
---------------------------------------------
The planner resolves the target below the root (symlinks followed, the result inside the
root) and ``stat``\\ s it; opening happens later, so the file may have been swapped in between
(for a symlink to ``/etc/shadow``, or a FIFO that would block the open). The open therefore
uses ``O_NOFOLLOW`` (the planned path is a real path: its last component is never a symlink,
unless one was put there since), ``O_NONBLOCK`` (a FIFO swapped in does not block) and
``O_CLOEXEC``, and ``fstat`` of the opened descriptor must show a regular file with the
planned ``(st_dev, st_ino)`` and the planned ``ETag`` (size and modification time): exactly the
file that was checked, unchanged. Otherwise the request is planned again from scratch (the file
was replaced or changed: the new plan sees the new state), twice at most, then answered 404.

Plan cache
----------
Planning a file request costs several ``lstat`` calls and some tens of microseconds of
Python; a handler serving the same files over and over keeps the plans of *file* answers (200
and 206, the only ones that open a file) for ``cache_seconds`` (default 1 s; 0: no cache),
keyed by method, target and the header fields the plan depends on. A cached plan is still
verified at every use, so a changed, replaced or removed file is never served from it: a large
file is opened and checked as above; a small one's whole response is kept with the plan (up to
:data:`CACHED_BODY_BYTES` in all) and served again only while ``lstat`` of the planned path
shows the same regular file (device, inode, size, modification time in nanoseconds): the file
the bytes were read from, unchanged. What a cached plan can miss for up to ``cache_seconds``
is a change in what the *path* means while the old file is still there (the root symlink
switched to a new release: the old release's file is served for up to that long). Answers
without a file (404, 304, ...) are never cached. The cache holds at most
:data:`PLAN_CACHE_SIZE` plans; when full it is emptied.
"""

from __future__ import annotations

import _io  # io.FileIO's own module: mypyc 2.4 cannot build a subclass of it by its io name
import os
import stat as stat_module
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final, final

from mypy_extensions import mypyc_attr

from .._core import Sender
from ..senders import just
from ._connection import HttpConnection
from ._request import Request
from ._response import FileBody, Response
from ._static_files import StaticPlan, etag, plan_static_response

__all__ = ["CACHED_BODY_BYTES", "PLAN_CACHE_SIZE", "SMALL_FILE_BYTES", "StaticCache"]

SMALL_FILE_BYTES: Final = 64 * 1024
"""Files up to this size are read and sent with the head in one write; larger ones go out
through ``sendfile``."""
PLAN_CACHE_SIZE: Final = 4096
"""How many file plans a :class:`StaticFiles` handler keeps at most."""
CACHED_BODY_BYTES: Final = 16 * 1024 * 1024
"""How many bytes of small files' responses a :class:`StaticFiles` handler keeps at most."""

_OPEN_FLAGS: Final = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOCTTY", 0)
)
_ATTEMPTS: Final = 3
_PLAN_HEADERS: Final = frozenset(
    {b"if-match", b"if-unmodified-since", b"if-none-match", b"if-modified-since", b"range",
     b"if-range"}
)  # fmt: skip
_NOT_FOUND: Final = b"404 Not Found\n"
_NOT_FOUND_HEADERS: Final = (
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"x-content-type-options", b"nosniff"),
)


@final
@mypyc_attr(native_class=False)  # compiled: an io.FileIO subclass stays a Python class
class _SentFile(_io.FileIO):
    """An open file handed to ``FileBody``: closed when the response holding it is dropped
    (after its write), without the ``ResourceWarning`` a plain ``FileIO`` would give."""

    def __del__(self) -> None:
        self.close()


def _is_planned(status: os.stat_result, plan: StaticPlan) -> bool:
    """Whether ``status`` is the planned file, unchanged (inode, size, modification time)."""
    return (
        stat_module.S_ISREG(status.st_mode)
        and (status.st_dev, status.st_ino) == plan.file_id
        and etag(status).encode("ascii") == plan.header(b"etag")
    )


def _signature(status: os.stat_result) -> tuple[int, int, int, int]:
    """What identifies a file and its version: device, inode, size, mtime in nanoseconds."""
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


def _open_planned(plan: StaticPlan) -> tuple[int, os.stat_result] | None:
    """Open the file of ``plan`` (a 200 or 206 plan) and check it is the one planned: a
    descriptor and its ``fstat``, or ``None`` when the file is gone, is now a symlink, a FIFO
    or another file, or changed size or modification time since. The caller closes the
    descriptor."""
    path = plan.path
    if path is None:
        raise ValueError(f"_open_planned: the plan has no file (status {plan.status})")
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError:  # ELOOP: a symlink now; ENOENT: removed; EACCES: permissions changed
        return None
    try:
        status = os.fstat(fd)
        if _is_planned(status, plan):
            return fd, status
    except OSError:
        pass
    os.close(fd)
    return None


def _message(plan: StaticPlan) -> Response:
    """An answer without a file: its generated body (a ``HEAD`` answer still says its
    length: the server leaves the body out)."""
    return Response(plan.status, plan.headers, plan.body)


@final
class _Cached:
    """A cached plan, and a small file's whole response (``None`` for a large file)."""

    __slots__ = ("expires", "path", "plan", "response", "signature", "size")

    def __init__(
        self,
        expires: float,
        plan: StaticPlan,
        response: Response | None,
        signature: tuple[int, int, int, int],
    ) -> None:
        self.expires = expires
        self.plan = plan
        self.path = os.fspath(plan.path) if plan.path is not None else ""
        self.response = response
        self.signature = signature
        body = response.body if response is not None else b""
        self.size = len(body) if isinstance(body, bytes) else 0

    def unchanged(self) -> bool:
        """Whether the planned path still names the file the response was read from,
        unchanged: ``lstat`` (no symlink there) shows the same regular file, same version."""
        try:
            status = os.lstat(self.path)
        except OSError:
            return False
        return stat_module.S_ISREG(status.st_mode) and _signature(status) == self.signature


@final
class StaticCache:
    """What a :class:`~dsexec.http.StaticFiles` handler does per request, on arguments it has
    checked: ``answer(request)`` is the handler's call."""

    __slots__ = (
        "_cache",
        "_cached_bytes",
        "_clock",
        "_sending",
        "body_budget",
        "cache_control",
        "cache_seconds",
        "root",
    )

    def __init__(
        self,
        root: Path,
        cache_control: bytes | None,
        cache_seconds: float,
        clock: Callable[[], float],
    ) -> None:
        self.root = root
        self.cache_control = cache_control
        self.cache_seconds = cache_seconds
        self.body_budget = CACHED_BODY_BYTES
        self._clock = clock
        self._cache: dict[tuple[bytes, ...], _Cached] = {}
        self._cached_bytes = 0
        self._sending: dict[HttpConnection, tuple[Request, _SentFile]] = {}

    def answer(self, request: Request, /) -> Sender[Response]:
        """The sender of the response to ``request``."""
        if self._sending:
            self.release()
        response = self.respond(request.method, request.target, request.headers)
        body = response.body
        if type(body) is FileBody and type(body.file) is _SentFile:
            self._sending[request.connection] = (request, body.file)
        return just(response)

    def open_files(self) -> int:
        """How many files of responses being sent (through ``sendfile``) are open."""
        return len(self._sending)

    def release(self) -> None:
        """Close the files of responses that are written (or whose connection is closed)."""
        finished = [
            conn
            for conn, (request, _) in self._sending.items()
            if conn.request is not request or conn.sock.closed
        ]
        for conn in finished:
            self._sending.pop(conn)[1].close()

    def respond(
        self, method: bytes, target: bytes, headers: Iterable[tuple[bytes, bytes]]
    ) -> Response:
        """The response to a request for ``target`` (see the module docstring)."""
        parts: list[bytes] | None = None
        for name, value in headers:
            lowered = name.lower()
            if lowered in _PLAN_HEADERS:
                if parts is None:
                    parts = [method, target]
                parts += (lowered, value)
        key = (method, target) if parts is None else tuple(parts)
        now = self._clock()
        cached = self._cache.get(key) if self.cache_seconds else None
        plan = None
        if cached is not None:
            if cached.expires > now:
                if cached.response is None:
                    plan = cached.plan  # a large file's plan: opened and checked below
                elif cached.unchanged():
                    return cached.response
            if plan is None:
                self._forget(key)
        for _ in range(_ATTEMPTS):
            planned = plan is not None and cached is not None and plan is cached.plan
            if plan is None:
                plan = plan_static_response(
                    self.root, method, target, headers,
                    cache_control=self.cache_control, now=time.time(),
                )  # fmt: skip
                if plan.path is None:
                    return _message(plan)
            opened = _open_planned(plan)
            if opened is None:
                self._forget(key)
                plan = None
                continue
            fd, status = opened
            response = self._file_response(plan, fd)
            if self.cache_seconds and not planned:  # a cached plan that still holds stays
                self._remember(key, now + self.cache_seconds, plan, response, _signature(status))
            return response
        return Response(404, _NOT_FOUND_HEADERS, _NOT_FOUND)

    def _remember(
        self,
        key: tuple[bytes, ...],
        expires: float,
        plan: StaticPlan,
        response: Response,
        signature: tuple[int, int, int, int],
    ) -> None:
        cache = self._cache
        if len(cache) >= PLAN_CACHE_SIZE:
            cache.clear()
            self._cached_bytes = 0
        small = type(response.body) is bytes
        if small and self._cached_bytes + plan.count > self.body_budget:
            small = False  # the plan is still worth keeping
        entry = _Cached(expires, plan, response if small else None, signature)
        self._forget(key)
        cache[key] = entry
        self._cached_bytes += entry.size

    def _forget(self, key: tuple[bytes, ...]) -> None:
        entry = self._cache.pop(key, None)
        if entry is not None:
            self._cached_bytes -= entry.size

    def _file_response(self, plan: StaticPlan, fd: int) -> Response:
        count = plan.count
        if count <= SMALL_FILE_BYTES:
            try:
                data = os.pread(fd, count, plan.offset) if count else b""
            finally:
                os.close(fd)
            return Response(plan.status, plan.headers, data)
        file = _SentFile(fd, "rb", closefd=True)
        return Response(plan.status, plan.headers, FileBody(file, plan.offset, count))
