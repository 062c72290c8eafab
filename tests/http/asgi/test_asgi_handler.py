"""``asgi_handler`` / ``AsgiHandler``: argument checks, and the response it builds without
``Response``'s validators being field-for-field a ``Response``."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from dsexec.http import Response, StreamBody
from dsexec.http.asgi import AsgiHandler, Receive, Scope, Send, asgi_handler
from dsexec.http.asgi._exchange import _response


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Nothing."""


@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        ({"app": "not callable"}, TypeError, "app must be an ASGI callable"),
        ({"root_path": b"/api"}, TypeError, "root_path must be a str"),
        ({"root_path": "api"}, ValueError, "start with '/'"),
        ({"root_path": "/api/"}, ValueError, "not end with"),
        ({"state": ["not", "a", "dict"]}, TypeError, "state must be a dict"),
    ],
)
def test_bad_arguments_are_refused_by_name(
    arguments: dict[str, Any], error: type[Exception], match: str
) -> None:
    options: dict[str, Any] = {"app": app, **arguments}
    with pytest.raises(error, match=match):
        asgi_handler(options.pop("app"), **options)


def test_the_handler_keeps_its_settings() -> None:
    state: dict[str, Any] = {"a": 1}
    handler = asgi_handler(app, root_path="/api", state=state)
    assert isinstance(handler, AsgiHandler)
    assert handler.app is app
    assert handler.root_path == "/api"
    assert handler.state is state
    assert "AsgiHandler" in repr(handler)
    handler.close()  # nothing to let go yet: fine


def test_the_fast_response_is_a_response_field_for_field() -> None:
    assert [field.name for field in attrs.fields(Response)] == [
        "status",
        "headers",
        "body",
        "close",
    ]
    headers = ((b"content-type", b"text/plain"),)
    fast = _response(201, headers, b"made", True)
    assert fast == Response(201, headers, b"made", close=True)
    assert isinstance(fast, Response)
    stream = StreamBody(lambda: None)  # type: ignore[arg-type,return-value]
    assert _response(200, (), stream, False) == Response(200, (), stream)
