"""MedusaServ's lines reach the kernel whole: forked workers share one pipe, and a line written
in two pieces can be split by another worker's (seen as ``drained: ...drained: ...``)."""

from __future__ import annotations

import io

from examples.medusa._console import say


class RecordingRaw(io.RawIOBase):
    """A raw stream that keeps each write it is given, as the kernel would see them."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        chunk = bytes(data)  # type: ignore[call-overload]
        self.writes.append(chunk)
        return len(chunk)


def unbuffered(raw: RecordingRaw) -> io.TextIOWrapper:
    """A text stream as ``PYTHONUNBUFFERED=1`` makes stdout: every write goes straight through."""
    return io.TextIOWrapper(raw, encoding="utf-8", write_through=True)  # type: ignore[arg-type]


def test_a_line_is_one_write_even_on_an_unbuffered_stream() -> None:
    raw = RecordingRaw()
    stream = unbuffered(raw)
    say("drained: every connection is closed", stream=stream)
    say("SIGTERM again: exiting at once", stream=stream)
    assert raw.writes == [
        b"drained: every connection is closed\n",
        b"SIGTERM again: exiting at once\n",
    ]


def test_print_would_split_the_line() -> None:
    # Why say() exists: the same stream given to print() sees the text and the newline apart.
    raw = RecordingRaw()
    print("drained", file=unbuffered(raw), flush=True)
    assert raw.writes == [b"drained", b"\n"]
