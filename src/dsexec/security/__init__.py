"""Security: access-control lists that no IPv4/IPv6 spelling can bypass.

``AccessControlList(blocked=..., allowed=...)`` answers for one address (``is_blocked``,
``decide``) or for a numpy batch (``is_blocked_many``). See ``docs/security.md``.
"""

from ._acl import AccessControlList as AccessControlList
from ._acl import AclDecision as AclDecision

__all__ = ["AccessControlList", "AclDecision"]
