"""A small ``benchmarks/http_hello/run.py`` configuration for tests of the harnesses (no wrk
run: 1 s points, no warm-up, one round)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from benchmarks.http_hello.run import Config

_SMALL = Config(
    duration=1,
    warmup=0,
    rounds=1,
    connections=(50,),
    idle_connections=0,
    server_cpu=0,
    wrk_cpu=1,
    wrk="wrk",
    wrk_timeout=2.0,
    nginx=None,
    python="python3",
)


def hello_config(**changes: Any) -> Config:
    """The small configuration, with ``changes`` (any ``Config`` field)."""
    return replace(_SMALL, **changes)
