"""Tests of then, upon_error and upon_stopped [exec.then]."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import dsexec as ex
from dsexec.testing import ExpectErrorReceiver, ExpectStoppedReceiver, ExpectValueReceiver


def _fail(*_: object) -> Any:
    raise KeyError("from the callback")


def test_then_maps_the_value() -> None:
    assert ex.sync_wait(ex.just(20) | ex.then(lambda x: x + 22)) == 42


def test_then_function_form_is_the_same_as_the_pipe_form() -> None:
    assert ex.sync_wait(ex.then(ex.just(2), lambda x: x * 3)) == 6


@pytest.mark.parametrize(
    ("sender", "receiver_factory"),
    [
        (ex.just_error(ValueError("e")), lambda: ExpectErrorReceiver(ValueError)),
        (ex.just_stopped(), ExpectStoppedReceiver),
    ],
    ids=["error", "stopped"],
)
def test_then_fn_not_called_on_error_or_stop(
    sender: ex.Sender[Any], receiver_factory: Callable[[], Any]
) -> None:
    calls: list[object] = []
    receiver = receiver_factory()
    ex.connect(sender | ex.then(calls.append), receiver).start()
    assert calls == []
    assert receiver.completed


def test_then_exception_from_fn_goes_down_the_error_channel() -> None:
    receiver = ExpectErrorReceiver(KeyError, match="from the callback")
    ex.connect(ex.just(1) | ex.then(_fail), receiver).start()


def test_upon_error_turns_the_error_into_a_value() -> None:
    pipeline = ex.just_error(ValueError("bad")) | ex.upon_error(lambda e: f"handled {e}")
    assert ex.sync_wait(pipeline) == "handled bad"


def test_upon_error_passes_values_through_without_calling_fn() -> None:
    calls: list[BaseException] = []
    assert ex.sync_wait(ex.just(7) | ex.upon_error(calls.append)) == 7
    assert calls == []


def test_upon_error_handler_that_raises_reports_its_own_error() -> None:
    receiver = ExpectErrorReceiver(KeyError)
    ex.connect(ex.just_error(ValueError("x")) | ex.upon_error(_fail), receiver).start()


def test_upon_stopped_turns_stop_into_a_value() -> None:
    assert ex.sync_wait(ex.just_stopped() | ex.upon_stopped(lambda: "was stopped")) == (
        "was stopped"
    )


def test_upon_stopped_passes_errors_through() -> None:
    receiver = ExpectErrorReceiver(ValueError)
    ex.connect(ex.upon_stopped(ex.just_error(ValueError()), lambda: 0), receiver).start()


def test_upon_stopped_exception_goes_down_the_error_channel() -> None:
    receiver = ExpectErrorReceiver(KeyError)
    ex.connect(ex.just_stopped() | ex.upon_stopped(_fail), receiver).start()


def test_then_forwards_the_environment_to_the_upstream() -> None:
    source = ex.StopSource()
    seen: list[ex.Env] = []

    class _EnvProbe(ex.Sender[None]):
        def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
            seen.append(receiver.get_env())
            return ex.connect(ex.just(None), receiver)

    receiver = ExpectValueReceiver(None, stop_token=source.token)
    ex.connect(_EnvProbe() | ex.then(lambda v: v), receiver).start()
    assert seen[0].stop_token == source.token


@pytest.mark.parametrize("algorithm", [ex.then, ex.upon_error, ex.upon_stopped])
def test_composition_errors_name_the_algorithm_when_built(algorithm: Any) -> None:
    name = algorithm.__name__
    with pytest.raises(TypeError, match=f"^{name}: expected a callable, got int"):
        algorithm(3)
    with pytest.raises(TypeError, match=f"^{name}: expected a Sender, got int"):
        algorithm(3, lambda *_: None)
    with pytest.raises(TypeError, match=f"^{name}: expected a callable, got NoneType"):
        algorithm(ex.just(1), None)


def test_adaptor_applied_to_a_non_sender_names_the_algorithm() -> None:
    adaptor = ex.then(str)
    with pytest.raises(TypeError, match=r"^then: expected a Sender"):
        adaptor(5)  # type: ignore[arg-type]


def test_piping_a_plain_function_says_then_is_missing() -> None:
    sender = ex.just(1)
    with pytest.raises(TypeError, match=r"sender \| <lambda>: <lambda> is not a sender adaptor.*"
                       r"sender \| then\(<lambda>\)"):
        sender | (lambda x: x + 1)  # type: ignore[operator]

    def double(x: int) -> int:
        return 2 * x

    with pytest.raises(TypeError, match=r"then\(double\)"):
        sender | double  # type: ignore[operator]


def test_a_function_wrapped_as_a_sender_adaptor_pipes() -> None:
    def twice(sender: ex.Sender[int]) -> ex.Sender[int]:
        return sender | ex.then(lambda x: 2 * x)

    assert ex.sync_wait(ex.just(21) | ex.SenderAdaptor("twice", twice)) == 42


def test_piping_a_non_callable_is_the_usual_operand_error() -> None:
    with pytest.raises(TypeError, match="unsupported operand"):
        ex.just(1) | 3  # type: ignore[operator]
