"""The ASGI 3 callable types (as ``asgiref.typing`` spells them, loosely: scopes and messages are
plain dicts).

An application is ``async def app(scope, receive, send) -> None``; ``receive()`` returns the
next message from the server, ``send(message)`` hands one to it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TypeAlias

__all__ = ["ASGIApp", "Message", "Receive", "Scope", "Send"]

Scope: TypeAlias = MutableMapping[str, Any]
"""The connection scope: ``scope["type"]`` is ``"http"`` or ``"lifespan"``."""
Message: TypeAlias = MutableMapping[str, Any]
"""One ASGI event: ``message["type"]`` names it (``"http.request"``, ...)."""
Receive: TypeAlias = Callable[[], Awaitable[Message]]
"""``await receive()``: the next message from the server."""
Send: TypeAlias = Callable[[Message], Awaitable[None]]
"""``await send(message)``: hand a message to the server."""
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]
"""An ASGI 3 application."""
