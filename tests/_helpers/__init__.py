"""Shared test helpers: a hand-completed sender that logs what happens to it."""

from __future__ import annotations

from typing import Any

import dsexec as ex
from dsexec.testing import RecordingReceiver

__all__ = ["Manual", "manuals", "pending"]


class Manual(ex.Sender[Any]):
    """A single-use sender that completes when the test says so; logs start and stop requests.

    A stop request does not complete it: the test decides when (and how) it completes.
    """

    def __init__(self, name: str, events: list[str]) -> None:
        self.name = name
        self.events = events
        self.receiver: ex.Receiver[Any] | None = None
        self.env: ex.Env | None = None
        self._callback: ex.StopCallback | None = None

    def connect(self, receiver: ex.Receiver[Any], /) -> ex.OperationState:
        self.receiver = receiver
        return self

    def start(self) -> None:
        assert self.receiver is not None
        self.events.append(f"{self.name} started")
        self.env = self.receiver.get_env()
        self._callback = self.env.stop_token.register(self._on_stop)

    def _on_stop(self) -> None:
        self.events.append(f"{self.name} stop requested")

    def _finish(self, how: str) -> ex.Receiver[Any]:
        assert self.receiver is not None
        assert self._callback is not None
        self._callback.unregister()
        self.events.append(f"{self.name} {how}")
        return self.receiver

    def complete_value(self, value: object) -> None:
        self._finish("value").set_value(value)

    def complete_error(self, error: BaseException) -> None:
        self._finish("error").set_error(error)

    def complete_stopped(self) -> None:
        self._finish("stopped").set_stopped()


def pending(receiver: RecordingReceiver[Any]) -> bool:
    """Whether ``receiver`` is still waiting (a function, so mypy does not narrow it)."""
    return not receiver.completed


def manuals(count: int) -> tuple[list[str], list[Manual]]:
    events: list[str] = []
    return events, [Manual(chr(ord("a") + i), events) for i in range(count)]


class CallbackCountingReceiver(RecordingReceiver[Any]):
    """Records, at each completion, how many stop callbacks ``source`` still holds: an
    algorithm must unregister its own before completing (the list should read ``[0]``)."""

    def __init__(self, source: ex.StopSource) -> None:
        super().__init__(stop_token=source.token)
        self._source = source
        self.callbacks_seen: list[int] = []

    def set_value(self, value: Any, /) -> None:
        self.callbacks_seen.append(len(self._source._callbacks))
        super().set_value(value)

    def set_error(self, error: BaseException, /) -> None:
        self.callbacks_seen.append(len(self._source._callbacks))
        super().set_error(error)

    def set_stopped(self) -> None:
        self.callbacks_seen.append(len(self._source._callbacks))
        super().set_stopped()
