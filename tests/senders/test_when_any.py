"""Tests of when_any (stdexec's exec::when_any): the first completion wins."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from tests._helpers import CallbackCountingReceiver, manuals, pending

import dsexec as ex
from dsexec import when_any
from dsexec.testing import (
    ExpectErrorReceiver,
    ExpectStoppedReceiver,
    ExpectValueReceiver,
    RecordingReceiver,
)


def test_when_any_completes_with_the_first_value() -> None:
    events, (a, b, c) = manuals(3)
    receiver = ExpectValueReceiver("b wins")
    ex.connect(when_any(a, b, c), receiver).start()
    b.complete_value("b wins")
    assert {"a stop requested", "c stop requested"} <= set(events)
    a.complete_stopped()
    assert pending(receiver)
    c.complete_value("too late")
    assert receiver.completed
    assert events[-1] == "c value"


def test_when_any_of_timers_completes_with_the_earliest_and_cancels_the_rest() -> None:
    with ex.VirtualTimeScheduler() as vts:
        pipeline = when_any(
            vts.schedule_after(5) | ex.then(lambda _: "slow"),
            vts.schedule_after(1) | ex.then(lambda _: "fast"),
        )
        assert ex.sync_wait(pipeline, context=vts) == "fast"
        assert vts.now() == 1.0
        assert vts.statistics().timers == 0


def test_when_any_of_inline_senders_takes_the_first_started() -> None:
    assert ex.sync_wait(when_any(ex.just(1), ex.just(2))) == 1


def test_when_any_of_one_sender_is_that_sender() -> None:
    assert ex.sync_wait(when_any(ex.just("only"))) == "only"


def test_when_any_first_error_wins_after_the_others_completed() -> None:
    events, (a, b) = manuals(2)
    receiver = ExpectErrorReceiver(ValueError, match="a failed")
    ex.connect(when_any(a, b), receiver).start()
    a.complete_error(ValueError("a failed"))
    assert "b stop requested" in events
    assert pending(receiver)
    b.complete_value(2)
    assert receiver.completed


def test_when_any_first_stopped_wins_over_a_later_value() -> None:
    events, (a, b) = manuals(2)
    receiver = ExpectStoppedReceiver()
    ex.connect(when_any(a, b), receiver).start()
    b.complete_stopped()
    assert "a stop requested" in events
    a.complete_value(1)


def test_when_any_value_wins_over_a_later_error() -> None:
    _, (a, b) = manuals(2)
    receiver = ExpectValueReceiver(1)
    ex.connect(when_any(a, b), receiver).start()
    a.complete_value(1)
    b.complete_error(ValueError("ignored"))


def test_when_any_outer_stop_stops_every_child_and_completes_stopped() -> None:
    source = ex.StopSource()
    with ex.VirtualTimeScheduler() as vts:
        receiver = ExpectStoppedReceiver(stop_token=source.token)
        ex.connect(when_any(vts.schedule_after(10), vts.schedule_after(20)), receiver).start()
        assert vts.statistics().timers == 2
        source.request_stop()
        assert receiver.completed
        assert vts.statistics().timers == 0
        assert source._callbacks == {}


def test_when_any_outer_stop_waits_for_every_child() -> None:
    source = ex.StopSource()
    events, (a, b) = manuals(2)
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(when_any(a, b), receiver).start()
    source.request_stop()
    assert {"a stop requested", "b stop requested"} <= set(events)
    a.complete_stopped()
    assert pending(receiver)
    b.complete_stopped()
    assert receiver.completed


def test_when_any_with_stop_already_requested_starts_no_child() -> None:
    source = ex.StopSource()
    source.request_stop()
    events, (a, b) = manuals(2)
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(when_any(a, b), receiver).start()
    assert events == []
    assert source._callbacks == {}


@pytest.mark.parametrize("outcome", ["value", "error", "stopped"])
def test_when_any_unregisters_its_outer_stop_callback_before_completing(outcome: str) -> None:
    source = ex.StopSource()
    _, (a, b) = manuals(2)
    receiver = CallbackCountingReceiver(source)
    ex.connect(when_any(a, b), receiver).start()
    assert len(source._callbacks) == 1
    if outcome == "value":
        a.complete_value(1)
    elif outcome == "error":
        a.complete_error(ValueError())
    else:
        a.complete_stopped()
    b.complete_stopped()
    assert receiver.completion == outcome
    assert receiver.callbacks_seen == [0]
    assert source._callbacks == {}


def test_when_any_children_see_a_new_stop_token_and_the_same_scheduler() -> None:
    source = ex.StopSource()
    with ex.VirtualTimeScheduler() as vts:
        _, (a,) = manuals(1)
        scheduler = vts.get_scheduler()
        receiver = ExpectValueReceiver(7, stop_token=source.token, scheduler=scheduler)
        ex.connect(when_any(a), receiver).start()
        assert a.env is not None
        assert a.env.stop_token != source.token
        assert a.env.scheduler is scheduler
        a.complete_value(7)


def test_when_any_children_completing_on_different_threads() -> None:
    count = 8
    events, children = manuals(count)
    receiver: RecordingReceiver[Any] = RecordingReceiver()
    ex.connect(when_any(*children), receiver).start()
    barrier = threading.Barrier(count)

    def complete(index: int) -> None:
        barrier.wait()
        children[index].complete_value(index)

    threads = [threading.Thread(target=complete, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert receiver.completion == "value"
    assert receiver.value in range(count)
    assert sum(event.endswith(" value") for event in events) == count


def test_when_any_is_reusable_each_connect_gets_fresh_state() -> None:
    sender = when_any(ex.just(1), ex.just(2))
    assert ex.sync_wait(sender) == 1
    assert ex.sync_wait(sender) == 1


def test_when_any_needs_at_least_one_sender() -> None:
    with pytest.raises(TypeError, match=r"^when_any: expected at least one Sender"):
        when_any()  # type: ignore[call-overload]


def test_when_any_rejects_a_non_sender_when_built() -> None:
    with pytest.raises(TypeError, match=r"^when_any: expected a Sender, got str"):
        when_any(ex.just(1), "x")  # type: ignore[call-overload]
