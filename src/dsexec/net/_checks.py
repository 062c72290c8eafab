"""Argument checks shared by the ``dsexec.net`` builders: ``TypeError``/``ValueError`` naming
the function, raised when the sender is built (not when it runs)."""

from __future__ import annotations

__all__ = ["check_int"]


def check_int(
    function: str, name: str, value: object, minimum: int, maximum: int | None = None
) -> int:
    """``value`` if it is an int (not a bool) in ``minimum..maximum``; else raise."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{function}: {name} must be an int, got {type(value).__name__}")
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
        raise ValueError(f"{function}: {name} must be {bounds}, got {value}")
    return value
