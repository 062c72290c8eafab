"""``static_files(root)`` over real loopback sockets: what a site needs (index, MIME, validators,
ranges, sendfile) and what an attacker tries (traversal in every encoding, symlink escape,
swapping the file between the check and the open)."""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import socket
from pathlib import Path

import pytest
from tests._helpers.served import Reply, Served

from dsexec.http import StaticFiles, _static_cache, static_files
from dsexec.http._static_cache import SMALL_FILE_BYTES, _open_planned
from dsexec.http._static_files import plan_static_response

BIG = SMALL_FILE_BYTES * 3 + 17  # sent with sendfile


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "www"
    (root / "docs").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>home</title>home\n")
    (root / "style.css").write_text("body { color: red }\n")
    (root / "app.js").write_text("console.log(1)\n")
    (root / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>\n")
    (root / "data.unknownext").write_bytes(b"\x00\x01")
    (root / "docs" / "index.html").write_text("docs\n")
    (root / "big.bin").write_bytes(os.urandom(BIG))
    (root / ".env").write_text("SECRET=1\n")
    (tmp_path / "secret.txt").write_text("outside the root\n")
    return root


def request(served: Served, client: socket.socket, raw: bytes, *, head: bool = False) -> Reply:
    served.send(client, raw)
    return served.read_response(client, head_only=head)


def get(target: bytes, *fields: bytes, method: bytes = b"GET") -> bytes:
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: t", *fields]
    return b"\r\n".join(lines) + b"\r\n\r\n"


# -- what a site needs ---------------------------------------------------------------------------


def test_a_directory_serves_its_index_and_one_without_slash_is_redirected(site: Path) -> None:
    with Served(static_files(site)) as served:
        client = served.connect()
        home = request(served, client, get(b"/"))
        assert home.status == 200
        assert home.body.endswith(b"home\n")
        assert home.header(b"content-type") == b"text/html; charset=utf-8"
        docs = request(served, client, get(b"/docs/"))
        assert (docs.status, docs.body) == (200, b"docs\n")
        moved = request(served, client, get(b"/docs?x=1"))
        assert moved.status == 301
        assert moved.header(b"location") == b"/docs/?x=1"


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("style.css", b"text/css; charset=utf-8"),
        ("app.js", b"text/javascript; charset=utf-8"),
        ("logo.svg", b"image/svg+xml"),
        ("data.unknownext", b"application/octet-stream"),
    ],
)
def test_content_type_comes_from_the_suffix(site: Path, name: str, content_type: bytes) -> None:
    with Served(static_files(site)) as served:
        reply = request(served, served.connect(), get(b"/" + name.encode()))
        assert reply.status == 200
        assert reply.header(b"content-type") == content_type
        assert reply.header(b"x-content-type-options") == b"nosniff"
        assert reply.body == (site / name).read_bytes()


def test_etag_and_last_modified_answer_304_and_a_changed_file_is_sent_again(site: Path) -> None:
    with Served(static_files(site)) as served:
        client = served.connect()
        first = request(served, client, get(b"/style.css"))
        tag = first.header(b"etag")
        modified = first.header(b"last-modified")
        assert tag is not None
        assert modified is not None
        assert first.header(b"cache-control") == b"no-cache"
        again = request(served, client, get(b"/style.css", b"If-None-Match: " + tag))
        assert (again.status, again.body) == (304, b"")
        assert again.header(b"content-length") is None
        since = request(served, client, get(b"/style.css", b"If-Modified-Since: " + modified))
        assert since.status == 304
        # the file changes (new size): the cached plan no longer matches the file, so the new
        # bytes go out with a new validator
        (site / "style.css").write_text("body { color: blue; margin: 0 }\n")
        changed = request(served, client, get(b"/style.css", b"If-None-Match: " + tag))
        assert changed.status == 200
        assert changed.body == b"body { color: blue; margin: 0 }\n"
        assert changed.header(b"etag") != tag


def test_a_range_gets_206_and_one_past_the_end_416(site: Path) -> None:
    data = (site / "big.bin").read_bytes()
    with Served(static_files(site)) as served:
        client = served.connect()
        part = request(served, client, get(b"/big.bin", b"Range: bytes=10-19"))
        assert part.status == 206
        assert part.body == data[10:20]
        assert part.header(b"content-range") == b"bytes 10-19/%d" % BIG
        tail = request(served, client, get(b"/big.bin", b"Range: bytes=-5"))
        assert (tail.status, tail.body) == (206, data[-5:])
        large = request(served, client, get(b"/big.bin", b"Range: bytes=1-"))
        assert (large.status, large.body) == (206, data[1:])  # a big range: sendfile
        past = request(served, client, get(b"/big.bin", b"Range: bytes=%d-" % BIG))
        assert past.status == 416
        assert past.header(b"content-range") == b"bytes */%d" % BIG


def opened(path: Path) -> int:
    """How many descriptors of this process are open on ``path``."""
    count = 0
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{name}") == str(path)
    return count


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_a_large_file_goes_out_whole_through_sendfile_and_its_descriptor_is_closed(
    site: Path,
) -> None:
    data = (site / "big.bin").read_bytes()
    handler = static_files(site)
    with Served(handler) as served:
        client = served.connect()
        for _ in range(3):
            reply = request(served, client, get(b"/big.bin"))
            assert reply.status == 200
            assert hashlib.sha256(reply.body).digest() == hashlib.sha256(data).digest()
            assert opened(site / "big.bin") <= 1  # the last response's, at most
        head = request(served, client, get(b"/big.bin", method=b"HEAD"), head=True)
        assert head.header(b"content-length") == b"%d" % BIG
        other = served.connect()
        assert request(served, other, get(b"/style.css")).status == 200
        assert opened(site / "big.bin") == 0  # that connection moved on: closed
        request(served, client, get(b"/big.bin"))
        client.close()
        served.settle()
        assert handler.open_files == 1
        handler.release()  # the connection is closed: so is the file
        assert handler.open_files == 0
        assert opened(site / "big.bin") == 0


def test_head_has_the_length_of_get_and_no_body(site: Path) -> None:
    with Served(static_files(site)) as served:
        client = served.connect()
        head = request(served, client, get(b"/style.css", method=b"HEAD"), head=True)
        assert head.status == 200
        assert head.header(b"content-length") == b"%d" % (site / "style.css").stat().st_size
        after = request(served, client, get(b"/app.js"))  # nothing stray after the HEAD answer
        assert after.body == b"console.log(1)\n"


def test_other_methods_get_405_with_allow(site: Path) -> None:
    with Served(static_files(site)) as served:
        reply = request(served, served.connect(), get(b"/", b"Content-Length: 0", method=b"DELETE"))
        assert reply.status == 405
        assert reply.header(b"allow") == b"GET, HEAD"


# -- what an attacker tries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "status"),
    [
        (b"/../secret.txt", 400),
        (b"/docs/../../secret.txt", 400),
        (b"/%2e%2e/secret.txt", 400),
        (b"/%2E%2E%2Fsecret.txt", 400),
        (b"/%252e%252e/secret.txt", 404),  # decoded once: a name "%2e%2e", not a dot segment
        (b"/..%2fsecret.txt", 400),
        (b"/..%5csecret.txt", 400),
        (b"/%c0%ae%c0%ae/secret.txt", 400),  # overlong UTF-8 dots
        (b"/%ef%bc%8e%ef%bc%8e/secret.txt", 400),  # fullwidth dots fold to ".."
        (b"/index.html%00.txt", 400),
        (b"/.env", 404),
        (b"/%2eenv", 404),
    ],
)
def test_traversal_attempts_are_refused(site: Path, target: bytes, status: int) -> None:
    with Served(static_files(site)) as served:
        reply = request(served, served.connect(), get(target))
        assert reply.status == status
        assert b"outside the root" not in reply.body
        assert b"SECRET" not in reply.body


def test_a_backslash_in_the_target_is_refused(site: Path) -> None:
    with Served(static_files(site)) as served:
        client = served.connect()
        served.send(client, b"GET /..\\secret.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        reply = served.read_response(client)
        assert reply.status == 400
        assert b"outside the root" not in reply.body


def test_a_symlink_out_of_the_root_is_refused_and_one_inside_is_followed(site: Path) -> None:
    (site / "escape.txt").symlink_to(site.parent / "secret.txt")
    (site / "outside").symlink_to(site.parent)
    (site / "alias.css").symlink_to(site / "style.css")
    with Served(static_files(site)) as served:
        client = served.connect()
        assert request(served, client, get(b"/escape.txt")).status == 403
        assert request(served, client, get(b"/outside/secret.txt")).status == 403
        alias = request(served, client, get(b"/alias.css"))
        assert (alias.status, alias.body) == (200, b"body { color: red }\n")


# -- the check between planning and opening ------------------------------------------------------


def test_a_file_swapped_for_a_symlink_after_planning_is_not_opened(site: Path) -> None:
    plan = plan_static_response(site, b"GET", b"/style.css", [])
    assert plan.path is not None
    (site / "style.css").unlink()
    (site / "style.css").symlink_to(site.parent / "secret.txt")
    assert _open_planned(plan) is None  # O_NOFOLLOW


def test_a_file_replaced_or_changed_after_planning_is_not_opened(site: Path) -> None:
    plan = plan_static_response(site, b"GET", b"/app.js", [])
    opened = _open_planned(plan)
    assert opened is not None
    fd, status = opened
    assert (status.st_dev, status.st_ino) == plan.file_id  # the fstat of the opened file
    os.close(fd)
    replacement = site / "new.js"
    replacement.write_text("console.log(1)\n")  # same size: only the inode tells
    replacement.replace(site / "app.js")
    assert _open_planned(plan) is None
    plan = plan_static_response(site, b"GET", b"/app.js", [])
    with (site / "app.js").open("a") as grown:
        grown.write("more\n")  # same inode, new size and mtime: the ETag tells
    assert _open_planned(plan) is None


def test_a_fifo_swapped_in_after_planning_does_not_block_the_open(site: Path) -> None:
    plan = plan_static_response(site, b"GET", b"/app.js", [])
    (site / "app.js").unlink()
    os.mkfifo(site / "app.js")
    assert _open_planned(plan) is None


def test_the_plan_cache_sees_a_replaced_file_at_once(site: Path) -> None:
    now = [0.0]
    handler = StaticFiles(site, cache_seconds=60, clock=lambda: now[0])
    assert handler.respond(b"GET", b"/app.js", []).body == b"console.log(1)\n"
    replacement = site / "new.js"
    replacement.write_text("console.log(2)\n")
    replacement.replace(site / "app.js")
    assert handler.respond(b"GET", b"/app.js", []).body == b"console.log(2)\n"
    (site / "app.js").unlink()
    assert handler.respond(b"GET", b"/app.js", []).status == 404


def test_the_plan_cache_forgets_a_path_whose_meaning_changed_after_its_time(site: Path) -> None:
    now = [0.0]
    other = site.parent / "release2"
    other.mkdir()
    (other / "index.html").write_text("release 2\n")
    link = site.parent / "current"
    link.symlink_to(site)
    handler = StaticFiles(link, cache_seconds=1.0, clock=lambda: now[0])
    assert handler.respond(b"GET", b"/", []).body == (site / "index.html").read_bytes()
    link.unlink()
    link.symlink_to(other)
    now[0] = 1.5
    assert handler.respond(b"GET", b"/", []).body == b"release 2\n"


def test_a_large_files_plan_is_reused_for_cache_seconds_from_its_planning(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planned: list[bytes] = []

    def counting_plan(*args: object, **kwargs: object) -> object:
        planned.append(args[2])  # type: ignore[arg-type]
        return plan_static_response(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_static_cache, "plan_static_response", counting_plan)
    now = [0.0]
    handler = StaticFiles(site, cache_seconds=1.0, clock=lambda: now[0])
    data = (site / "big.bin").read_bytes()
    for now[0] in (0.0, 0.5, 0.9):  # one plan; each request opens and checks the file
        response = handler.respond(b"GET", b"/big.bin", [])
        assert response.body.file.read() == data  # type: ignore[union-attr]
    assert planned == [b"/big.bin"]
    now[0] = 1.2  # a second after planning, not after the last use: planned again
    assert handler.respond(b"GET", b"/big.bin", []).status == 200
    assert planned == [b"/big.bin", b"/big.bin"]


def test_a_cached_small_file_swapped_for_a_symlink_out_of_the_root_is_refused(
    site: Path,
) -> None:
    handler = StaticFiles(site, cache_seconds=60)
    assert handler.respond(b"GET", b"/app.js", []).body == b"console.log(1)\n"
    (site / "app.js").unlink()
    (site / "app.js").symlink_to(site.parent / "secret.txt")
    refused = handler.respond(b"GET", b"/app.js", [])
    assert refused.status == 403
    assert refused.body != b"outside the root\n"


def test_a_cached_small_file_rewritten_in_place_is_read_again(site: Path) -> None:
    handler = StaticFiles(site, cache_seconds=60)
    path = site / "app.js"
    assert handler.respond(b"GET", b"/app.js", []).body == b"console.log(1)\n"
    before = path.stat().st_mtime_ns
    path.write_bytes(b"console.log(9)\n")  # same size, same inode
    os.utime(path, ns=(before + 1_000_000, before + 1_000_000))
    assert handler.respond(b"GET", b"/app.js", []).body == b"console.log(9)\n"


def test_cached_small_responses_stay_within_their_byte_budget(site: Path) -> None:
    handler = StaticFiles(site, cache_seconds=60)
    files = handler._files
    assert files.body_budget == _static_cache.CACHED_BODY_BYTES
    files.body_budget = 40
    for name in (b"/app.js", b"/style.css", b"/logo.svg"):
        assert handler.respond(b"GET", name, []).status == 200
    assert files._cached_bytes <= 40
    assert files._cached_bytes == sum(entry.size for entry in files._cache.values())
    assert len(files._cache) == 3  # the plans are kept all the same


def test_without_a_cache_every_request_is_planned_afresh(site: Path) -> None:
    handler = StaticFiles(site, cache_seconds=0)
    link = site / "moving.txt"
    link.symlink_to(site / "app.js")
    assert handler.respond(b"GET", b"/moving.txt", []).body == b"console.log(1)\n"
    link.unlink()
    link.symlink_to(site / "style.css")
    assert handler.respond(b"GET", b"/moving.txt", []).body == b"body { color: red }\n"


def test_the_plan_cache_is_bounded(site: Path) -> None:
    handler = StaticFiles(site)
    for number in range(5000):
        handler.respond(b"GET", b"/app.js?%d" % number, [])
    assert len(handler._files._cache) <= 4096


# -- arguments -----------------------------------------------------------------------------------


def test_bad_arguments_are_clear_errors(site: Path) -> None:
    with pytest.raises(TypeError, match="root must be a path"):
        static_files(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="is not a directory"):
        static_files(site / "index.html")
    with pytest.raises(TypeError, match="cache_control must be bytes"):
        static_files(site, cache_control="no-cache")  # type: ignore[arg-type]
    for seconds in (-1.0, math.nan, 1e9):
        with pytest.raises(ValueError, match="cache_seconds must be in"):
            static_files(site, cache_seconds=seconds)
    with pytest.raises(TypeError, match="cache_seconds must be a number"):
        static_files(site, cache_seconds=True)
    assert repr(static_files(site)) == f"static_files({str(site)!r})"
