"""Helpers of the ASGI tests: a running ``serve_asgi``, IPv6 probing, log capture, raw HTTP."""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import anyio

from dsexec.http.asgi import ASGIApp, serve_asgi
from dsexec.net import create_acceptor

__all__ = ["Records", "has_ipv6_loopback", "serving", "url_host"]


@functools.cache
def has_ipv6_loopback() -> bool:
    """Whether ``::1`` can be bound here."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def url_host(host: str) -> str:
    """``host`` as it goes in a URL (``[::1]``)."""
    return f"[{host}]" if ":" in host else host


@contextlib.asynccontextmanager
async def serving(app: ASGIApp, host: str = "127.0.0.1", **options: Any) -> AsyncIterator[str]:
    """``async with serving(app) as url:`` -- ``serve_asgi`` on a free port of ``host``, started
    (lifespan startup done) on entry and stopped (drained, shut down) on exit."""
    acceptor = create_acceptor(0, host)
    try:
        async with anyio.create_task_group() as tasks:

            async def serve(*, task_status: anyio.abc.TaskStatus[None]) -> None:
                await serve_asgi(app, acceptor, **options, task_status=task_status)

            await tasks.start(serve)
            yield f"http://{url_host(host)}:{acceptor.port}"
            tasks.cancel_scope.cancel()
    finally:
        acceptor.close()


class Records(logging.Handler):
    """The log records of one logger, kept for a test."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self, level: int = logging.DEBUG) -> list[str]:
        """The messages at ``level`` or above."""
        return [record.getMessage() for record in self.records if record.levelno >= level]
