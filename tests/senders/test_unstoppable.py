"""Tests of unstoppable (stdexec's exec::unstoppable)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import dsexec as ex
from dsexec import unstoppable
from dsexec.testing import ExpectErrorReceiver, ExpectStoppedReceiver, ExpectValueReceiver

_FORMS: list[Callable[[ex.Sender[Any]], ex.Sender[Any]]] = [
    lambda s: s | unstoppable(),
    unstoppable,
]
_FORM_IDS = ["pipe", "function"]


@pytest.mark.parametrize("form", _FORMS, ids=_FORM_IDS)
def test_unstoppable_upstream_sees_a_never_stop_token_and_the_same_scheduler(form: Any) -> None:
    source = ex.StopSource()
    seen: list[ex.Env] = []

    class _EnvProbe(ex.Sender[str]):
        def connect(self, receiver: ex.Receiver[str], /) -> ex.OperationState:
            seen.append(receiver.get_env())
            return ex.connect(ex.just("probed"), receiver)

    with ex.VirtualTimeScheduler() as vts:
        scheduler = vts.get_scheduler()
        receiver = ExpectValueReceiver("probed", stop_token=source.token, scheduler=scheduler)
        ex.connect(form(_EnvProbe()), receiver).start()
    assert not seen[0].stop_token.stop_possible()
    assert seen[0].stop_token == ex.StopToken.never()
    assert seen[0].scheduler is scheduler


def test_unstoppable_timer_runs_to_the_end_despite_a_stop_request() -> None:
    source = ex.StopSource()
    with ex.VirtualTimeScheduler() as vts:
        receiver = ExpectValueReceiver(5.0, stop_token=source.token)
        pipeline = vts.schedule_after(5) | ex.then(lambda _: vts.now())
        ex.connect(pipeline | unstoppable(), receiver).start()
        source.request_stop()
        assert receiver.completion is None
        vts.run()
        assert receiver.completed
    assert source._callbacks == {}


@pytest.mark.parametrize("form", _FORMS, ids=_FORM_IDS)
def test_unstoppable_passes_every_channel_through(form: Any) -> None:
    assert ex.sync_wait(form(ex.just(1))) == 1
    failing = ExpectErrorReceiver(ValueError)
    ex.connect(form(ex.just_error(ValueError())), failing).start()
    stopping = ExpectStoppedReceiver()
    ex.connect(form(ex.just_stopped()), stopping).start()


def test_unstoppable_composition_errors_name_the_algorithm_when_built() -> None:
    with pytest.raises(TypeError, match=r"^unstoppable: expected a Sender, got int"):
        unstoppable(3)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"^unstoppable: expected a Sender, got str"):
        unstoppable()("x")  # type: ignore[arg-type]
