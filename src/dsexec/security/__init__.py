"""Security for servers: access-control lists, connection limits, the audit log and TLS.

``AccessControlList(blocked=..., allowed=...)`` answers for one address (``is_blocked``,
``decide``) or for a numpy batch (``is_blocked_many``), and no IPv4/IPv6 spelling can bypass
it. ``Limits`` bounds connections, header and body sizes and every timeout of a connection.
``audit`` is the ``dsexec.audit`` logger (off until ``enable_audit_log()``), written by
``audit_accept``, ``audit_denied``, ``audit_tls_failure`` and ``audit_limit``.
``async_tls_handshake(sch, sock, context, server_side=...)`` turns a connected socket into a
``SecureSocket`` (TLS over ``ssl.MemoryBIO``, on every scheduler) that the ``dsexec.net``
senders read and write like any socket. See ``docs/security.md``.
"""

from ._acl import AccessControlList as AccessControlList
from ._acl import AclDecision as AclDecision
from ._audit import audit as audit
from ._audit import audit_accept as audit_accept
from ._audit import audit_denied as audit_denied
from ._audit import audit_limit as audit_limit
from ._audit import audit_tls_failure as audit_tls_failure
from ._audit import disable_audit_log as disable_audit_log
from ._audit import enable_audit_log as enable_audit_log
from ._limits import Limits as Limits
from ._tls import SecureSocket as SecureSocket
from ._tls import async_tls_handshake as async_tls_handshake

__all__ = [
    "AccessControlList",
    "AclDecision",
    "Limits",
    "SecureSocket",
    "audit",
    "audit_accept",
    "audit_denied",
    "audit_limit",
    "audit_tls_failure",
    "async_tls_handshake",
    "disable_audit_log",
    "enable_audit_log",
]
