"""What the fused and the plain ``sender | let_value(fn)`` pairs are both run through: the
failures of the function and of the sender it returns."""

from __future__ import annotations

import pytest

import dsexec as ex

__all__ = ["LET_VALUE_FAILURES"]

LET_VALUE_FAILURES = pytest.mark.parametrize(
    ("fn", "error", "match"),
    [
        (lambda _: 1 // 0, ZeroDivisionError, None),
        (lambda _: "not a sender", TypeError, "^let_value: the function must return a Sender"),
        (lambda _: ex.just_error(KeyError("second")), KeyError, "second"),
    ],
    ids=["fn-raises", "non-sender", "second-fails"],
)
"""Parametrises ``fn`` (for ``let_value``), the ``error`` it ends in and its ``match``."""
