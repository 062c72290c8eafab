"""HTTP/1.1 for dsexec: a sans-IO core (request parser, response serialisation) on httptools.

``RequestParser`` turns received bytes into events (``RequestHead``, ``BodyChunk``,
``EndOfMessage``, ``ProtocolError``, ``ConnectionClosed``) and enforces the safety policy
(request smuggling, size limits); ``serialize_response_head``, ``serialize_chunk``,
``serialize_response`` and ``error_response`` build the answers. On it, senders:
``read_request``, ``write_response`` and ``serve_http`` (a whole server as a pipeline), and
``static_files(root)``, a handler serving a directory. See
``docs/http.md``.
"""

from ._connection import DEFAULT_LIMITS as DEFAULT_LIMITS
from ._connection import HttpConnection as HttpConnection
from ._date import format_http_date as format_http_date
from ._date_cache import DateCache as DateCache
from ._events import END_OF_MESSAGE as END_OF_MESSAGE
from ._events import NEED_DATA as NEED_DATA
from ._events import PAUSED as PAUSED
from ._events import BodyChunk as BodyChunk
from ._events import ConnectionClosed as ConnectionClosed
from ._events import EndOfMessage as EndOfMessage
from ._events import Event as Event
from ._events import NoEvent as NoEvent
from ._events import ProtocolError as ProtocolError
from ._events import RequestHead as RequestHead
from ._parser import DEFAULT_MAX_BODY_BYTES as DEFAULT_MAX_BODY_BYTES
from ._parser import DEFAULT_MAX_HEADER_BYTES as DEFAULT_MAX_HEADER_BYTES
from ._parser import DEFAULT_MAX_TARGET_BYTES as DEFAULT_MAX_TARGET_BYTES
from ._parser import RequestParser as RequestParser
from ._request import Request as Request
from ._request import read_request as read_request
from ._response import FileBody as FileBody
from ._response import Response as Response
from ._response import StreamBody as StreamBody
from ._serialize import CONTINUE_RESPONSE as CONTINUE_RESPONSE
from ._serialize import LAST_CHUNK as LAST_CHUNK
from ._serialize import error_response as error_response
from ._serialize import response_body_allowed as response_body_allowed
from ._serialize import serialize_chunk as serialize_chunk
from ._serialize import serialize_continue as serialize_continue
from ._serialize import serialize_response as serialize_response
from ._serialize import serialize_response_head as serialize_response_head
from ._serve import Handler as Handler
from ._serve import HttpServer as HttpServer
from ._serve import serve_http as serve_http
from ._static_handler import StaticFiles as StaticFiles
from ._static_handler import static_files as static_files
from ._write_response import write_response as write_response

__all__ = [
    "CONTINUE_RESPONSE",
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_MAX_TARGET_BYTES",
    "END_OF_MESSAGE",
    "LAST_CHUNK",
    "NEED_DATA",
    "PAUSED",
    "BodyChunk",
    "ConnectionClosed",
    "FileBody",
    "Handler",
    "HttpConnection",
    "HttpServer",
    "DateCache",
    "EndOfMessage",
    "Event",
    "NoEvent",
    "ProtocolError",
    "Request",
    "RequestHead",
    "RequestParser",
    "Response",
    "StaticFiles",
    "StreamBody",
    "error_response",
    "format_http_date",
    "read_request",
    "response_body_allowed",
    "serialize_chunk",
    "serialize_continue",
    "serialize_response",
    "serialize_response_head",
    "serve_http",
    "static_files",
    "write_response",
]
