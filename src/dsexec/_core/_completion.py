"""The three completion channels, and one record to store a completion and replay it later.

Algorithms that wait for something else before completing (``finally_`` for its cleanup,
``continues_on`` for its hop, ``when_any`` for the losers, a ``spawn_future`` for its consumer)
keep the completion they will deliver as a :class:`Completion` and call :meth:`deliver` once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, final

from ._exceptions import Stopped
from ._sender import Receiver

if TYPE_CHECKING:
    from ._env import Env

__all__ = [
    "ERROR",
    "STOPPED",
    "STOPPED_COMPLETION",
    "VALUE",
    "Completion",
    "CompletionSink",
    "StoringReceiver",
]

VALUE: Final = 0
"""``set_value``."""
ERROR: Final = 1
"""``set_error``."""
STOPPED: Final = 2
"""``set_stopped``."""


@final
class Completion:
    """One completion on one channel: ``Completion(VALUE, v)``, ``Completion(ERROR, exc)`` or
    :data:`STOPPED_COMPLETION`; ``deliver(receiver)`` replays it."""

    __slots__ = ("channel", "payload")

    def __init__(self, channel: int, payload: Any = None) -> None:
        self.channel = channel
        self.payload = payload

    @staticmethod
    def of_value(value: object) -> Completion:
        """A value completion."""
        return Completion(VALUE, value)

    @staticmethod
    def of_error(error: BaseException) -> Completion:
        """An error completion."""
        return Completion(ERROR, error)

    def deliver(self, receiver: Receiver[Any]) -> None:
        """Complete ``receiver`` the way this completion says."""
        channel = self.channel
        if channel == VALUE:
            receiver.set_value(self.payload)
        elif channel == ERROR:
            receiver.set_error(self.payload)
        else:
            receiver.set_stopped()

    def __repr__(self) -> str:
        if self.channel == STOPPED:
            return "<Completion stopped>"
        name = "value" if self.channel == VALUE else "error"
        return f"<Completion {name}: {self.payload!r:.60}>"


STOPPED_COMPLETION: Final = Completion(STOPPED)
"""The stopped completion (it carries nothing, so one instance serves everyone)."""


class CompletionSink:
    """The three completion methods of a receiver that handles every channel alike: each turns
    its completion into a :class:`Completion` and hands it to :meth:`receive`."""

    __slots__ = ()

    def receive(self, completion: Completion, /) -> None:
        """Handle the completion (defined by the subclass)."""
        raise NotImplementedError

    def set_value(self, value: object, /) -> None:
        """``receive`` a value completion."""
        self.receive(Completion(VALUE, value))

    def set_error(self, error: BaseException, /) -> None:
        """``receive`` an error completion."""
        self.receive(Completion(ERROR, error))

    def set_stopped(self) -> None:
        """``receive`` the stopped completion."""
        self.receive(STOPPED_COMPLETION)


class StoringReceiver(CompletionSink):
    """A receiver that keeps its completion in ``result`` and then calls ``completed()``:
    the end of a pipeline driven from outside (``sync_wait``, ``await sender``).

    :meth:`outcome` then returns the value, raises the error, or raises :class:`Stopped`.
    """

    __slots__ = ("_env", "result")

    def __init__(self, env: Env) -> None:
        self._env = env
        self.result: Completion | None = None

    def completed(self) -> None:
        """Called once, right after ``result`` is set (on the completing thread)."""

    def receive(self, completion: Completion, /) -> None:
        """Store the completion, then call ``completed()``."""
        self.result = completion
        self.completed()

    def get_env(self) -> Env:
        return self._env

    def is_done(self) -> bool:
        """Whether the completion has arrived."""
        return self.result is not None

    def outcome(self, what: str) -> Any:
        """The value; raises the error (the original object), or ``Stopped`` naming ``what``."""
        result = self.result
        assert result is not None, f"{what}: the sender has not completed"
        if result.channel == VALUE:
            return result.payload
        if result.channel == ERROR:
            raise result.payload
        raise Stopped(f"{what}: the sender completed with set_stopped")
