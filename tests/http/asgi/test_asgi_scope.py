"""The ``http`` scope an ASGI app gets, key by key (ASGI spec 2.4), over real sockets.

Most run on an ``IoContext`` driven by the test (``Served``: the app runs inline there); the
address tests also on the anyio backends, over IPv4, IPv6 and a dual-stack socket.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
from tests._helpers.served import Served
from tests.http.asgi._support import serving

from dsexec.http.asgi import Receive, Scope, Send, asgi_handler


class Recorder:
    """An app that remembers each scope and answers ``200 ok``."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.scopes.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def scope_of(raw: bytes, **options: Any) -> Scope:
    """The scope the app sees for the raw request ``raw``."""
    app = Recorder()
    with Served(asgi_handler(app, **options)) as served:
        client = served.connect()
        served.send(client, raw)
        assert served.read_response(client).status == 200
    (scope,) = app.scopes
    return scope


def test_scope_holds_the_asgi_versions_and_the_request_line() -> None:
    scope = scope_of(b"GET /hello?x=1&y=%20 HTTP/1.1\r\nHost: h\r\n\r\n")
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/hello"
    assert scope["raw_path"] == b"/hello"
    assert scope["query_string"] == b"x=1&y=%20"
    assert scope["root_path"] == ""
    assert scope["extensions"] == {"http.response.pathsend": {}}


def test_http_1_0_requests_say_so() -> None:
    assert scope_of(b"GET / HTTP/1.0\r\n\r\n")["http_version"] == "1.0"


def test_methods_are_upper_case_str() -> None:
    scope = scope_of(b"DELETE /x HTTP/1.1\r\nHost: h\r\n\r\n")
    assert scope["method"] == "DELETE"
    scope = scope_of(b"PROPFIND /x HTTP/1.1\r\nHost: h\r\n\r\n")
    assert scope["method"] == "PROPFIND"


def test_path_is_percent_and_utf8_decoded_and_raw_path_is_as_sent() -> None:
    scope = scope_of(b"GET /caf%C3%A9/a%20b/%2F? HTTP/1.1\r\nHost: h\r\n\r\n")
    assert scope["path"] == "/caf\u00e9/a b//"
    assert scope["raw_path"] == b"/caf%C3%A9/a%20b/%2F"
    assert scope["query_string"] == b""


def test_an_absolute_form_target_gives_its_path_and_query() -> None:
    scope = scope_of(b"GET http://example.com/a%20b?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n")
    assert scope["path"] == "/a b"
    assert scope["raw_path"] == b"/a%20b"
    assert scope["query_string"] == b"q=1"


def test_undecodable_path_bytes_become_replacement_characters() -> None:
    scope = scope_of(b"GET /x%FFy HTTP/1.1\r\nHost: h\r\n\r\n")
    assert scope["path"] == "/x\ufffdy"


def test_root_path_goes_in_front_of_path_and_raw_path() -> None:
    scope = scope_of(b"GET /items/1 HTTP/1.1\r\nHost: h\r\n\r\n", root_path="/api")
    assert scope["root_path"] == "/api"
    assert scope["path"] == "/api/items/1"
    assert scope["raw_path"] == b"/api/items/1"


def test_header_names_are_lower_case_bytes_in_arrival_order() -> None:
    scope = scope_of(
        b"GET / HTTP/1.1\r\nHost: h\r\nX-Thing: One\r\nx-thing: Two\r\nACCEPT: */*\r\n\r\n"
    )
    assert scope["headers"] == [
        (b"host", b"h"),
        (b"x-thing", b"One"),
        (b"x-thing", b"Two"),
        (b"accept", b"*/*"),
    ]


def test_client_and_server_are_host_strings_and_ports() -> None:
    app = Recorder()
    with Served(asgi_handler(app)) as served:
        client = served.connect()
        served.send(client, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        served.read_response(client)
        client_port = client.getsockname()[1]
        server_port = served.acceptor.port
    (scope,) = app.scopes
    assert scope["client"] == ("127.0.0.1", client_port)
    assert scope["server"] == ("127.0.0.1", server_port)


@pytest.mark.ipv6
def test_an_ipv4_client_of_a_dual_stack_socket_is_shown_as_ipv4() -> None:
    app = Recorder()
    with Served(asgi_handler(app), host="::") as served:
        client = served.connect("127.0.0.1")
        served.send(client, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        served.read_response(client)
        six = served.connect("::1")
        served.send(six, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        served.read_response(six)
        port = served.acceptor.port
    four, six_scope = app.scopes
    assert four["client"][0] == "127.0.0.1"
    assert four["server"][0] == "127.0.0.1"
    assert six_scope["client"][0] == "::1"
    assert six_scope["server"] == ("::1", port)


def test_each_request_gets_a_fresh_copy_of_the_state() -> None:
    state: dict[str, Any] = {"pool": "shared"}
    seen: list[dict[str, Any]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(dict(scope["state"]))
        scope["state"]["scribble"] = len(seen)
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body"})

    with Served(asgi_handler(app, state=state)) as served:
        client = served.connect()
        for _ in range(2):
            served.send(client, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
            assert served.read_response(client).status == 204
    assert seen == [{"pool": "shared"}, {"pool": "shared"}]
    assert state == {"pool": "shared"}


def test_absent_endpoints_are_none() -> None:
    from dsexec.http.asgi._scope import endpoint

    assert endpoint(None) is None


def test_endpoints_are_converted_once_per_tuple_and_never_confused() -> None:
    import ipaddress

    from dsexec.http.asgi._scope import endpoint

    first = (ipaddress.ip_address("10.0.0.1"), 1)
    second = (ipaddress.ip_address("::1"), 2)
    assert endpoint(first) == ("10.0.0.1", 1)
    assert endpoint(first) is endpoint(first)
    assert endpoint(second) == ("::1", 2)
    mapped = (ipaddress.ip_address("::ffff:192.0.2.7"), 3)
    assert endpoint(mapped) == ("192.0.2.7", 3)


# -- over the anyio backends --------------------------------------------------------------


async def _scope_over(host: str, connect_to: str) -> tuple[Scope, tuple[str, int]]:
    app = Recorder()
    async with serving(app, host=host) as url:
        port = int(url.rsplit(":", 1)[1])
        stream = await anyio.connect_tcp(connect_to, port)
        async with stream:
            local = stream.extra(anyio.abc.SocketAttribute.local_address)
            await stream.send(b"GET /p HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            received = b""
            while not received.endswith(b"ok"):
                received += await stream.receive()
    (scope,) = app.scopes
    return scope, (str(local[0]), int(local[1]))


@pytest.mark.anyio
async def test_client_is_the_peer_over_ipv4() -> None:
    scope, local = await _scope_over("127.0.0.1", "127.0.0.1")
    assert scope["client"] == local
    assert scope["server"][0] == "127.0.0.1"


@pytest.mark.anyio
@pytest.mark.ipv6
async def test_client_is_the_peer_over_ipv6() -> None:
    scope, local = await _scope_over("::1", "::1")
    assert scope["client"] == local
    assert scope["server"][0] == "::1"


@pytest.mark.anyio
@pytest.mark.ipv6
async def test_mapped_ipv4_peers_of_a_dual_stack_server_are_ipv4_on_every_backend() -> None:
    scope, local = await _scope_over("::", "127.0.0.1")
    assert scope["client"] == local
    assert scope["server"][0] == "127.0.0.1"


@pytest.mark.anyio
async def test_httpx_sees_the_app_answer_and_the_app_sees_httpx() -> None:
    app = Recorder()
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.get("/a/b", params={"q": "1 2"}, headers={"X-Test": "yes"})
    assert response.status_code == 200
    assert response.text == "ok"
    (scope,) = app.scopes
    assert scope["path"] == "/a/b"
    assert scope["query_string"] == b"q=1+2"
    assert (b"x-test", b"yes") in scope["headers"]
