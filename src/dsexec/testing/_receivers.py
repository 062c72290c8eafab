"""Receivers that check the completion contract, for testing pipelines (stdexec's
``expect_value_receiver`` family).

Every receiver here records the one completion it gets. A second completion, or a completion on
the wrong channel for an ``Expect*`` receiver, is a *contract violation*: it is raised as
``ContractViolation`` on the spot *and* recorded, because the code that completed the receiver
may be a reactor callback that logs and swallows the exception. With the pytest plugin
(``pytest_plugins = ["dsexec.testing.pytest_plugin"]``) every test fails at teardown if any
violation was recorded, or if an ``Expect*`` receiver created during the test never completed.

Missing completions are found without relying on garbage collection: every ``Expect*`` receiver
is held by a strong reference from its construction until the next
:func:`collect_contract_violations` (the plugin calls it when each test starts and again at its
teardown), so a receiver referenced only by the test's locals is still checked. Receivers
created outside a test (at import time, in a module- or session-scoped fixture) are forgotten
when the next test starts, unchecked. Receivers created on other threads are attributed to the
test running at the time. A test that abandons an operation on purpose says so with
:meth:`~ExpectValueReceiver.allow_missing_completion`; a completion that does arrive is still
checked.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from typing import Any, Generic, Literal, Self, TypedDict, Unpack

from typing_extensions import TypeVar

from .._core import EMPTY_ENV, MISSING, Env, Scheduler, StopToken

__all__ = [
    "ContractViolation",
    "ExpectErrorReceiver",
    "ExpectStoppedReceiver",
    "ExpectValueReceiver",
    "ReceiverOptions",
    "RecordingReceiver",
    "collect_contract_violations",
]

T = TypeVar("T", default=Any)

Completion = Literal["value", "error", "stopped"]

_lock = threading.Lock()
_violations: list[str] = []
# Strong references: a receiver dropped by its test must still be reported if it never completed.
_expectations: list[_ExpectingReceiver[Any]] = []


class ContractViolation(AssertionError):
    """Raised when a receiver is completed twice, or on a channel its test did not expect."""


def _violate(message: str) -> None:
    with _lock:
        _violations.append(message)
    raise ContractViolation(message)


def collect_contract_violations() -> list[str]:
    """Return and forget the violations recorded so far, plus one message for every ``Expect*``
    receiver created since the last call that never completed (a missing completion) and was
    not excused with ``allow_missing_completion()``.

    The receivers created since the last call are then released. Without the pytest plugin,
    call this after each check to find missing completions and to free the receivers.
    """
    with _lock:
        found = list(_violations)
        _violations.clear()
        pending = list(_expectations)
        _expectations.clear()
    found.extend(
        message for receiver in pending if (message := receiver.missing_completion()) is not None
    )
    return found


def _creation_site() -> str:
    """``file:line in function`` of the code that constructed the receiver being built."""
    frame = sys._getframe(1)
    while frame.f_code.co_filename == __file__ and frame.f_back is not None:
        frame = frame.f_back
    code = frame.f_code
    return f"{os.path.basename(code.co_filename)}:{frame.f_lineno} in {code.co_name}"


class ReceiverOptions(TypedDict, total=False):
    """The keyword arguments every test receiver takes: its environment, or the parts of one."""

    env: Env | None
    stop_token: StopToken | None
    scheduler: Scheduler | None


class RecordingReceiver(Generic[T]):
    """Records its single completion in ``completion``, ``value`` and ``error``.

    The environment is ``env``, or one built from ``stop_token`` and ``scheduler``.
    """

    def __init__(
        self,
        *,
        env: Env | None = None,
        stop_token: StopToken | None = None,
        scheduler: Scheduler | None = None,
    ) -> None:
        if env is None:
            env = EMPTY_ENV
            if stop_token is not None:
                env = env.with_stop_token(stop_token)
            if scheduler is not None:
                env = env.with_scheduler(scheduler)
        self._env = env
        self.completion: Completion | None = None
        self.value: T | None = None
        self.error: BaseException | None = None
        self.completing_thread: int | None = None

    @property
    def completed(self) -> bool:
        """Whether a completion arrived."""
        return self.completion is not None

    def _record(self, completion: Completion) -> None:
        if self.completion is not None:
            _violate(f"{self!r} completed twice: {self.completion} then {completion}")
        self.completion = completion
        self.completing_thread = threading.get_ident()

    def set_value(self, value: T, /) -> None:
        """Record a value completion."""
        self._record("value")
        self.value = value

    def set_error(self, error: BaseException, /) -> None:
        """Record an error completion."""
        self._record("error")
        self.error = error

    def set_stopped(self) -> None:
        """Record a stopped completion."""
        self._record("stopped")

    def get_env(self) -> Env:
        """The environment given at construction."""
        return self._env

    def __repr__(self) -> str:
        return f"<{type(self).__name__} completion={self.completion}>"


class _ExpectingReceiver(RecordingReceiver[T]):
    expected_completion: Completion

    def __init__(self, **options: Unpack[ReceiverOptions]) -> None:
        super().__init__(**options)
        self._may_not_complete = False
        self._created_at = _creation_site()
        with _lock:
            _expectations.append(self)

    def allow_missing_completion(self) -> Self:
        """Excuse this receiver from the missing-completion check, for a test that abandons its
        operation on purpose; returns the receiver.

        Only the *absence* of a completion is excused: a completion that does arrive is still
        checked (channel, value, and that it comes only once).
        """
        self._may_not_complete = True
        return self

    def _expectation(self) -> str:
        return self.expected_completion

    def missing_completion(self) -> str | None:
        """The report for a receiver never completed (and not excused), else ``None``."""
        if self.completion is not None or self._may_not_complete:
            return None
        return (
            f"{self!r} created at {self._created_at} expected {self._expectation()} but was "
            "never completed (missing completion; call allow_missing_completion() on it if "
            "the test abandons the operation on purpose)"
        )

    def _record(self, completion: Completion) -> None:
        super()._record(completion)
        if completion != self.expected_completion:
            detail = f": {self.error!r}" if completion == "error" else ""
            _violate(f"{self!r} expected {self.expected_completion}, got {completion}{detail}")

    def set_error(self, error: BaseException, /) -> None:
        """Record an error completion (a violation unless an error was expected)."""
        self.error = error
        self._record("error")


class ExpectValueReceiver(_ExpectingReceiver[T]):
    """Expects ``set_value``; with ``expected`` given, a value equal to it."""

    expected_completion: Completion = "value"

    def __init__(
        self,
        expected: T | Any = MISSING,
        **options: Unpack[ReceiverOptions],
    ) -> None:
        super().__init__(**options)
        self.expected = expected

    def _expectation(self) -> str:
        return "value" if self.expected is MISSING else f"value {self.expected!r}"

    def set_value(self, value: T, /) -> None:
        """Record the value; a violation if it differs from ``expected``."""
        super().set_value(value)
        if self.expected is not MISSING and value != self.expected:
            _violate(f"{self!r} expected value {self.expected!r}, got {value!r}")


class ExpectErrorReceiver(_ExpectingReceiver[Any]):
    """Expects ``set_error``; optionally of type ``expected`` and matching regex ``match``."""

    expected_completion: Completion = "error"

    def __init__(
        self,
        expected: type[BaseException] = BaseException,
        *,
        match: str | None = None,
        **options: Unpack[ReceiverOptions],
    ) -> None:
        super().__init__(**options)
        self.expected = expected
        self.match = match

    def _expectation(self) -> str:
        match = "" if self.match is None else f" matching {self.match!r}"
        return f"error {self.expected.__name__}{match}"

    def set_error(self, error: BaseException, /) -> None:
        """Record the error; a violation if its type or message does not match."""
        super().set_error(error)
        if not isinstance(error, self.expected):
            _violate(f"{self!r} expected {self.expected.__name__}, got {error!r}")
        if self.match is not None and not re.search(self.match, str(error)):
            _violate(f"{self!r} expected an error matching {self.match!r}, got {error!r}")


class ExpectStoppedReceiver(_ExpectingReceiver[Any]):
    """Expects ``set_stopped``."""

    expected_completion: Completion = "stopped"
