"""``ClosingContext``: a context manager whose exit is ``close()`` (sockets, acceptors, loops)."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from mypy_extensions import mypyc_attr

__all__ = ["ClosingContext"]


@mypyc_attr(allow_interpreted_subclasses=True)
class ClosingContext:
    """Mixin: ``with resource: ...`` closes ``resource`` on exit, whatever happened inside."""

    __slots__ = ()

    def close(self) -> None:
        """Release the resource; idempotent."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
