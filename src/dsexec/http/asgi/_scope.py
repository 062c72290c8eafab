"""The ASGI ``http`` connection scope of a :class:`~dsexec.http.Request` (ASGI spec 2.4, HTTP).

What each key holds, from the request as ``read_request`` parsed it:

* ``method`` upper-case ``str``; ``http_version`` ``"1.1"`` or ``"1.0"``; ``scheme`` ``"http"``
  or ``"https"``;
* ``path``: the target's path, percent-decoded and UTF-8 decoded (undecodable bytes become
  U+FFFD, as ``urllib.parse.unquote`` does), ``raw_path`` the path bytes as sent, without the
  query; both behind ``root_path`` when one is set (the prefix a proxy strips: the app sees
  the full path, as under uvicorn);
* ``query_string``: the bytes after ``?``; ``headers``: ``(name, value)`` byte pairs, names
  lower-cased, in arrival order;
* ``client`` / ``server``: ``(host, port)`` with the host as a string, IPv4-mapped IPv6
  addresses shown as IPv4 (``"127.0.0.1"``, not ``"::ffff:127.0.0.1"``), or ``None`` when the
  socket cannot tell;
* ``state``: a shallow copy of the lifespan state, fresh for each request;
* ``extensions``: ``http.response.pathsend`` (a file response sent with ``sendfile``).

Every allocation counts at tens of thousands of requests a second: a connection's ``client``
and ``server`` are converted once (``ipaddress`` is pure Python, hashing included) and
remembered by identity in a small bounded table that holds the connection (so its ``id`` cannot
be reused meanwhile); lower-cased header names come from a small table and a header already
lower-case keeps its pair; ``scope["asgi"]`` is one shared dict (read it, do not change it).
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import unquote_to_bytes

from ...net import IPAddress
from .._connection import HttpConnection
from .._request import Request, origin_form

__all__ = ["ASGI_VERSION", "SPEC_VERSION", "endpoint", "http_scope"]

ASGI_VERSION: Final = "3.0"
SPEC_VERSION: Final = "2.4"
_ENDPOINTS_MAX: Final = 4096
_endpoints: dict[int, tuple[tuple[IPAddress, int], tuple[str, int]]] = {}
_connections: dict[int, tuple[HttpConnection, tuple[str, int] | None, tuple[str, int] | None]] = {}
_LOWER_MAX: Final = 512
_LOWER: dict[bytes, bytes] = {}
# Shared by every scope: nothing in it changes, and apps only read it.
_ASGI: Final = {"version": ASGI_VERSION, "spec_version": SPEC_VERSION}
_METHODS: Final = {
    method: method.decode("ascii")
    for method in (b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH")
}


def endpoint(value: tuple[IPAddress, int] | None) -> tuple[str, int] | None:
    """``(address, port)`` as ASGI wants it: ``("127.0.0.1", 8000)``, ``None`` stays ``None``."""
    if value is None:
        return None
    found = _endpoints.get(id(value))
    if found is not None and found[0] is value:
        return found[1]
    if len(_endpoints) >= _ENDPOINTS_MAX:
        _endpoints.clear()
    address, port = value
    mapped = getattr(address, "ipv4_mapped", None)  # normalised already; be sure
    converted = (str(address if mapped is None else mapped), port)
    _endpoints[id(value)] = (value, converted)
    return converted


def _endpoints_of(conn: HttpConnection) -> tuple[tuple[str, int] | None, tuple[str, int] | None]:
    """``(client, server)`` of a connection, converted once per connection."""
    found = _connections.get(id(conn))
    if found is not None and found[0] is conn:
        return found[1], found[2]
    if len(_connections) >= _ENDPOINTS_MAX:
        _connections.clear()
    client = endpoint(conn.peer)
    server = endpoint(conn.local)
    _connections[id(conn)] = (conn, client, server)
    return client, server


def _lowered(headers: tuple[tuple[bytes, bytes], ...]) -> list[tuple[bytes, bytes]]:
    """The header pairs with lower-case names; a pair whose name is lower-case already is
    reused, and lowered names come from a small table (both save an allocation per header)."""
    lowered: list[tuple[bytes, bytes]] = []
    table = _LOWER
    for pair in headers:
        name = pair[0]
        lower = table.get(name)
        if lower is None:
            if len(table) >= _LOWER_MAX:
                table.clear()
            lower = table[name] = name.lower()
        lowered.append(pair if lower == name else (lower, pair[1]))
    return lowered


def http_scope(request: Request, root_path: str, state: dict[str, Any]) -> dict[str, Any]:
    """The ``http`` scope of ``request`` (see the module docstring)."""
    head = request.head
    conn = request.connection
    method = head.method
    target = origin_form(head.target)
    query = target.find(b"?")
    if query < 0:
        raw_path = target
        query_string = b""
    else:
        raw_path = target[:query]
        query_string = target[query + 1 :]
    if b"%" in raw_path:
        path = unquote_to_bytes(raw_path).decode("utf-8", "replace")
    else:
        try:
            path = raw_path.decode("ascii")
        except UnicodeDecodeError:
            path = raw_path.decode("utf-8", "replace")
    if root_path:
        path = root_path + path
        raw_path = root_path.encode("utf-8") + raw_path
    client, server = _endpoints_of(conn)
    return {
        "type": "http",
        "asgi": _ASGI,
        "http_version": head.http_version,
        "method": _METHODS.get(method) or method.decode("ascii", "replace").upper(),
        "scheme": conn.scheme,
        "path": path,
        "raw_path": raw_path,
        "query_string": query_string,
        "root_path": root_path,
        "headers": _lowered(head.headers),
        "client": client,
        "server": server,
        "state": state.copy(),
        "extensions": {"http.response.pathsend": {}},
    }
