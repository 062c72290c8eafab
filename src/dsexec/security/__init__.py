"""Security for servers: connection limits and the audit log.

``Limits`` bounds connections, header and body sizes and every timeout of a connection;
``audit`` is the ``dsexec.audit`` logger (off until ``enable_audit_log()``), written by
``audit_accept``, ``audit_denied``, ``audit_tls_failure`` and ``audit_limit``. See
``docs/security.md``.
"""

from ._audit import audit as audit
from ._audit import audit_accept as audit_accept
from ._audit import audit_denied as audit_denied
from ._audit import audit_limit as audit_limit
from ._audit import audit_tls_failure as audit_tls_failure
from ._audit import disable_audit_log as disable_audit_log
from ._audit import enable_audit_log as enable_audit_log
from ._limits import Limits as Limits

__all__ = [
    "Limits",
    "audit",
    "audit_accept",
    "audit_denied",
    "audit_limit",
    "audit_tls_failure",
    "disable_audit_log",
    "enable_audit_log",
]
