"""Static files, sans-IO: from a request target and its headers to a plan the I/O layer carries
out (status, header fields, which bytes of which file to send).

Nothing here reads a file's contents or touches a socket; :func:`resolve_path` and
:func:`plan_static_response` only look the path up (``stat``, ``realpath``). The I/O layer opens
``StaticPlan.path`` and sends ``count`` bytes from ``offset`` (``sendfile``), or writes
``StaticPlan.body``.

Theory of operation: mapping a target to a file
-----------------------------------------------
Path traversal is the classic hole of static file servers (CVE-2021-41773 and CVE-2021-42013 in
Apache, CVE-2021-28861 in Python's ``http.server``, the ``%c0%ae`` family in IIS). The target is
therefore taken apart in a fixed order, each step done exactly once:

1. The query (after ``?``) and a fragment (after ``#``, which clients should not send) are cut
   off; an absolute-form target (``http://host/path``) keeps only its path. Anything else that
   does not start with ``/`` (``*``, ``a/b``) is a 400.
2. Raw control bytes, spaces and backslashes anywhere are a 400.
3. The path is split at its literal ``/`` and each segment is percent-decoded **once**. A
   malformed escape (``%2``, ``%zz``) is a 400. ``%252e`` decodes to the text ``%2e`` and stays
   that: a strange file name, never a dot. An encoded ``/`` (``%2f``) or ``\\`` (``%5c``) inside a
   segment is a **400**, not a second separator: treating it literally would let a segment name
   a file in another directory on some systems, and refusing it is what Apache does by default
   (``AllowEncodedSlashes Off``). An encoded NUL or other control character is a 400 as well.
4. Each segment must be valid UTF-8; Python's strict decoder rejects overlong forms (``%c0%ae``
   for ``.``) and surrogates, which are a 400.
5. Empty segments (``//``) are dropped, so a path always has one leading slash (no
   ``//evil.example`` in a redirect: CVE-2021-28861). ``.`` and ``..`` segments (also after
   NFKC normalisation, which folds ``\\uff0e`` into ``.``) are a 400: well-behaved clients remove
   dot segments before sending (RFC 3986 section 5.2.4), so only probes send them; so is a
   segment that folds to one holding ``/`` or ``\\`` (``\\uff0f``, ``\\uff3c``). Other names
   starting with ``.`` (``.git``, ``.env``, ``.htpasswd``) answer 404, as if absent; only
   ``.well-known`` (RFC 8615) is served.
6. The segments are joined under the root (resolved itself first, on every request, so a root
   that is a symlink switched to a new release is followed) and the result resolved as
   ``os.path.realpath(strict=True)`` does: every symlink followed, a missing component a 404
   (``lstat`` per segment below the root only, see ``_realpath_below``). The final
   path must lie inside the resolved root, or the answer is 403: a symlink from inside the root
   to elsewhere inside it works, one that escapes does not. A directory's ``index.html`` goes
   through the same check.

Only regular files are served (a FIFO, socket or device is a 404: opening a FIFO would block).
A file the server may not read is a 403. A directory asked for without its trailing slash gets
a 301 to the same path with the slash, so relative links inside ``index.html`` work.

The check and the later ``open()`` are not atomic: a file swapped for a symlink in between
escapes the check. ``StaticPlan.file_id`` holds the ``(st_dev, st_ino)`` that was checked; the
I/O layer compares it with ``os.fstat`` of the opened file (and opens with ``O_NOFOLLOW`` where
available) and answers 404 on a mismatch.

Validators, conditional requests and ranges
-------------------------------------------
:func:`etag` is a strong validator from the size and the modification time in nanoseconds
(``"<mtime_ns hex>-<size hex>"``, as nginx does); the inode is left out so that instances behind a
load balancer serving the same files agree. :func:`evaluate_conditional` follows the precedence
of RFC 9110 section 13.2.2 (``If-Match``, ``If-Unmodified-Since``, ``If-None-Match``,
``If-Modified-Since``); :func:`parse_range` reads one ``bytes=`` range (section 14), and an
``If-Range`` (:func:`if_range_matches`) that does not match makes the range be ignored. Several
ranges in one request are ignored too, which RFC 9110 allows: the whole file is sent with 200
instead of a ``multipart/byteranges`` body.

Header fields come in as ``(name, value)`` byte pairs with lower-case names, as the HTTP layer
and ASGI hand them out (names are lower-cased again here, to be safe).
"""

from __future__ import annotations

import calendar
import datetime
import email.utils
import functools
import math
import mimetypes
import os
import re
import stat as stat_module
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from pathlib import Path
from typing import Final, Literal, TypeAlias, final
from urllib.parse import quote

import attrs

from .._core import HttpError

__all__ = [
    "ALLOWED_METHODS",
    "FULL_BODY",
    "UNSATISFIABLE",
    "ByteRange",
    "FullBody",
    "RangeResult",
    "Redirect",
    "ResolvedFile",
    "StaticError",
    "StaticPlan",
    "Unsatisfiable",
    "etag",
    "evaluate_conditional",
    "if_range_matches",
    "last_modified",
    "mime_type",
    "parse_http_date",
    "parse_range",
    "plan_static_response",
    "resolve_path",
]

ALLOWED_METHODS: Final = b"GET, HEAD"
"""The ``Allow`` header of a 405 answer: static files are read with ``GET`` and ``HEAD`` only."""

_WINDOWS: Final = os.name == "nt"
_INDEX: Final = "index.html"
_WELL_KNOWN: Final = ".well-known"
_HEX_DIGITS: Final = frozenset(b"0123456789abcdefABCDEF")
# Control bytes, space and DEL are never valid in a request target (RFC 9112 section 3.2);
# a backslash is refused in the path too (a separator on Windows).
_RAW_FORBIDDEN: Final = re.compile(rb"[\x00-\x20\x7f\\]")
_QUERY_FORBIDDEN: Final = re.compile(rb"[\x00-\x20\x7f]")
_NON_ASCII: Final = re.compile(rb"[\x80-\xff]")
_DECODED_FORBIDDEN: Final = re.compile(rb"[\x00-\x1f\x7f/\\]")
_ABSOLUTE_FORM: Final = re.compile(rb"[hH][tT][tT][pP][sS]?://[^/]*")
# Characters a path segment may hold unescaped (RFC 3986 pchar minus the percent sign).
_PCHAR_SAFE: Final = "!$&'()*+,;=:@-._~"
_TEXT_PLAIN: Final = b"text/plain; charset=utf-8"
_NOSNIFF: Final = (b"x-content-type-options", b"nosniff")


# -- results of resolve_path ----------------------------------------------------------------


def _status(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{attribute.name} must be an int HTTP status, got {value!r}")
    if not 100 <= value <= 999:
        raise ValueError(f"{attribute.name} must be an HTTP status in 100..999, got {value!r}")


@final
@attrs.frozen
class ResolvedFile:
    """A regular, readable file inside the root: its resolved ``path`` and its ``stat`` result."""

    path: Path
    """The file's real path (no symlinks left, inside the resolved root)."""
    stat: os.stat_result = attrs.field(eq=False)
    """``os.stat`` of ``path`` at resolution time (size, mtime, device and inode)."""


@final
@attrs.frozen
class Redirect:
    """A directory asked for without its trailing slash: answer 301 with this ``location``."""

    location: bytes
    """The path with the slash appended (and the query, if any), percent-encoded ASCII."""


@final
@attrs.frozen
class StaticError:
    """The target maps to no servable file: answer ``status`` (400, 403 or 404).

    A value, not an exception (``to_http_error()`` makes it one). ``reason`` says why, for logs;
    do not echo it to the client.
    """

    status: int = attrs.field(validator=_status)
    """400 (malformed target), 403 (outside the root, unreadable) or 404 (missing, hidden)."""
    reason: str
    """What was wrong, for the server's log."""

    def to_http_error(self) -> HttpError:
        """The same failure as a :class:`~dsexec.HttpError`, for an error channel."""
        return HttpError(self.status, self.reason)


def _split_target(raw_target: bytes) -> tuple[bytes, bytes] | StaticError:
    """``(path, query)`` of a request target, raw; a 400 for what is no origin-form path."""
    target = raw_target.partition(b"#")[0]
    path, _, query = target.partition(b"?")
    if not path.startswith(b"/"):
        authority = _ABSOLUTE_FORM.match(path)
        if authority is None:
            return StaticError(400, f"request target {raw_target[:100]!r} is not a path")
        path = path[authority.end() :] or b"/"
    if _RAW_FORBIDDEN.search(path) is not None or _QUERY_FORBIDDEN.search(query) is not None:
        return StaticError(400, "control character, space or backslash in the request target")
    return path, query


def _percent_decode(segment: bytes) -> bytes | None:
    """``segment`` with each ``%XX`` decoded once; ``None`` for a malformed escape."""
    if b"%" not in segment:
        return segment
    first, *rest = segment.split(b"%")
    out = bytearray(first)
    for piece in rest:
        if len(piece) < 2 or piece[0] not in _HEX_DIGITS or piece[1] not in _HEX_DIGITS:
            return None
        out.append(int(piece[:2], 16))
        out += piece[2:]
    return bytes(out)


def _segments(path: bytes) -> list[str] | StaticError:
    """The decoded, checked path segments (see the module docstring, steps 3 to 5)."""
    segments: list[str] = []
    for raw in path.split(b"/"):
        if not raw:
            continue
        decoded = _percent_decode(raw)
        if decoded is None:
            return StaticError(400, f"malformed percent-escape in path segment {raw[:100]!r}")
        if _DECODED_FORBIDDEN.search(decoded) is not None:
            return StaticError(
                400, f"encoded slash, backslash or control character in segment {raw[:100]!r}"
            )
        try:
            text = decoded.decode("utf-8")
        except UnicodeDecodeError:
            return StaticError(400, f"path segment {raw[:100]!r} is not valid UTF-8")
        folded = unicodedata.normalize("NFKC", text)
        if folded in {".", ".."}:
            return StaticError(400, f"dot segment {raw[:100]!r} in the path")
        if "/" in folded or "\\" in folded:  # U+FF0F, U+FF3C: separators after folding
            return StaticError(400, f"segment {raw[:100]!r} folds to a path separator")
        if folded.startswith(".") and text != _WELL_KNOWN:
            return StaticError(404, f"hidden name {text[:100]!r} in the path")
        segments.append(text)
    return segments


def _realpath_below(root: str, segments: Sequence[str]) -> str:
    """``os.path.realpath(os.path.join(root, *segments), strict=True)`` for a ``root`` that is a
    real path already and segments free of ``.``, ``..`` and separators: one ``lstat`` per
    segment instead of one per component of the whole path. The path built so far never holds a
    symlink (``root`` does not; a segment that is one is replaced by its ``realpath``), so the
    result is the same. ``OSError`` as ``realpath(strict=True)``. Windows goes the long way:
    ``lstat`` does not report junctions as links there before Python 3.12."""
    if _WINDOWS:  # pragma: no cover - POSIX CI
        return os.path.realpath(os.path.join(root, *segments), strict=True)
    current = root
    for segment in segments:
        current = os.path.join(current, segment)
        if stat_module.S_ISLNK(os.lstat(current).st_mode):
            current = os.path.realpath(current, strict=True)
    return current


def _resolve_inside(
    root: str, base: str, segments: Sequence[str]
) -> tuple[str, os.stat_result] | StaticError:
    """``base`` (a real path) joined with ``segments``, symlinks resolved, and its stat, if it
    exists inside ``root`` (strings: ``os.path`` is several times cheaper than ``pathlib``)."""
    try:
        resolved = _realpath_below(base, segments)
    except PermissionError:
        return StaticError(403, f"permission denied resolving {segments!r} under {base}")
    except (OSError, RuntimeError) as exc:  # missing, not a directory, a symlink loop, too long
        return StaticError(404, f"{segments!r} under {base}: {type(exc).__name__}")
    prefix = root if root.endswith(os.sep) else root + os.sep
    if resolved != root and not resolved.startswith(prefix):
        return StaticError(403, f"{segments!r} resolves to {resolved}, outside the root {root}")
    try:
        status = os.stat(resolved)
    except PermissionError:
        return StaticError(403, f"permission denied on {resolved}")
    except OSError as exc:
        return StaticError(404, f"{resolved}: {type(exc).__name__}")
    return resolved, status


def _servable(path: str, status: os.stat_result) -> ResolvedFile | StaticError:
    if not stat_module.S_ISREG(status.st_mode):
        return StaticError(404, f"{path} is not a regular file")
    if not os.access(path, os.R_OK):
        return StaticError(403, f"{path} is not readable by the server")
    return ResolvedFile(Path(path), status)


def _encode_query(query: bytes) -> bytes:
    """The query for a ``Location``: bytes past ASCII percent-encoded, the rest as sent."""
    return _NON_ASCII.sub(lambda match: b"%%%02X" % match[0][0], query)


def resolve_path(root: Path, raw_target: bytes) -> ResolvedFile | Redirect | StaticError:
    """The file under ``root`` that the request target ``raw_target`` names, checked.

    Returns a :class:`ResolvedFile` (a readable regular file inside ``root``, symlinks resolved),
    a :class:`Redirect` (a directory without its trailing slash) or a :class:`StaticError` (400
    malformed, 403 outside the root or unreadable, 404 missing or hidden). A directory with its
    slash serves its ``index.html``; without one it is a 404 (no listings). The rules are in
    the module docstring. ``TypeError`` if ``root`` is not a path or ``raw_target`` not bytes.
    """
    given: object = root
    if not isinstance(given, os.PathLike):
        raise TypeError(f"resolve_path: root must be a pathlib.Path, got {root!r}")
    given = raw_target
    if not isinstance(given, bytes):
        raise TypeError(f"resolve_path: raw_target must be bytes, got {raw_target!r}")
    split = _split_target(raw_target)
    if isinstance(split, StaticError):
        return split
    path, query = split
    segments = _segments(path)
    if isinstance(segments, StaticError):
        return segments
    try:
        real_root = os.path.realpath(os.fspath(root), strict=True)
    except (OSError, RuntimeError) as exc:
        return StaticError(404, f"the root {root} cannot be resolved: {type(exc).__name__}")
    found = _resolve_inside(real_root, real_root, segments)
    if isinstance(found, StaticError):
        return found
    resolved, status = found
    wants_directory = path.endswith(b"/")
    if stat_module.S_ISDIR(status.st_mode):
        if not wants_directory:
            location = "".join("/" + quote(segment, safe=_PCHAR_SAFE) for segment in segments)
            encoded = location.encode("ascii") + b"/"
            return Redirect(encoded + b"?" + _encode_query(query) if query else encoded)
        index = _resolve_inside(real_root, resolved, (_INDEX,))
        if isinstance(index, StaticError):
            if index.status == 404:
                return StaticError(404, f"directory {resolved} has no {_INDEX}")
            return index
        return _servable(*index)
    if wants_directory:
        return StaticError(404, f"{resolved} is a file, asked for as a directory")
    return _servable(resolved, status)


# -- content type and validators -----------------------------------------------------------

_TYPES: Final[Mapping[str, str]] = {
    ".html": "text/html",
    ".htm": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".xml": "application/xml",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".csv": "text/csv",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".wasm": "application/wasm",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".pdf": "application/pdf",
    ".zip": "application/zip",
    ".gz": "application/gzip",
    ".tar": "application/x-tar",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".wav": "audio/wav",
}
_DEFAULT_TYPE: Final = "application/octet-stream"


@functools.cache
def _builtin_types() -> Mapping[str, str]:
    """Python's built-in suffix table: a ``MimeTypes()`` instance does not hold the host's
    ``mime.types`` entries (built on first use: building it reads those files once)."""
    return mimetypes.MimeTypes().types_map[1]


def mime_type(path: str | os.PathLike[str]) -> str:
    """The ``Content-Type`` for a file, from its suffix (case-insensitive).

    A fixed table covers the web's common types, so the answer does not depend on the host's
    ``/etc/mime.types`` (``.js`` is ``text/javascript``, RFC 9239); other suffixes come from
    Python's built-in table, and unknown ones are ``application/octet-stream``. ``text/*`` types
    get ``; charset=utf-8``.
    """
    suffix = Path(path).suffix.lower()
    kind = _TYPES.get(suffix)
    if kind is None:
        kind = _builtin_types().get(suffix, _DEFAULT_TYPE)
    if kind.startswith("text/"):
        return f"{kind}; charset=utf-8"
    return kind


def etag(status: os.stat_result) -> str:
    """A strong entity tag for a file, quoted: ``"<mtime_ns hex>-<size hex>"``.

    It changes whenever the file's size or modification time does; the inode is not part of
    it, so servers holding copies of the same files agree.
    """
    return f'"{status.st_mtime_ns:x}-{status.st_size:x}"'


def last_modified(status: os.stat_result) -> str:
    """The ``Last-Modified`` value of a file: its mtime as IMF-fixdate (whole seconds, GMT)."""
    return email.utils.formatdate(status.st_mtime_ns // 1_000_000_000, usegmt=True)


_MONTHS: Final = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
_DAY: Final = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_LONG_DAY: Final = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_MONTH: Final = r"(?P<month>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_TIME: Final = r"(?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d)"
_DATE_FORMATS: Final = (
    # IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
    re.compile(rf"{_DAY}, (?P<day>\d\d) {_MONTH} (?P<year>\d{{4}}) {_TIME} GMT"),
    # obsolete RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
    re.compile(rf"{_LONG_DAY}, (?P<day>\d\d)-{_MONTH}-(?P<year>\d\d) {_TIME} GMT"),
    # obsolete asctime: Sun Nov  6 08:49:37 1994
    re.compile(rf"{_DAY} {_MONTH} (?P<day>[ \d]\d) {_TIME} (?P<year>\d{{4}})"),
)


def parse_http_date(value: bytes | str) -> int | None:
    """An HTTP date (RFC 9110 section 5.6.7) as whole seconds since the epoch, else ``None``.

    Accepts IMF-fixdate and the two obsolete formats (RFC 850, two-digit years 70-99 meaning
    19xx and 00-69 meaning 20xx; asctime). Anything else, or an impossible date (February 30,
    hour 25), is ``None``: RFC 9110 says to ignore an invalid date.
    """
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip(" \t")
    for pattern in _DATE_FORMATS:
        match = pattern.fullmatch(text)
        if match is not None:
            break
    else:
        return None
    year = int(match["year"])
    if len(match["year"]) == 2:
        year += 1900 if year >= 70 else 2000
    fields = (
        year,
        _MONTHS[match["month"].lower()],
        int(match["day"]),
        int(match["hour"]),
        int(match["minute"]),
        int(match["second"]),
    )
    try:
        datetime.datetime(*fields)  # validates the day of the month and the time
    except ValueError:
        return None
    return calendar.timegm((*fields, 0, 0, 0))


# -- conditional requests ------------------------------------------------------------------

_STAR: Final = "*"
_ENTITY_TAG: Final = re.compile(r'(W/)?("[\x21\x23-\x7e\x80-\xff]*")')
_SEPARATORS: Final = " \t,"


def _entity_tags(value: str) -> list[tuple[bool, str]] | Literal["*"] | None:
    """An ``If-Match``/``If-None-Match`` value: ``"*"``, its ``(weak, "tag")`` list, or ``None``
    when it does not parse (empty list elements are allowed, RFC 9110 section 5.6.1)."""
    if value.strip(" \t") == _STAR:
        return _STAR
    tags: list[tuple[bool, str]] = []
    position = 0
    length = len(value)
    while True:
        while position < length and value[position] in _SEPARATORS:
            position += 1
        if position == length:
            return tags or None
        match = _ENTITY_TAG.match(value, position)
        if match is None:
            return None
        tags.append((match[1] is not None, match[2]))
        position = match.end()
        if position < length and value[position] not in _SEPARATORS:
            return None


def _any_tag(tags: list[tuple[bool, str]] | str | None, etag: str, *, weak: bool) -> bool:
    """Whether ``etag`` matches one of ``tags``: by weak comparison (the opaque tags are equal,
    whatever their ``W/``) or strong comparison (equal, and neither is weak)."""
    if not isinstance(tags, list):
        return False
    ours_weak = etag.startswith("W/")
    opaque = etag.removeprefix("W/")
    if weak:
        return any(tag == opaque for _, tag in tags)
    return not ours_weak and any(not is_weak and tag == opaque for is_weak, tag in tags)


def _collect(
    headers: Iterable[tuple[bytes, bytes]], wanted: frozenset[bytes]
) -> dict[bytes, list[bytes]]:
    """The values of the ``wanted`` header fields, by lower-case name, in arrival order."""
    found: dict[bytes, list[bytes]] = {}
    for name, value in headers:
        lowered = name.lower()
        if lowered in wanted:
            found.setdefault(lowered, []).append(value)
    return found


def _single_date(values: list[bytes] | None) -> int | None:
    """The date of a header that must appear once; ``None`` if absent, repeated or invalid."""
    if values is None or len(values) != 1:
        return None
    return parse_http_date(values[0])


def _joined(values: list[bytes]) -> str:
    return ",".join(value.decode("latin-1") for value in values)


_CONDITIONAL_HEADERS: Final = frozenset(
    {b"if-match", b"if-unmodified-since", b"if-none-match", b"if-modified-since"}
)


def evaluate_conditional(
    method: bytes,
    headers: Iterable[tuple[bytes, bytes]],
    etag: str,
    mtime: float,
    *,
    now: float | None = None,
) -> Literal[304, 412] | None:
    """The answer the preconditions of a request demand for a resource that exists, if any.

    RFC 9110 section 13.2.2, in its order: ``If-Match`` (strong comparison; ``*`` matches) fails
    with 412; without it, ``If-Unmodified-Since`` fails with 412 when the file changed after the
    date; ``If-None-Match`` (weak comparison; ``*`` matches) that matches gives 304 for ``GET``
    and ``HEAD`` and 412 for other methods; without it, ``If-Modified-Since`` on ``GET``/``HEAD``
    gives 304 when the file did not change after the date. ``None``: go on with the request.

    ``etag`` is the resource's quoted entity tag, ``mtime`` its modification time in seconds
    (compared in whole seconds, as HTTP dates are). Invalid or repeated dates are ignored; a
    date after ``now`` (if given) too. An entity-tag list that does not parse matches nothing.
    """
    found = _collect(headers, _CONDITIONAL_HEADERS)
    if not found:
        return None
    modified = math.floor(mtime)
    if_match = found.get(b"if-match")
    if if_match is not None:
        tags = _entity_tags(_joined(if_match))
        if tags != _STAR and not _any_tag(tags, etag, weak=False):
            return 412
    else:
        since = _single_date(found.get(b"if-unmodified-since"))
        if since is not None and modified > since:
            return 412
    is_read = method in {b"GET", b"HEAD"}
    if_none_match = found.get(b"if-none-match")
    if if_none_match is not None:
        tags = _entity_tags(_joined(if_none_match))
        if tags == _STAR or _any_tag(tags, etag, weak=True):
            return 304 if is_read else 412
    elif is_read:
        since = _single_date(found.get(b"if-modified-since"))
        if since is not None and (now is None or since <= now) and modified <= since:
            return 304
    return None


def if_range_matches(value: bytes, etag: str, mtime: float) -> bool:
    """Whether an ``If-Range`` value lets the ``Range`` apply (RFC 9110 section 13.1.5).

    An entity tag must match ``etag`` by strong comparison (a weak tag never does); a date
    must equal the modification time ``mtime`` to the second. Anything else does not match, and
    the whole representation is sent.
    """
    text = value.decode("latin-1").strip(" \t")
    if text.startswith('"'):
        match = _ENTITY_TAG.fullmatch(text)
        return match is not None and not etag.startswith("W/") and text == etag
    if text.startswith("W/"):
        return False
    date = parse_http_date(text)
    return date is not None and date == math.floor(mtime)


# -- ranges --------------------------------------------------------------------------------


@final
@attrs.frozen
class FullBody:
    """Send the whole representation (no ``Range``, or one that is ignored): 200."""


@final
@attrs.frozen
class Unsatisfiable:
    """The range starts past the end: 416 with ``Content-Range: bytes */<size>``."""


def _offset(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"ByteRange: {attribute.name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"ByteRange: {attribute.name} must be >= 0, got {value!r}")


@final
@attrs.frozen
class ByteRange:
    """Bytes ``start`` to ``end`` of the representation, both included: a 206 answer."""

    start: int = attrs.field(validator=_offset)
    """Offset of the first byte."""
    end: int = attrs.field(validator=_offset)
    """Offset of the last byte (included), >= ``start``."""

    def __attrs_post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"ByteRange: end {self.end} is before start {self.start}")

    @property
    def length(self) -> int:
        """How many bytes the range holds."""
        return self.end - self.start + 1

    def content_range(self, size: int) -> bytes:
        """The ``Content-Range`` value for a representation of ``size`` bytes."""
        return b"bytes %d-%d/%d" % (self.start, self.end, size)


FULL_BODY: Final = FullBody()
"""The one :class:`FullBody` value :func:`parse_range` returns."""
UNSATISFIABLE: Final = Unsatisfiable()
"""The one :class:`Unsatisfiable` value :func:`parse_range` returns."""

RangeResult: TypeAlias = FullBody | ByteRange | Unsatisfiable
"""What :func:`parse_range` returns."""

_RANGE_SPEC: Final = re.compile(rb"([0-9]*)-([0-9]*)")
_MAX_DIGITS: Final = 19  # larger numbers are past any file; int() of huge strings is slow


def _position(digits: bytes) -> int:
    stripped = digits.lstrip(b"0") or b"0"
    return int(stripped) if len(stripped) <= _MAX_DIGITS else 1 << 63


def parse_range(header_value: bytes, size: int) -> RangeResult:
    """One ``Range: bytes=...`` value for a representation of ``size`` bytes (RFC 9110 s. 14).

    ``bytes=0-99`` (an end past the last byte is cut to it), ``bytes=100-`` (to the end) and
    ``bytes=-500`` (the last 500 bytes, or all if shorter) give a :class:`ByteRange`; a start
    at or past ``size`` (or ``bytes=-0``) is :data:`UNSATISFIABLE` (416). A malformed value,
    another unit, an end before its start, or several ranges give :data:`FULL_BODY`: the header
    is ignored and the whole file sent, as RFC 9110 allows. The unit is case-insensitive.
    ``TypeError``/``ValueError`` for a ``size`` that is not an int >= 0.
    """
    given: object = size
    if not isinstance(given, int) or isinstance(given, bool):
        raise TypeError(f"parse_range: size must be an int, got {size!r}")
    if size < 0:
        raise ValueError(f"parse_range: size must be >= 0, got {size!r}")
    unit, equals, range_set = header_value.partition(b"=")
    if not equals or unit.lower() != b"bytes":
        return FULL_BODY
    specs = [spec.strip(b" \t") for spec in range_set.split(b",")]
    specs = [spec for spec in specs if spec]
    if len(specs) != 1:
        return FULL_BODY
    match = _RANGE_SPEC.fullmatch(specs[0])
    if match is None:
        return FULL_BODY
    first, last = match[1], match[2]
    if not first:
        if not last:
            return FULL_BODY
        suffix = _position(last)
        if suffix == 0:
            return UNSATISFIABLE
        if size == 0:
            return FULL_BODY  # the whole (empty) representation
        return ByteRange(max(0, size - suffix), size - 1)
    start = _position(first)
    end = _position(last) if last else size - 1
    if last and end < start:
        return FULL_BODY
    if start >= size:
        return UNSATISFIABLE
    return ByteRange(start, min(end, size - 1))


# -- the plan ------------------------------------------------------------------------------

Header: TypeAlias = tuple[bytes, bytes]


def _framing(
    _instance: object, _attribute: attrs.Attribute[tuple[Header, ...]], value: tuple[Header, ...]
) -> None:
    for name, _ in value:
        if name.lower() in {b"content-length", b"transfer-encoding", b"connection"}:
            raise ValueError(f"StaticPlan: headers must not hold framing header {name!r}")


@final
@attrs.frozen(kw_only=True)
class StaticPlan:
    """What to answer to one static-file request; the I/O layer carries it out.

    Write the head with ``status``, ``headers`` and ``Content-Length: content_length``
    (``headers`` never holds framing fields: ``serialize_response_head(status, headers,
    content_length=plan.content_length)``; :meth:`all_headers` includes it, for ASGI). Then, if
    ``send_body``: when ``path`` is set, ``count`` bytes of that file from ``offset``
    (``sendfile``), after checking ``file_id`` against ``fstat`` of the opened file; otherwise
    ``body``. ``HEAD`` answers carry the same head as ``GET`` and no body.
    """

    status: int = attrs.field(validator=_status)
    """200, 206, 301, 304, 400, 403, 404, 405, 412 or 416."""
    headers: tuple[Header, ...] = attrs.field(validator=_framing)
    """Response fields (lower-case names, bytes values), without ``Content-Length``."""
    content_length: int | None
    """The ``Content-Length`` to send (what ``GET`` would send, also for ``HEAD``); ``None``
    for 304, which has none."""
    send_body: bool
    """Whether to write a body after the head (false for ``HEAD`` and 304)."""
    path: Path | None = None
    """The resolved file to send from, for 200 and 206; ``None`` for the other answers."""
    offset: int = 0
    """Offset of the first byte of ``path`` to send."""
    count: int = 0
    """How many bytes of ``path`` to send."""
    body: bytes = b""
    """The generated body of an answer without a file (an error or a redirect)."""
    file_id: tuple[int, int] | None = None
    """``(st_dev, st_ino)`` of ``path`` when it was checked: compare with ``os.fstat`` after
    opening, so a file swapped in since then is not served."""
    reason: str = ""
    """Why this answer, for the access log ("" for a file sent)."""

    def all_headers(self) -> list[Header]:
        """``headers`` plus ``content-length`` (when there is one): the whole field list."""
        fields = list(self.headers)
        if self.content_length is not None:
            fields.append((b"content-length", b"%d" % self.content_length))
        return fields

    def header(self, name: bytes) -> bytes | None:
        """The value of the field ``name`` (lower-case) among ``headers``, else ``None``."""
        for key, value in self.headers:
            if key == name:
                return value
        return None


def _message_plan(
    status: int,
    reason: str,
    head_only: bool,
    extra: tuple[Header, ...] = (),
) -> StaticPlan:
    """An answer with a short text body (``"404 Not Found\\n"``)."""
    body = f"{status} {HTTPStatus(status).phrase}\n".encode("ascii")
    return StaticPlan(
        status=status,
        headers=((b"content-type", _TEXT_PLAIN), _NOSNIFF, *extra),
        content_length=len(body),
        send_body=not head_only,
        body=body,
        reason=reason,
    )


_PLAN_HEADERS: Final = _CONDITIONAL_HEADERS | {b"range", b"if-range"}


def plan_static_response(
    root: Path,
    method: bytes,
    target: bytes,
    headers: Iterable[tuple[bytes, bytes]],
    *,
    cache_control: bytes | None = b"no-cache",
    now: float | None = None,
) -> StaticPlan:
    """The whole answer to a static-file request: resolution, validators, conditionals, range.

    ``method`` and ``target`` as received (``b"GET"``, ``b"/a/b.css?v=2"``), ``headers`` as
    ``(lower-case name, value)`` byte pairs. Only ``GET`` and ``HEAD`` are served (else 405
    with ``Allow: GET, HEAD``); the target is resolved by :func:`resolve_path` (400, 403, 404,
    or 301 for a directory without its slash); then :func:`evaluate_conditional` (304, 412),
    then for ``GET`` a single ``Range`` (206, or 416 with ``Content-Range: bytes */size``),
    applied only if an ``If-Range`` matches. Files get ``Content-Type``, ``ETag``,
    ``Last-Modified``, ``Accept-Ranges: bytes``, ``Cache-Control: cache_control`` (``no-cache``
    by default: revalidate each time, cheap with the ETag; ``None`` for none) and
    ``X-Content-Type-Options: nosniff``. ``now`` (seconds since the epoch), when given, makes
    ``If-Modified-Since`` dates in the future be ignored.
    """
    given: object = method
    if not isinstance(given, bytes):
        raise TypeError(f"plan_static_response: method must be bytes, got {method!r}")
    head_only = method == b"HEAD"
    if method not in {b"GET", b"HEAD"}:
        return _message_plan(
            405, f"method {method[:20]!r} not allowed", False, ((b"allow", ALLOWED_METHODS),)
        )
    resolved = resolve_path(root, target)
    if isinstance(resolved, StaticError):
        return _message_plan(resolved.status, resolved.reason, head_only)
    if isinstance(resolved, Redirect):
        return _message_plan(
            301, "directory without trailing slash", head_only, ((b"location", resolved.location),)
        )
    status = resolved.stat
    size = status.st_size
    tag = etag(status)
    mtime = status.st_mtime_ns / 1_000_000_000
    validators: tuple[Header, ...] = (
        (b"etag", tag.encode("ascii")),
        (b"last-modified", last_modified(status).encode("ascii")),
    )
    if cache_control is not None:
        validators += ((b"cache-control", cache_control),)
    found = _collect(headers, _PLAN_HEADERS)
    conditional = evaluate_conditional(
        method,
        [(name, value) for name in _CONDITIONAL_HEADERS for value in found.get(name, ())],
        tag,
        mtime,
        now=now,
    )
    if conditional == 304:
        return StaticPlan(
            status=304,
            headers=(*validators, _NOSNIFF),
            content_length=None,
            send_body=False,
            reason="not modified",
        )
    if conditional == 412:
        return _message_plan(412, "precondition failed", head_only)

    file_headers = (
        (b"content-type", mime_type(resolved.path).encode("ascii")),
        *validators,
        (b"accept-ranges", b"bytes"),
        _NOSNIFF,
    )
    wanted = FULL_BODY if head_only else _requested_range(found, size, tag, mtime)
    if isinstance(wanted, Unsatisfiable):
        return _message_plan(
            416,
            f"range not satisfiable for {size} bytes",
            head_only,
            ((b"content-range", b"bytes */%d" % size),),
        )
    file_id = (status.st_dev, status.st_ino)
    if isinstance(wanted, ByteRange):
        return StaticPlan(
            status=206,
            headers=(*file_headers, (b"content-range", wanted.content_range(size))),
            content_length=wanted.length,
            send_body=True,
            path=resolved.path,
            offset=wanted.start,
            count=wanted.length,
            file_id=file_id,
        )
    return StaticPlan(
        status=200,
        headers=file_headers,
        content_length=size,
        send_body=not head_only,
        path=resolved.path,
        offset=0,
        count=size,
        file_id=file_id,
    )


def _requested_range(
    found: Mapping[bytes, list[bytes]], size: int, tag: str, mtime: float
) -> RangeResult:
    """The range a ``GET`` asks for: one ``Range`` field, let through by ``If-Range``."""
    ranges = found.get(b"range")
    if ranges is None or len(ranges) != 1:
        return FULL_BODY
    if_range = found.get(b"if-range")
    if if_range is not None and (
        len(if_range) != 1 or not if_range_matches(if_range[0], tag, mtime)
    ):
        return FULL_BODY
    return parse_range(ranges[0], size)
