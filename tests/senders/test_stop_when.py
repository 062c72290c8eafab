"""Tests of stop_when: stop the upstream when a trigger sender completes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests._helpers import Manual, pending

import dsexec as ex
from dsexec import stop_when
from dsexec.testing import (
    ExpectErrorReceiver,
    ExpectStoppedReceiver,
    ExpectValueReceiver,
)

_FORMS: dict[str, Callable[[ex.Sender[Any], ex.Sender[Any]], ex.Sender[Any]]] = {
    "pipe": lambda s, trigger: s | stop_when(trigger),
    "call": stop_when,
}


@pytest.mark.parametrize("form", _FORMS.values(), ids=_FORMS.keys())
def test_the_trigger_stops_the_upstream_when_it_fires(
    form: Any, vts: ex.VirtualTimeScheduler
) -> None:
    with pytest.raises(ex.Stopped):
        ex.sync_wait(form(vts.schedule_after(10), vts.schedule_after(2)), context=vts)
    assert vts.now() == 2
    assert vts.statistics().timers == 0


@pytest.mark.parametrize("form", _FORMS.values(), ids=_FORMS.keys())
def test_an_upstream_finishing_first_stops_the_trigger(
    form: Any, vts: ex.VirtualTimeScheduler
) -> None:
    sender = form(vts.schedule_after(1) | ex.then(lambda _: "first"), vts.schedule_after(3600))
    assert ex.sync_wait(sender, context=vts) == "first"
    assert vts.now() == 1
    assert vts.statistics().timers == 0


@pytest.mark.parametrize(
    "trigger",
    [ex.just(None), ex.just_error(OSError("ignored")), ex.just_stopped()],
    ids=["value", "error", "stopped"],
)
def test_any_completion_of_the_trigger_stops_the_upstream(
    trigger: ex.Sender[Any], vts: ex.VirtualTimeScheduler
) -> None:
    receiver = ExpectStoppedReceiver()
    ex.connect(vts.schedule_after(60) | stop_when(trigger), receiver).start()
    assert receiver.completed
    assert vts.statistics().timers == 0


@pytest.mark.parametrize(
    ("finish", "receiver_factory"),
    [
        (lambda m: m.complete_value("made it"), lambda: ExpectValueReceiver("made it")),
        (lambda m: m.complete_error(OSError("late")), lambda: ExpectErrorReceiver(OSError)),
        (lambda m: m.complete_stopped(), ExpectStoppedReceiver),
    ],
    ids=["value", "error", "stopped"],
)
def test_the_result_is_the_upstreams_completion_after_the_stop_request(
    finish: Callable[[Manual], None], receiver_factory: Any
) -> None:
    events: list[str] = []
    upstream = Manual("upstream", events)
    trigger = Manual("trigger", events)
    receiver = receiver_factory()
    ex.connect(upstream | stop_when(trigger), receiver).start()
    assert events == ["upstream started", "trigger started"]
    trigger.complete_value(None)
    assert events[-1] == "upstream stop requested"
    assert pending(receiver)  # waits for the upstream
    finish(upstream)
    assert receiver.completed


def test_the_operation_waits_for_a_trigger_that_ignores_stop() -> None:
    events: list[str] = []
    upstream = Manual("upstream", events)
    trigger = Manual("trigger", events)
    receiver = ExpectValueReceiver(5)
    ex.connect(upstream | stop_when(trigger), receiver).start()
    upstream.complete_value(5)
    assert events[-1] == "trigger stop requested"
    assert pending(receiver)
    trigger.complete_stopped()
    assert receiver.completed


def test_an_inline_upstream_never_starts_the_trigger() -> None:
    events: list[str] = []
    receiver = ExpectValueReceiver(3)
    ex.connect(ex.just(3) | stop_when(Manual("trigger", events)), receiver).start()
    assert events == []


def test_outer_stop_stops_both_promptly(vts: ex.VirtualTimeScheduler) -> None:
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(vts.schedule_after(100) | stop_when(vts.schedule_after(50)), receiver).start()
    assert vts.statistics().timers == 2
    source.request_stop()
    assert receiver.completed
    assert vts.statistics().timers == 0


def test_stop_requested_before_start_starts_nothing() -> None:
    events: list[str] = []
    source = ex.StopSource()
    source.request_stop()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    upstream = Manual("upstream", events)
    ex.connect(upstream | stop_when(Manual("trigger", events)), receiver).start()
    assert events == []


def test_both_children_see_a_new_stop_token_and_the_same_scheduler(
    vts: ex.VirtualTimeScheduler,
) -> None:
    events: list[str] = []
    upstream = Manual("upstream", events)
    trigger = Manual("trigger", events)
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token, scheduler=vts.get_scheduler())
    ex.connect(upstream | stop_when(trigger), receiver).start()
    assert upstream.receiver is not None
    assert trigger.receiver is not None
    up_env, trigger_env = upstream.receiver.get_env(), trigger.receiver.get_env()
    assert up_env.stop_token == trigger_env.stop_token != source.token
    assert up_env.scheduler == trigger_env.scheduler == vts.get_scheduler()
    source.request_stop()
    assert set(events[-2:]) == {"trigger stop requested", "upstream stop requested"}
    trigger.complete_stopped()
    upstream.complete_stopped()


def test_connect_raising_for_the_trigger_is_ignored_like_a_trigger_error() -> None:
    class _Unconnectable(ex.Sender[None]):
        def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
            raise OSError("cannot connect")

    events: list[str] = []
    upstream = Manual("upstream", events)
    receiver = ExpectStoppedReceiver()
    ex.connect(upstream | stop_when(_Unconnectable()), receiver).start()
    assert events == ["upstream started", "upstream stop requested"]
    upstream.complete_stopped()


def test_connect_raising_for_the_upstream_goes_down_the_error_channel() -> None:
    class _Unconnectable(ex.Sender[None]):
        def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
            raise OSError("cannot connect")

    events: list[str] = []
    receiver = ExpectErrorReceiver(OSError, match="cannot connect")
    ex.connect(_Unconnectable() | stop_when(Manual("trigger", events)), receiver).start()
    assert events == []


@pytest.mark.parametrize(
    ("algorithm", "args"),
    [
        (stop_when, (3,)),
        (stop_when, (ex.just(1), 3)),
        (stop_when, (3, ex.just(1))),
        (stop_when(ex.just(1)), (3,)),
    ],
)
def test_bad_composition_is_refused_when_built_naming_stop_when(
    algorithm: Any, args: tuple[Any, ...]
) -> None:
    with pytest.raises(TypeError, match=r"^stop_when: expected a Sender, got int"):
        algorithm(*args)
