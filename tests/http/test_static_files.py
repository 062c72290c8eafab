"""Static files, sans-IO: target resolution (traversal payloads, symlinks in and out of the root,
encodings), content types, validators, conditional requests, ranges and the combined plan."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsexec import HttpError
from dsexec.http._static_files import (
    ALLOWED_METHODS,
    FULL_BODY,
    UNSATISFIABLE,
    ByteRange,
    Redirect,
    ResolvedFile,
    StaticError,
    StaticPlan,
    _realpath_below,
    etag,
    evaluate_conditional,
    if_range_matches,
    last_modified,
    mime_type,
    parse_http_date,
    parse_range,
    plan_static_response,
    resolve_path,
)

SECRET = b"top secret, outside the root\n"
INDEX = b"<!doctype html><title>home</title>\n"
DATA = bytes(range(256)) * 4  # 1024 bytes
# Sun, 06 Nov 1994 08:49:37 GMT, the RFC's example date
EPOCH_1994 = 784111777
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def build_site(base: Path) -> Path:
    """A web root with files, hidden names, and symlinks that stay inside or escape it."""
    (base / "secret.txt").write_bytes(SECRET)
    (base / "outside").mkdir()
    (base / "outside" / "file.txt").write_bytes(SECRET)
    root = base / "www"
    root.mkdir()
    (root / "index.html").write_bytes(INDEX)
    (root / "style.css").write_bytes(b"body { margin: 0 }\n")
    (root / "data.bin").write_bytes(DATA)
    (root / "empty.txt").write_bytes(b"")
    (root / "a+b.txt").write_bytes(b"plus\n")
    (root / "a b.txt").write_bytes(b"space\n")
    (root / "ünï.txt").write_bytes(b"unicode\n")
    (root / "%2e%2e").write_bytes(b"a file literally called %2e%2e\n")
    (root / "sub").mkdir()
    (root / "sub" / "index.html").write_bytes(b"<p>sub</p>\n")
    (root / "sub" / "page.html").write_bytes(b"<p>page</p>\n")
    (root / "noindex").mkdir()
    (root / "evil.example").mkdir()
    (root / ".git").mkdir()
    (root / ".git" / "config").write_bytes(b"[core]\n")
    (root / ".env").write_bytes(b"PASSWORD=x\n")
    (root / ".well-known").mkdir()
    (root / ".well-known" / "security.txt").write_bytes(b"Contact: mailto:x@example.com\n")
    (root / "inside-link").symlink_to("index.html")
    (root / "dir-link").symlink_to("sub")
    (root / "sub" / "up-link").symlink_to("../style.css")  # leaves sub/, stays in the root
    (root / "escape-link").symlink_to("../secret.txt")
    (root / "escape-dir").symlink_to("../outside")
    (root / "abs-escape").symlink_to(base / "secret.txt")
    (root / "dangling").symlink_to("../missing.txt")
    (root / "loop-a").symlink_to("loop-b")
    (root / "loop-b").symlink_to("loop-a")
    (root / "index-escape").mkdir()
    (root / "index-escape" / "index.html").symlink_to("../../secret.txt")
    (root / "index-dir").mkdir()
    (root / "index-dir" / "index.html").mkdir()
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / "fifo")
    return root


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return build_site(tmp_path)


@pytest.fixture(scope="module")
def shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same tree, built once for the property tests."""
    return build_site(tmp_path_factory.mktemp("site"))


def served(result: ResolvedFile | Redirect | StaticError) -> Path:
    assert isinstance(result, ResolvedFile), result
    return result.path


# -- resolve_path: what is served ---------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "relative"),
    [
        (b"/", "index.html"),
        (b"/index.html", "index.html"),
        (b"/index.html?v=2", "index.html"),
        (b"/index.html#top", "index.html"),
        (b"/index.html?a=..%2f..%2fsecret.txt&b=\\", "index.html"),
        (b"/style.css", "style.css"),
        (b"/sub/", "sub/index.html"),
        (b"/sub/page.html", "sub/page.html"),
        (b"//sub//page.html", "sub/page.html"),
        (b"/%73ub/page.html", "sub/page.html"),
        (b"/a+b.txt", "a+b.txt"),
        (b"/a%20b.txt", "a b.txt"),
        (b"/%C3%BCn%C3%AF.txt", "ünï.txt"),
        ("/ünï.txt".encode(), "ünï.txt"),
        (b"/%252e%252e", "%2e%2e"),
        (b"/.well-known/security.txt", ".well-known/security.txt"),
        (b"/inside-link", "index.html"),
        (b"/dir-link/", "sub/index.html"),
        (b"/dir-link/page.html", "sub/page.html"),
        (b"/sub/up-link", "style.css"),
        (b"http://example.com/style.css", "style.css"),
        (b"HTTPS://example.com:8443/sub/page.html?x", "sub/page.html"),
        (b"http://example.com", "index.html"),
    ],
)
def test_targets_inside_the_root_resolve_to_the_real_file(
    shared_root: Path, target: bytes, relative: str
) -> None:
    assert served(resolve_path(shared_root, target)) == (shared_root / relative).resolve()


def test_a_resolved_file_carries_its_stat(root: Path) -> None:
    result = resolve_path(root, b"/data.bin")
    assert isinstance(result, ResolvedFile)
    assert result.stat.st_size == len(DATA)
    assert stat.S_ISREG(result.stat.st_mode)


def test_the_root_may_itself_be_reached_through_a_symlink(tmp_path: Path) -> None:
    real = build_site(tmp_path)
    link = tmp_path / "www-link"
    link.symlink_to(real)
    assert served(resolve_path(link, b"/sub/page.html")) == real.resolve() / "sub" / "page.html"
    escaped = resolve_path(link, b"/escape-link")
    assert isinstance(escaped, StaticError)
    assert escaped.status == 403


# -- resolve_path: directories and redirects ----------------------------------------------


@pytest.mark.parametrize(
    ("target", "location"),
    [
        (b"/sub", b"/sub/"),
        (b"//sub", b"/sub/"),
        (b"/sub?x=1&y=%2f", b"/sub/?x=1&y=%2f"),
        ("/sub?q=ü".encode(), b"/sub/?q=%C3%BC"),
        (b"/dir-link", b"/dir-link/"),
        (b"/.well-known", b"/.well-known/"),
        (b"http://example.com/sub", b"/sub/"),
        (b"/evil.example", b"/evil.example/"),
        # CVE-2021-28861 (http.server): "//evil.example" must not redirect to "//evil.example/",
        # which a browser reads as another host.
        (b"//evil.example", b"/evil.example/"),
        (b"///evil.example", b"/evil.example/"),
    ],
)
def test_a_directory_without_its_slash_redirects_to_one_local_path(
    shared_root: Path, target: bytes, location: bytes
) -> None:
    result = resolve_path(shared_root, target)
    assert result == Redirect(location)
    assert not location.startswith(b"//")


def test_a_redirect_location_is_percent_encoded_ascii(root: Path) -> None:
    (root / "dir ü").mkdir()
    assert resolve_path(root, b"/dir%20%C3%BC") == Redirect(b"/dir%20%C3%BC/")


@pytest.mark.parametrize(
    ("target", "status"),
    [
        (b"/noindex/", 404),
        (b"/index-dir/", 404),
        (b"/index-escape/", 403),
        (b"/missing.html", 404),
        (b"/missing/", 404),
        (b"/index.html/", 404),
        (b"/index.html/x", 404),
        (b"/dangling", 404),
        (b"/loop-a", 404),
        (b"/" + b"a" * 5000, 404),
    ],
)
def test_missing_things_are_404_and_an_escaping_index_is_403(
    shared_root: Path, target: bytes, status: int
) -> None:
    result = resolve_path(shared_root, target)
    assert isinstance(result, StaticError)
    assert result.status == status


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_is_not_served(root: Path) -> None:
    result = resolve_path(root, b"/fifo")
    assert isinstance(result, StaticError)
    assert result.status == 404


@pytest.mark.skipif(IS_ROOT, reason="root reads every file")
def test_an_unreadable_file_is_403(root: Path) -> None:
    (root / "style.css").chmod(0)
    result = resolve_path(root, b"/style.css")
    assert isinstance(result, StaticError)
    assert result.status == 403


def test_a_missing_root_is_404_not_a_crash(tmp_path: Path) -> None:
    result = resolve_path(tmp_path / "nowhere", b"/index.html")
    assert isinstance(result, StaticError)
    assert result.status == 404


def test_static_error_is_a_value_and_converts_to_http_error() -> None:
    error = StaticError(404, "gone")
    exc = error.to_http_error()
    assert isinstance(exc, HttpError)
    assert (exc.status, str(exc)) == (404, "gone")
    with pytest.raises(ValueError, match="status"):
        StaticError(42, "bad")
    with pytest.raises(TypeError, match="status"):
        StaticError("404", "bad")  # type: ignore[arg-type]


def test_wrong_argument_types_are_type_errors(root: Path) -> None:
    with pytest.raises(TypeError, match="root"):
        resolve_path(str(root), b"/")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="raw_target"):
        resolve_path(root, "/")  # type: ignore[arg-type]


# -- resolve_path: the attack table -------------------------------------------------------

# (target, status, where it comes from). None of these may ever be served.
ATTACKS: list[tuple[bytes, int, str]] = [
    (b"/../secret.txt", 400, "plain traversal"),
    (b"/sub/../../secret.txt", 400, "traversal after a real directory"),
    (b"/dir-link/../../secret.txt", 400, "traversal after a symlinked directory"),
    (b"/..%2fsecret.txt", 400, "encoded slash"),
    (b"/%2e%2e/secret.txt", 400, "encoded dots"),
    (b"/%2E%2E/secret.txt", 400, "encoded dots, upper case"),
    (b"/%2e./secret.txt", 400, "half-encoded dots"),
    (b"/.%2e/secret.txt", 400, "CVE-2021-41773 (Apache 2.4.49)"),
    (b"/.%2e/.%2e/.%2e/secret.txt", 400, "CVE-2021-41773, repeated"),
    (b"/.%%32%65/secret.txt", 400, "CVE-2021-42013 (Apache 2.4.50): %%32%65"),
    (b"/%%32%65%%32%65/secret.txt", 400, "CVE-2021-42013, both dots"),
    (b"/%252e%252e/secret.txt", 404, "double encoding: decoded once it is a literal name"),
    (b"/%252e%252e%252fsecret.txt", 404, "double-encoded slash stays literal"),
    (b"/..%255c..%255csecret.txt", 404, "double-encoded backslash stays literal"),
    (b"/..\\secret.txt", 400, "raw backslash (Windows separator)"),
    (b"/..%5csecret.txt", 400, "encoded backslash"),
    (b"/%2e%2e%5c%2e%2e%5csecret.txt", 400, "encoded dots and backslashes"),
    (b"/%c0%ae%c0%ae/secret.txt", 400, "overlong UTF-8 dots (IIS, CVE-2000-0884 family)"),
    (b"/..%c0%afsecret.txt", 400, "overlong UTF-8 slash"),
    (b"/%e0%80%ae%e0%80%ae/secret.txt", 400, "three-byte overlong dots"),
    (b"/%c1%9c", 400, "overlong backslash"),
    (b"/%ed%a0%80", 400, "UTF-8 surrogate"),
    (b"/%ff", 400, "invalid UTF-8 byte"),
    (b"/%uff0e%uff0e/secret.txt", 400, "IIS %u encoding"),
    (b"/%ef%bc%8e%ef%bc%8e/secret.txt", 400, "fullwidth dots (NFKC folds them to ..)"),
    (b"/\xef\xbc\x8e\xef\xbc\x8e/secret.txt", 400, "raw fullwidth dots"),
    (b"/..%ef%bc%8fsecret.txt", 400, "fullwidth solidus (NFKC folds it to /)"),
    (b"/..%ef%bc%bcsecret.txt", 400, "fullwidth reverse solidus (NFKC folds it to \\)"),
    (b"/index.html%00.txt", 400, "NUL byte truncation"),
    (b"/index.html\x00", 400, "raw NUL"),
    (b"/sub%00/", 400, "NUL in a directory name"),
    (b"/%0d%0aSet-Cookie:%20x=1", 400, "CRLF (response splitting via Location)"),
    (b"/index.html%09", 400, "encoded control character"),
    (b"/a b.txt", 400, "raw space"),
    (b"/%2fsecret.txt", 400, "encoded leading slash"),
    (b"/%2e%2e%2f%2e%2e%2fsecret.txt", 400, "fully encoded traversal"),
    (b"/./index.html", 400, "dot segment"),
    (b"/%2e/index.html", 400, "encoded dot segment"),
    (b"/escape-link", 403, "symlink to a file outside the root"),
    (b"/escape-dir/file.txt", 403, "symlinked directory outside the root"),
    (b"/escape-dir/", 403, "symlinked directory outside the root, as a directory"),
    (b"/abs-escape", 403, "absolute symlink outside the root"),
    (b"/index-escape/", 403, "index.html that is an escaping symlink"),
    (b"//etc/passwd", 404, "absolute path trick: stays under the root"),
    (b"/etc/passwd", 404, "absolute path: stays under the root"),
    (b"../secret.txt", 400, "relative target"),
    (b"secret.txt", 400, "target without a slash"),
    (b"*", 400, "asterisk-form"),
    (b"", 400, "empty target"),
    (b"http://example.com/../secret.txt", 400, "traversal in an absolute-form target"),
    (b"http:/../secret.txt", 400, "broken absolute form"),
    (b"/.git/config", 404, "hidden directory"),
    (b"/.env", 404, "hidden file"),
    (b"/%2egit/config", 404, "encoded hidden directory"),
    (b"/....//secret.txt", 404, "four dots are a hidden name"),
    (b"/..;/secret.txt", 404, "Tomcat path parameter: a hidden name here"),
    (b"/.well-known/../secret.txt", 400, "traversal out of .well-known"),
    (b"/%", 400, "truncated escape"),
    (b"/%2", 400, "truncated escape"),
    (b"/%zz", 400, "not hex"),
    (b"/%+1", 400, "sign in an escape"),
]


@pytest.mark.parametrize(
    ("target", "status"),
    [(target, status) for target, status, _ in ATTACKS],
    ids=[why for _, _, why in ATTACKS],
)
def test_traversal_payloads_are_refused(shared_root: Path, target: bytes, status: int) -> None:
    result = resolve_path(shared_root, target)
    assert isinstance(result, StaticError), result
    assert result.status == status
    plan = plan_static_response(shared_root, b"GET", target, [])
    assert plan.status == status
    assert plan.path is None
    assert SECRET not in plan.body


def test_the_attack_table_is_large() -> None:
    assert len(ATTACKS) >= 25


@pytest.mark.skipif(IS_ROOT, reason="root reads every file")
def test_an_unreadable_index_is_403(root: Path) -> None:
    (root / "sub" / "index.html").chmod(0)
    result = resolve_path(root, b"/sub/")
    assert isinstance(result, StaticError)
    assert result.status == 403


PIECES = [
    "..",
    ".",
    "%2e",
    "%2E",
    "%252e",
    "%2f",
    "%5c",
    "\\",
    "%00",
    "%c0%ae",
    "%c0%af",
    "%",
    "/",
    "//",
    "sub",
    "dir-link",
    "escape-link",
    "escape-dir",
    "abs-escape",
    "index-escape",
    "secret.txt",
    "outside",
    "file.txt",
    "www",
    "index.html",
    "a",
    "?",
    "#",
    "%3f",
    "\u00fc",
    "\uff0e",
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), max_size=12), st.booleans())
def test_no_target_ever_resolves_outside_the_root(
    shared_root: Path, pieces: list[str], leading_slash: bool
) -> None:
    target = (("/" if leading_slash else "") + "".join(pieces)).encode()
    real_root = shared_root.resolve()
    result = resolve_path(shared_root, target)
    if isinstance(result, ResolvedFile):
        assert result.path.is_relative_to(real_root)
        assert result.path.read_bytes() != SECRET
    elif isinstance(result, Redirect):
        assert result.location.startswith(b"/")
        assert not result.location.startswith(b"//")
    plan = plan_static_response(shared_root, b"GET", target, [])
    if plan.path is not None:
        assert plan.path.is_relative_to(real_root)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_arbitrary_bytes_never_escape_or_crash(shared_root: Path, tail: bytes) -> None:
    result = resolve_path(shared_root, b"/" + tail)
    if isinstance(result, ResolvedFile):
        assert result.path.is_relative_to(shared_root.resolve())
    elif isinstance(result, StaticError):
        assert result.status in {400, 403, 404}


SEGMENT_NAMES = [
    "sub", "dir-link", "up-link", "inside-link", "escape-link", "escape-dir", "abs-escape",
    "dangling", "loop-a", "index-escape", "index.html", "page.html", "file.txt", "missing",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(SEGMENT_NAMES), max_size=5))
def test_the_segment_walk_agrees_with_realpath(shared_root: Path, segments: list[str]) -> None:
    """``_realpath_below`` (one lstat per segment) gives what ``os.path.realpath(strict=True)``
    gives, or fails where it fails."""
    real_root = os.path.realpath(shared_root)
    try:
        expected: str | type[OSError] = os.path.realpath(
            os.path.join(real_root, *segments), strict=True
        )
    except OSError:
        expected = OSError
    try:
        walked: str | type[OSError] = _realpath_below(real_root, segments)
    except OSError:
        walked = OSError
    assert walked == expected


# -- content types and validators ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("index.html", "text/html; charset=utf-8"),
        ("INDEX.HTM", "text/html; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("app.mjs", "text/javascript; charset=utf-8"),
        ("data.json", "application/json"),
        ("logo.svg", "image/svg+xml"),
        ("a.png", "image/png"),
        ("a.jpg", "image/jpeg"),
        ("a.jpeg", "image/jpeg"),
        ("a.gif", "image/gif"),
        ("a.webp", "image/webp"),
        ("favicon.ico", "image/x-icon"),
        ("notes.txt", "text/plain; charset=utf-8"),
        ("module.wasm", "application/wasm"),
        ("font.woff2", "font/woff2"),
        ("paper.pdf", "application/pdf"),
        ("archive.tar.gz", "application/gzip"),
        ("no-suffix", "application/octet-stream"),
        ("weird.zzqx", "application/octet-stream"),
    ],
)
def test_mime_type_uses_the_fixed_table_and_a_utf8_charset_for_text(
    name: str, expected: str
) -> None:
    assert mime_type(name) == expected
    assert mime_type(Path("/some/dir") / name) == expected


def test_mime_type_falls_back_to_python_builtin_table() -> None:
    assert mime_type("a.mp4") == "video/mp4"
    assert mime_type("a.3gp").startswith(("video/", "audio/"))  # not in the fixed table


def test_etag_is_strong_quoted_and_follows_size_and_mtime(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    os.utime(path, ns=(EPOCH_1994 * 10**9, EPOCH_1994 * 10**9 + 5))
    first = etag(path.stat())
    assert first == f'"{EPOCH_1994 * 10**9 + 5:x}-3"'
    assert first == etag(path.stat())
    os.utime(path, ns=(EPOCH_1994 * 10**9, EPOCH_1994 * 10**9 + 6))
    assert etag(path.stat()) != first
    os.utime(path, ns=(EPOCH_1994 * 10**9, EPOCH_1994 * 10**9 + 5))
    path.write_bytes(b"abcd")
    os.utime(path, ns=(EPOCH_1994 * 10**9, EPOCH_1994 * 10**9 + 5))
    assert etag(path.stat()) != first


def test_last_modified_is_imf_fixdate(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"")
    os.utime(path, ns=(0, EPOCH_1994 * 10**9 + 999_999_999))
    assert last_modified(path.stat()) == "Sun, 06 Nov 1994 08:49:37 GMT"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sun, 06 Nov 1994 08:49:37 GMT", EPOCH_1994),
        (b"Sun, 06 Nov 1994 08:49:37 GMT", EPOCH_1994),
        ("  Sun, 06 Nov 1994 08:49:37 GMT\t", EPOCH_1994),
        ("Sunday, 06-Nov-94 08:49:37 GMT", EPOCH_1994),
        ("Sun Nov  6 08:49:37 1994", EPOCH_1994),
        ("Thursday, 01-Jan-09 00:00:00 GMT", 1230768000),
        ("Sun, 06 Nov 1994 08:49:37 +0000", None),
        ("Sun, 06 Nov 1994 08:49:37", None),
        ("Sun, 31 Feb 1994 08:49:37 GMT", None),
        ("Sun, 06 Nov 1994 25:49:37 GMT", None),
        ("Sun, 6 Nov 1994 08:49:37 GMT", None),
        ("1994-11-06T08:49:37Z", None),
        ("", None),
        ("garbage", None),
    ],
)
def test_parse_http_date_reads_the_three_formats_and_rejects_the_rest(
    text: str | bytes, expected: int | None
) -> None:
    assert parse_http_date(text) == expected


# -- conditional requests ------------------------------------------------------------------

TAG = '"5f-3"'
OTHER = '"other"'
MTIME = EPOCH_1994 + 0.5
BEFORE = b"Sat, 05 Nov 1994 08:49:37 GMT"
SAME = b"Sun, 06 Nov 1994 08:49:37 GMT"
AFTER = b"Mon, 07 Nov 1994 08:49:37 GMT"

CONDITIONALS: list[tuple[str, bytes, list[tuple[bytes, bytes]], int | None]] = [
    ("no preconditions", b"GET", [], None),
    ("unrelated headers", b"GET", [(b"accept", b"*/*")], None),
    ("If-Match matches", b"GET", [(b"if-match", TAG.encode())], None),
    ("If-Match star", b"GET", [(b"if-match", b"*")], None),
    ("If-Match in a list", b"GET", [(b"if-match", b'"x", ' + TAG.encode())], None),
    ("If-Match over two lines", b"GET", [(b"if-match", b'"x"'), (b"if-match", TAG.encode())], None),
    ("If-Match differs", b"GET", [(b"if-match", OTHER.encode())], 412),
    ("If-Match weak tag never matches", b"GET", [(b"if-match", b"W/" + TAG.encode())], 412),
    ("If-Match garbage", b"GET", [(b"if-match", b"nonsense")], 412),
    ("If-Match beats If-Unmodified-Since", b"GET",
     [(b"if-match", TAG.encode()), (b"if-unmodified-since", BEFORE)], None),
    ("If-Unmodified-Since before mtime", b"GET", [(b"if-unmodified-since", BEFORE)], 412),
    ("If-Unmodified-Since same second", b"GET", [(b"if-unmodified-since", SAME)], None),
    ("If-Unmodified-Since invalid is ignored", b"GET", [(b"if-unmodified-since", b"x")], None),
    ("If-None-Match matches", b"GET", [(b"if-none-match", TAG.encode())], 304),
    ("If-None-Match on HEAD", b"HEAD", [(b"if-none-match", TAG.encode())], 304),
    ("If-None-Match weak comparison", b"GET", [(b"if-none-match", b"W/" + TAG.encode())], 304),
    ("If-None-Match star", b"GET", [(b"if-none-match", b"*")], 304),
    ("If-None-Match list", b"GET", [(b"if-none-match", b'"a", ,' + TAG.encode() + b', "b"')],
     304),
    ("If-None-Match tag with a comma", b"GET", [(b"if-none-match", b'"a,b"')], None),
    ("If-None-Match differs", b"GET", [(b"if-none-match", OTHER.encode())], None),
    ("If-None-Match garbage matches nothing", b"GET", [(b"if-none-match", b"abc")], None),
    ("If-None-Match on POST", b"POST", [(b"if-none-match", TAG.encode())], 412),
    ("If-None-Match beats If-Modified-Since", b"GET",
     [(b"if-none-match", OTHER.encode()), (b"if-modified-since", AFTER)], None),
    ("If-Modified-Since after mtime", b"GET", [(b"if-modified-since", AFTER)], 304),
    ("If-Modified-Since same second", b"GET", [(b"if-modified-since", SAME)], 304),
    ("If-Modified-Since before mtime", b"GET", [(b"if-modified-since", BEFORE)], None),
    ("If-Modified-Since obsolete format", b"GET",
     [(b"if-modified-since", b"Sunday, 06-Nov-94 08:49:37 GMT")], 304),
    ("If-Modified-Since invalid", b"GET", [(b"if-modified-since", b"yesterday")], None),
    ("If-Modified-Since twice", b"GET",
     [(b"if-modified-since", AFTER), (b"if-modified-since", AFTER)], None),
    ("If-Modified-Since on POST is ignored", b"POST", [(b"if-modified-since", AFTER)], None),
    ("names in any case", b"GET", [(b"If-None-Match", TAG.encode())], 304),
    ("412 beats 304", b"GET",
     [(b"if-match", OTHER.encode()), (b"if-none-match", TAG.encode())], 412),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "headers", "expected"),
    [case[1:] for case in CONDITIONALS],
    ids=[case[0] for case in CONDITIONALS],
)
def test_evaluate_conditional_follows_rfc9110_precedence(
    method: bytes, headers: list[tuple[bytes, bytes]], expected: int | None
) -> None:
    assert evaluate_conditional(method, headers, TAG, MTIME) == expected


def test_if_modified_since_in_the_future_is_ignored_when_now_is_known() -> None:
    headers = [(b"if-modified-since", AFTER)]
    assert evaluate_conditional(b"GET", headers, TAG, MTIME) == 304
    assert evaluate_conditional(b"GET", headers, TAG, MTIME, now=EPOCH_1994 + 60) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (TAG.encode(), True),
        (b" " + TAG.encode() + b" ", True),
        (OTHER.encode(), False),
        (b"W/" + TAG.encode(), False),
        (SAME, True),
        (AFTER, False),
        (BEFORE, False),
        (b"garbage", False),
        (b'"unterminated', False),
    ],
)
def test_if_range_needs_a_strong_tag_or_the_exact_date(value: bytes, expected: bool) -> None:
    assert if_range_matches(value, TAG, MTIME) is expected


def test_if_range_never_matches_a_weak_etag_of_ours() -> None:
    assert not if_range_matches(b'W/"x"', 'W/"x"', MTIME)
    assert not if_range_matches(b'"x"', 'W/"x"', MTIME)


# -- ranges --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "size", "expected"),
    [
        (b"bytes=0-99", 1000, ByteRange(0, 99)),
        (b"bytes=0-0", 1000, ByteRange(0, 0)),
        (b"bytes=100-", 1000, ByteRange(100, 999)),
        (b"bytes=-500", 1000, ByteRange(500, 999)),
        (b"bytes=-5000", 1000, ByteRange(0, 999)),
        (b"bytes=990-2000", 1000, ByteRange(990, 999)),
        (b"bytes=999-999", 1000, ByteRange(999, 999)),
        (b"BYTES=0-1", 1000, ByteRange(0, 1)),
        (b"bytes= 0-1 ", 1000, ByteRange(0, 1)),
        (b"bytes=0-1,", 1000, ByteRange(0, 1)),
        (b"bytes=000-0001", 1000, ByteRange(0, 1)),
        (b"bytes=0-" + b"9" * 5000, 1000, ByteRange(0, 999)),
        (b"bytes=1000-", 1000, UNSATISFIABLE),
        (b"bytes=1000-1001", 1000, UNSATISFIABLE),
        (b"bytes=" + b"9" * 5000 + b"-", 1000, UNSATISFIABLE),
        (b"bytes=-0", 1000, UNSATISFIABLE),
        (b"bytes=0-", 0, UNSATISFIABLE),
        (b"bytes=-10", 0, FULL_BODY),
        (b"bytes=5-4", 1000, FULL_BODY),
        (b"bytes=0-1,5-6", 1000, FULL_BODY),
        (b"bytes=-", 1000, FULL_BODY),
        (b"bytes=", 1000, FULL_BODY),
        (b"bytes=a-b", 1000, FULL_BODY),
        (b"bytes=-1-2", 1000, FULL_BODY),
        (b"bytes=+1-2", 1000, FULL_BODY),
        (b"bytes=1 - 2", 1000, FULL_BODY),
        (b"bytes 0-1", 1000, FULL_BODY),
        (b"items=0-1", 1000, FULL_BODY),
        (b"", 1000, FULL_BODY),
    ],
)
def test_parse_range_reads_one_byte_range(
    value: bytes, size: int, expected: ByteRange | object
) -> None:
    assert parse_range(value, size) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.tuples(st.integers(0, 3000), st.one_of(st.none(), st.integers(0, 3000))),
        st.tuples(st.none(), st.integers(0, 3000)),
    ),
    st.integers(0, 2000),
)
def test_a_byte_range_always_lies_inside_the_file(
    spec: tuple[int | None, int | None], size: int
) -> None:
    first, last = spec
    value = b"bytes=%s-%s" % (
        b"" if first is None else str(first).encode(),
        b"" if last is None else str(last).encode(),
    )
    result = parse_range(value, size)
    if isinstance(result, ByteRange):
        assert 0 <= result.start <= result.end < size
        assert result.length == result.end - result.start + 1
        if first is not None:
            assert result.start == first


def test_parse_range_validates_size() -> None:
    with pytest.raises(TypeError, match="size"):
        parse_range(b"bytes=0-1", 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="size"):
        parse_range(b"bytes=0-1", -1)


def test_byte_range_validates_and_formats_content_range() -> None:
    assert ByteRange(2, 5).content_range(10) == b"bytes 2-5/10"
    with pytest.raises(ValueError, match="before start"):
        ByteRange(5, 2)
    with pytest.raises(ValueError, match="start"):
        ByteRange(-1, 2)
    with pytest.raises(TypeError, match="end"):
        ByteRange(0, True)


# -- the plan ------------------------------------------------------------------------------


def plan(
    root: Path, target: bytes = b"/data.bin", method: bytes = b"GET", **headers: bytes
) -> StaticPlan:
    fields = [(name.replace("_", "-").encode(), value) for name, value in headers.items()]
    return plan_static_response(root, method, target, fields)


def test_a_get_plans_the_whole_file_with_its_headers(root: Path) -> None:
    result = plan(root)
    status = (root / "data.bin").stat()
    assert result.status == 200
    assert result.send_body
    assert (result.path, result.offset, result.count) == ((root / "data.bin").resolve(), 0, 1024)
    assert result.content_length == len(DATA)
    assert result.file_id == (status.st_dev, status.st_ino)
    assert result.header(b"content-type") == b"application/octet-stream"
    assert result.header(b"etag") == etag(status).encode()
    assert result.header(b"last-modified") == last_modified(status).encode()
    assert result.header(b"accept-ranges") == b"bytes"
    assert result.header(b"cache-control") == b"no-cache"
    assert result.header(b"x-content-type-options") == b"nosniff"
    assert result.header(b"content-length") is None
    assert (b"content-length", b"1024") in result.all_headers()


def test_head_gets_the_same_head_and_no_body(root: Path) -> None:
    get, head = plan(root), plan(root, method=b"HEAD")
    assert head.headers == get.headers
    assert head.content_length == get.content_length
    assert head.status == 200
    assert not head.send_body


def test_the_index_is_planned_as_html(root: Path) -> None:
    result = plan(root, b"/")
    assert result.path == (root / "index.html").resolve()
    assert result.header(b"content-type") == b"text/html; charset=utf-8"


@pytest.mark.parametrize("method", [b"POST", b"PUT", b"DELETE", b"OPTIONS", b"get", b"BREW"])
def test_other_methods_get_405_with_allow(shared_root: Path, method: bytes) -> None:
    result = plan(shared_root, method=method)
    assert result.status == 405
    assert result.header(b"allow") == ALLOWED_METHODS == b"GET, HEAD"
    assert result.path is None
    assert result.body == b"405 Method Not Allowed\n"
    assert result.content_length == len(result.body)


def test_a_missing_file_plans_a_short_text_404(root: Path) -> None:
    result = plan(root, b"/nope.html")
    assert (result.status, result.body, result.send_body) == (404, b"404 Not Found\n", True)
    assert result.header(b"content-type") == b"text/plain; charset=utf-8"
    assert "nope.html" in result.reason
    head = plan(root, b"/nope.html", b"HEAD")
    assert (head.status, head.send_body, head.content_length) == (404, False, 14)


def test_a_directory_without_slash_plans_a_301(root: Path) -> None:
    result = plan(root, b"/sub?q=1")
    assert result.status == 301
    assert result.header(b"location") == b"/sub/?q=1"


def test_a_matching_etag_plans_a_304_without_body_or_length(root: Path) -> None:
    tag = plan(root).header(b"etag")
    assert tag is not None
    result = plan(root, if_none_match=tag)
    assert result.status == 304
    assert not result.send_body
    assert result.content_length is None
    assert result.header(b"etag") == tag
    assert result.header(b"content-type") is None
    assert result.all_headers() == list(result.headers)


def test_if_modified_since_plans_a_304_unless_now_says_the_date_is_in_the_future(
    root: Path,
) -> None:
    path = root / "data.bin"
    os.utime(path, (EPOCH_1994, EPOCH_1994))
    assert plan(root, if_modified_since=SAME).status == 304
    assert plan(root, if_modified_since=BEFORE).status == 200
    future = plan_static_response(
        root, b"GET", b"/data.bin", [(b"if-modified-since", AFTER)], now=EPOCH_1994
    )
    assert future.status == 200


def test_a_failed_if_match_plans_412(root: Path) -> None:
    result = plan(root, if_match=b'"nope"')
    assert result.status == 412
    assert result.path is None


def test_a_range_plans_206_with_content_range(root: Path) -> None:
    result = plan(root, range=b"bytes=100-199")
    assert result.status == 206
    assert (result.offset, result.count, result.content_length) == (100, 100, 100)
    assert result.header(b"content-range") == b"bytes 100-199/1024"
    suffix = plan(root, range=b"bytes=-24")
    assert (suffix.offset, suffix.count) == (1000, 24)
    assert suffix.header(b"content-range") == b"bytes 1000-1023/1024"


def test_an_unsatisfiable_range_plans_416_with_the_size(root: Path) -> None:
    result = plan(root, range=b"bytes=5000-")
    assert result.status == 416
    assert result.header(b"content-range") == b"bytes */1024"
    assert result.path is None


@pytest.mark.parametrize("value", [b"bytes=0-1,5-6", b"bytes=9-1", b"lines=1-2", b"bytes=x"])
def test_ignored_ranges_plan_the_whole_file(shared_root: Path, value: bytes) -> None:
    result = plan(shared_root, range=value)
    assert (result.status, result.count) == (200, len(DATA))


def test_two_range_fields_are_ignored(root: Path) -> None:
    result = plan_static_response(
        root, b"GET", b"/data.bin", [(b"range", b"bytes=0-1"), (b"range", b"bytes=2-3")]
    )
    assert result.status == 200


def test_range_is_ignored_on_head(root: Path) -> None:
    result = plan(root, method=b"HEAD", range=b"bytes=0-9")
    assert (result.status, result.content_length) == (200, len(DATA))


def test_if_range_lets_the_range_apply_only_when_it_matches(root: Path) -> None:
    tag = plan(root).header(b"etag")
    assert tag is not None
    assert plan(root, range=b"bytes=0-9", if_range=tag).status == 206
    assert plan(root, range=b"bytes=0-9", if_range=b'"stale"').status == 200
    assert plan(root, range=b"bytes=0-9", if_range=b"W/" + tag).status == 200
    modified = plan(root).header(b"last-modified")
    assert modified is not None
    assert plan(root, range=b"bytes=0-9", if_range=modified).status == 206
    assert plan(root, range=b"bytes=0-9", if_range=BEFORE).status == 200


def test_a_304_beats_a_range(root: Path) -> None:
    tag = plan(root).header(b"etag")
    assert tag is not None
    assert plan(root, range=b"bytes=0-9", if_none_match=tag).status == 304


def test_cache_control_can_be_changed_or_left_out(root: Path) -> None:
    long = plan_static_response(
        root, b"GET", b"/style.css", [], cache_control=b"public, max-age=3600"
    )
    assert long.header(b"cache-control") == b"public, max-age=3600"
    none = plan_static_response(root, b"GET", b"/style.css", [], cache_control=None)
    assert none.header(b"cache-control") is None


def test_plan_rejects_a_method_that_is_not_bytes(root: Path) -> None:
    with pytest.raises(TypeError, match="method"):
        plan_static_response(root, "GET", b"/", [])  # type: ignore[arg-type]


def test_a_plan_never_holds_framing_headers() -> None:
    with pytest.raises(ValueError, match="framing"):
        StaticPlan(
            status=200,
            headers=((b"Content-Length", b"3"),),
            content_length=3,
            send_body=True,
        )


def test_plans_are_frozen_values(root: Path) -> None:
    result = plan(root)
    assert result == plan(root)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        result.status = 500  # type: ignore[misc]


def headers_of(result: StaticPlan) -> Iterator[bytes]:
    for name, value in result.all_headers():
        yield name + b": " + value


def test_every_planned_header_is_safe_to_send(root: Path) -> None:
    for target in (b"/", b"/sub", b"/nope", b"/data.bin", b"/%0d%0a", b"/%c0%ae"):
        for line in headers_of(plan(root, target, range=b"bytes=1-2")):
            assert b"\r" not in line
            assert b"\n" not in line
            assert b"\x00" not in line
