"""The hello-world ASGI app every server of the benchmark runs: ``Hello, World!`` as
``text/plain``, keep-alive, no lifespan (it returns on the ``lifespan`` scope)."""

from __future__ import annotations

from typing import Any

from dsexec.http.asgi import Receive, Scope, Send

START: dict[str, Any] = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")],
}
BODY: dict[str, Any] = {"type": "http.response.body", "body": b"Hello, World!"}


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer every request with ``Hello, World!``."""
    if scope["type"] != "http":
        return
    await send(START)
    await send(BODY)
