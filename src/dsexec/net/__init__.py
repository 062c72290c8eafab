"""Dual-stack TCP networking as senders: acceptors, sockets, accept/read/write/sendfile/connect.

``create_acceptor(port)`` listens on ``[::]:port`` serving IPv6 and IPv4 clients (one socket
with ``IPV6_V6ONLY=0``, or fallbacks with a ``DualStackWarning``); ``async_accept``,
``async_read``, ``async_read_until``, ``async_write``, ``async_sendfile`` and ``async_connect``
(Happy Eyeballs) are senders on any scheduler with an I/O reactor. See ``docs/networking.md``.
"""

from ._accept import ACCEPT_BACKOFF as ACCEPT_BACKOFF
from ._accept import async_accept as async_accept
from ._acceptor import DEFAULT_BACKLOG as DEFAULT_BACKLOG
from ._acceptor import MAX_BACKLOG as MAX_BACKLOG
from ._acceptor import Acceptor as Acceptor
from ._acceptor import create_acceptor as create_acceptor
from ._buffer_pool import BufferPool as BufferPool
from ._connect import DEFAULT_HAPPY_EYEBALLS_DELAY as DEFAULT_HAPPY_EYEBALLS_DELAY
from ._connect import async_connect as async_connect
from ._dual_stack import DualStackWarning as DualStackWarning
from ._endpoint import Endpoint as Endpoint
from ._endpoint import IPAddress as IPAddress
from ._factory import SocketFactory as SocketFactory
from ._factory import get_socket_factory as get_socket_factory
from ._factory import set_socket_factory as set_socket_factory
from ._read import async_read as async_read
from ._read_until import async_read_until as async_read_until
from ._resolve import async_resolve as async_resolve
from ._sendfile import async_sendfile as async_sendfile
from ._socket import Socket as Socket
from ._socket import create_tcp_socket as create_tcp_socket
from ._write import async_write as async_write

__all__ = [
    "ACCEPT_BACKOFF",
    "DEFAULT_BACKLOG",
    "DEFAULT_HAPPY_EYEBALLS_DELAY",
    "MAX_BACKLOG",
    "Acceptor",
    "BufferPool",
    "DualStackWarning",
    "Endpoint",
    "IPAddress",
    "Socket",
    "SocketFactory",
    "async_accept",
    "async_connect",
    "async_read",
    "async_read_until",
    "async_resolve",
    "async_sendfile",
    "async_write",
    "create_acceptor",
    "create_tcp_socket",
    "get_socket_factory",
    "set_socket_factory",
]
