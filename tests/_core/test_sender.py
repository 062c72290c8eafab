"""The sender protocol's public faces: ``connect`` as a function, and what a user's sender
subclass gets from :class:`Sender`, the same in both builds."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest

import dsexec as ex
from dsexec.testing import RecordingReceiver


class _Answer(ex.Sender[int]):
    """A user's sender, as users write one: a plain subclass (no ``__slots__``)."""

    def connect(self, receiver: ex.Receiver[int], /) -> ex.OperationState:
        return ex.connect(ex.just(42), receiver)


def _increment(value: int) -> int:
    return value + 1


@pytest.mark.parametrize("not_a_sender", [42, None, ex.then(_increment)])
def test_connect_refuses_what_is_not_a_sender_naming_itself(not_a_sender: Any) -> None:
    receiver = RecordingReceiver[Any]()
    with pytest.raises(TypeError, match=r"^connect: expected a Sender, got "):
        ex.connect(not_a_sender, receiver)


def test_a_users_sender_subclass_connects_pipes_and_keeps_attributes() -> None:
    sender = _Answer()
    sender.note = "mine"  # type: ignore[attr-defined]  # users' subclasses have a __dict__
    assert ex.sync_wait(sender | ex.then(_increment)) == 43
    receiver = RecordingReceiver[int]()
    ex.connect(sender, receiver).start()
    assert receiver.value == 42


@pytest.mark.parametrize(
    "make",
    [
        _Answer,
        lambda: ex.just(1),
        lambda: ex.just(1) | ex.then(_increment),
        lambda: ex.just(1) | ex.let_value(ex.just),
    ],
    ids=["user subclass", "just", "then", "let_value"],
)
def test_a_weakly_referenced_sender_is_freed_and_its_reference_cleared(make: Any) -> None:
    # The compiled build once freed the weak reference along with the sender (setup.py,
    # mend_weakref_dealloc): a crash here, not a failure; tests/test_compiled.py runs the same
    # in a process of its own.
    for _ in range(3):
        sender = make()
        try:
            reference = weakref.ref(sender)
        except TypeError:
            # dsexec's own senders may refuse: they have __slots__ in the pure build, and
            # compiled on Python 3.12+ (mypyc gives a class with a Python base, such as Generic
            # or Sender, a __weakref__ slot on 3.11 only); a user's subclass always takes them
            assert not isinstance(sender, _Answer)
            return
        callback_reference = weakref.ref(sender, lambda _reference: None)
        del sender
        gc.collect()
        assert reference() is None
        assert callback_reference() is None
