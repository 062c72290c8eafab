"""Tests of finally_ (stdexec's exec::finally)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import dsexec as ex
from dsexec import finally_, unstoppable
from dsexec.testing import (
    ExpectErrorReceiver,
    ExpectStoppedReceiver,
    ExpectValueReceiver,
    RecordingReceiver,
)


def _logging(events: list[str], name: str, sender: ex.Sender[Any]) -> ex.Sender[Any]:
    """``sender``, logging to ``events`` when it is started and when it completes."""

    class _Logged(ex.Sender[Any]):
        def connect(self, receiver: ex.Receiver[Any], /) -> ex.OperationState:
            op = ex.connect(sender | ex.then(self._done), receiver)

            class _Op:
                def start(self) -> None:
                    events.append(f"{name} started")
                    op.start()

            return _Op()

        @staticmethod
        def _done(value: Any) -> Any:
            events.append(f"{name} done")
            return value

    return _Logged()


@pytest.mark.parametrize(
    ("upstream", "expected"),
    [
        (ex.just(3), "value"),
        (ex.just_error(ValueError("upstream")), "error"),
        (ex.just_stopped(), "stopped"),
    ],
    ids=["value", "error", "stopped"],
)
def test_finally_runs_cleanup_after_every_path_and_delivers_the_upstream_completion(
    upstream: ex.Sender[Any], expected: str
) -> None:
    events: list[str] = []
    receiver: RecordingReceiver[Any] = RecordingReceiver()
    ex.connect(upstream | finally_(_logging(events, "cleanup", ex.just(None))), receiver).start()
    assert events == ["cleanup started", "cleanup done"]
    assert receiver.completion == expected
    if expected == "value":
        assert receiver.value == 3
    if expected == "error":
        assert isinstance(receiver.error, ValueError)


def test_finally_function_form_is_the_same_as_the_pipe_form() -> None:
    assert ex.sync_wait(finally_(ex.just("kept"), ex.just("dropped"))) == "kept"


def test_finally_starts_cleanup_only_after_the_upstream_completed() -> None:
    events: list[str] = []
    with ex.VirtualTimeScheduler() as vts:
        upstream = _logging(events, "upstream", vts.schedule_after(5) | ex.then(lambda _: 1))
        cleanup = _logging(events, "cleanup", vts.schedule_after(2))
        assert ex.sync_wait(upstream | finally_(cleanup), context=vts) == 1
        assert vts.now() == 7.0
    assert events == ["upstream started", "upstream done", "cleanup started", "cleanup done"]


def test_finally_cleanup_error_replaces_the_upstream_completion() -> None:
    receiver = ExpectErrorReceiver(KeyError, match="cleanup failed")
    pipeline = ex.just_error(ValueError()) | finally_(ex.just_error(KeyError("cleanup failed")))
    ex.connect(pipeline, receiver).start()


def test_finally_stopped_cleanup_completes_stopped() -> None:
    receiver = ExpectStoppedReceiver()
    ex.connect(ex.just(1) | finally_(ex.just_stopped()), receiver).start()


def test_finally_cleanup_that_cannot_connect_goes_down_the_error_channel() -> None:
    class _Unconnectable(ex.Sender[None]):
        def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
            raise OSError("cannot connect")

    receiver = ExpectErrorReceiver(OSError, match="cannot connect")
    ex.connect(ex.just(1) | finally_(_Unconnectable()), receiver).start()


def test_finally_cleanup_gets_the_downstream_environment() -> None:
    source = ex.StopSource()
    seen: list[ex.Env] = []

    class _EnvProbe(ex.Sender[None]):
        def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
            seen.append(receiver.get_env())
            return ex.connect(ex.just(None), receiver)

    receiver = ExpectValueReceiver(1, stop_token=source.token)
    ex.connect(ex.just(1) | finally_(_EnvProbe()), receiver).start()
    assert seen[0].stop_token == source.token


def test_finally_stop_reaches_the_upstream_and_the_cleanup_still_runs() -> None:
    source = ex.StopSource()
    events: list[str] = []
    with ex.VirtualTimeScheduler() as vts:
        receiver = ExpectStoppedReceiver(stop_token=source.token)
        cleanup = _logging(events, "cleanup", ex.just(None))
        ex.connect(vts.schedule_after(10) | finally_(cleanup), receiver).start()
        source.request_stop()
        assert receiver.completed
        assert vts.statistics().timers == 0
    assert events == ["cleanup started", "cleanup done"]


def test_finally_stop_reaches_a_cancellable_cleanup() -> None:
    source = ex.StopSource()
    with ex.VirtualTimeScheduler() as vts:
        receiver = ExpectStoppedReceiver(stop_token=source.token)
        ex.connect(ex.just(1) | finally_(vts.schedule_after(10)), receiver).start()
        source.request_stop()
        assert receiver.completed
        assert vts.statistics().timers == 0


def test_finally_with_an_unstoppable_cleanup_runs_it_to_the_end() -> None:
    source = ex.StopSource()
    with ex.VirtualTimeScheduler() as vts:
        receiver = ExpectStoppedReceiver(stop_token=source.token)
        cleanup = vts.schedule_after(3) | unstoppable()
        ex.connect(vts.schedule_after(10) | finally_(cleanup), receiver).start()
        source.request_stop()
        assert vts.statistics().timers == 1
        vts.run()
        assert receiver.completed
        assert vts.now() == 3.0


@pytest.mark.parametrize(
    "build",
    [
        lambda: finally_(3),  # type: ignore[call-overload]
        lambda: finally_(3, ex.just(None)),  # type: ignore[call-overload]
        lambda: finally_(ex.just(None), 3),  # type: ignore[call-overload]
        lambda: finally_(ex.just(None))(3),  # type: ignore[arg-type]
    ],
    ids=["adaptor-cleanup", "sender", "cleanup", "adaptor-applied"],
)
def test_finally_composition_errors_name_the_algorithm_when_built(
    build: Callable[[], object],
) -> None:
    with pytest.raises(TypeError, match=r"^finally_: expected a Sender, got int"):
        build()
