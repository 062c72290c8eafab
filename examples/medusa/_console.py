"""``say(line)``: one line of MedusaServ's output, written whole.

``--workers`` processes share their parent's stdout and stderr pipes. ``print`` writes the text
and its newline in two calls, which an unbuffered stream (``PYTHONUNBUFFERED=1``, ``python -u``)
passes to the kernel as two writes, so two workers draining at the same moment could produce
``drained: ...drained: ...`` on one line. One ``write`` of a line shorter than ``PIPE_BUF`` is
atomic on a pipe, so lines never mix.
"""

from __future__ import annotations

import sys
from typing import TextIO

__all__ = ["say"]


def say(line: str, *, stream: TextIO | None = None) -> None:
    """Write ``line`` and its newline to ``stream`` (default: stdout) in one call, then flush."""
    out = sys.stdout if stream is None else stream
    out.write(line + "\n")
    out.flush()
