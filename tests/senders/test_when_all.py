"""Tests of when_all [exec.when.all]."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from tests._helpers import CallbackCountingReceiver, manuals, pending

import dsexec as ex
from dsexec import when_all
from dsexec.testing import (
    ExpectErrorReceiver,
    ExpectStoppedReceiver,
    ExpectValueReceiver,
    RecordingReceiver,
)


def test_when_all_completes_with_the_values_in_argument_order() -> None:
    events, (a, b, c) = manuals(3)
    receiver = ExpectValueReceiver((1, "two", 3.0))
    ex.connect(when_all(a, b, c), receiver).start()
    c.complete_value(3.0)
    a.complete_value(1)
    assert pending(receiver)
    b.complete_value("two")
    assert receiver.completed
    assert events[:3] == ["a started", "b started", "c started"]


def test_when_all_of_inline_senders_under_sync_wait() -> None:
    assert ex.sync_wait(when_all(ex.just(1), ex.just("a"), ex.just(None))) == (1, "a", None)


def test_when_all_of_nothing_completes_with_an_empty_tuple() -> None:
    receiver = ExpectValueReceiver(())
    ex.connect(when_all(), receiver).start()
    assert receiver.completed


def test_when_all_of_timers_completes_when_the_last_timer_fires() -> None:
    with ex.VirtualTimeScheduler() as vts:
        pipeline = when_all(
            vts.schedule_after(2) | ex.then(lambda _: "slow"),
            vts.schedule_after(1) | ex.then(lambda _: "fast"),
        )
        assert ex.sync_wait(pipeline, context=vts) == ("slow", "fast")
        assert vts.now() == 2.0


def test_when_all_error_stops_the_siblings_and_waits_for_them() -> None:
    events, (a, b, c) = manuals(3)
    receiver = ExpectErrorReceiver(ValueError, match="b failed")
    ex.connect(when_all(a, b, c), receiver).start()
    b.complete_error(ValueError("b failed"))
    assert "a stop requested" in events
    assert "c stop requested" in events
    a.complete_stopped()
    assert pending(receiver)
    c.complete_value(3)
    assert receiver.completed
    assert events[-1] == "c value"


def test_when_all_delivers_the_first_error_only() -> None:
    _, (a, b) = manuals(2)
    receiver = ExpectErrorReceiver(KeyError, match="first")
    ex.connect(when_all(a, b), receiver).start()
    b.complete_error(KeyError("first"))
    a.complete_error(ValueError("second"))


def test_when_all_error_beats_stopped_even_when_it_comes_later() -> None:
    _, (a, b) = manuals(2)
    receiver = ExpectErrorReceiver(ValueError)
    ex.connect(when_all(a, b), receiver).start()
    a.complete_stopped()
    b.complete_error(ValueError("failed while stopping"))


def test_when_all_stopped_child_stops_the_siblings_and_completes_stopped() -> None:
    events, (a, b) = manuals(2)
    receiver = ExpectStoppedReceiver()
    ex.connect(when_all(a, b), receiver).start()
    a.complete_stopped()
    assert "b stop requested" in events
    assert pending(receiver)
    b.complete_value(2)
    assert receiver.completed


def test_when_all_inline_error_stops_the_children_started_after_it() -> None:
    with ex.VirtualTimeScheduler() as vts:
        pipeline = when_all(ex.just_error(ValueError("now")), vts.schedule_after(100))
        with pytest.raises(ValueError, match="now"):
            ex.sync_wait(pipeline, context=vts)
        assert vts.now() == 0.0
        assert vts.statistics().timers == 0


def test_when_all_outer_stop_reaches_every_pending_child() -> None:
    source = ex.StopSource()
    with ex.VirtualTimeScheduler() as vts:
        receiver = ExpectStoppedReceiver(stop_token=source.token)
        pipeline = when_all(vts.schedule_after(10), vts.schedule_after(20), ex.just(1))
        ex.connect(pipeline, receiver).start()
        assert vts.statistics().timers == 2
        source.request_stop()
        assert receiver.completed
        assert vts.statistics().timers == 0
        assert vts.now() == 0.0


def test_when_all_outer_stop_waits_for_children_that_are_slow_to_stop() -> None:
    source = ex.StopSource()
    events, (a, b) = manuals(2)
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(when_all(a, b), receiver).start()
    source.request_stop()
    assert sorted(events) == ["a started", "a stop requested", "b started", "b stop requested"]
    a.complete_stopped()
    assert pending(receiver)
    b.complete_stopped()
    assert receiver.completed


def test_when_all_children_that_finish_despite_a_stop_request_deliver_their_values() -> None:
    source = ex.StopSource()
    _, (a, b) = manuals(2)
    receiver = ExpectValueReceiver((1, 2), stop_token=source.token)
    ex.connect(when_all(a, b), receiver).start()
    source.request_stop()
    a.complete_value(1)
    b.complete_value(2)


def test_when_all_with_stop_already_requested_starts_no_child() -> None:
    source = ex.StopSource()
    source.request_stop()
    events, (a, b) = manuals(2)
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(when_all(a, b), receiver).start()
    assert events == []
    assert source._callbacks == {}


@pytest.mark.parametrize("outcome", ["value", "error", "stopped"])
def test_when_all_unregisters_its_outer_stop_callback_before_completing(outcome: str) -> None:
    source = ex.StopSource()
    _, (a, b) = manuals(2)
    receiver = CallbackCountingReceiver(source)
    ex.connect(when_all(a, b), receiver).start()
    assert len(source._callbacks) == 1
    a.complete_value(1)
    if outcome == "value":
        b.complete_value(2)
    elif outcome == "error":
        b.complete_error(ValueError())
    else:
        b.complete_stopped()
    assert receiver.completion == outcome
    assert receiver.callbacks_seen == [0]
    assert source._callbacks == {}


def test_when_all_children_see_a_new_stop_token_and_the_same_scheduler() -> None:
    source = ex.StopSource()
    with ex.VirtualTimeScheduler() as vts:
        events, (a,) = manuals(1)
        scheduler = vts.get_scheduler()
        receiver = ExpectValueReceiver((None,), stop_token=source.token, scheduler=scheduler)
        ex.connect(when_all(a), receiver).start()
        assert a.env is not None
        assert a.env.stop_token != source.token
        assert a.env.stop_token.stop_possible()
        assert a.env.scheduler is scheduler
        a.complete_value(None)
        assert events == ["a started", "a value"]


@pytest.mark.parametrize("failing", [None, 3])
def test_when_all_children_completing_on_different_threads(failing: int | None) -> None:
    count = 8
    _, children = manuals(count)
    receiver: RecordingReceiver[Any] = RecordingReceiver()
    ex.connect(when_all(*children), receiver).start()
    barrier = threading.Barrier(count)

    def complete(index: int) -> None:
        barrier.wait()
        if index == failing:
            children[index].complete_error(ValueError(index))
        else:
            children[index].complete_value(index)

    threads = [threading.Thread(target=complete, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failing is None:
        assert receiver.completion == "value"
        assert receiver.value == tuple(range(count))
    else:
        assert receiver.completion == "error"
        assert isinstance(receiver.error, ValueError)


def test_when_all_stop_from_another_thread_while_children_complete() -> None:
    source = ex.StopSource()
    count = 4
    _, children = manuals(count)
    receiver: RecordingReceiver[Any] = RecordingReceiver(stop_token=source.token)
    ex.connect(when_all(*children), receiver).start()
    barrier = threading.Barrier(count + 1)

    def complete(index: int) -> None:
        barrier.wait()
        children[index].complete_stopped()

    def stop() -> None:
        barrier.wait()
        source.request_stop()

    threads = [threading.Thread(target=complete, args=(i,)) for i in range(count)]
    threads.append(threading.Thread(target=stop))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert receiver.completion == "stopped"
    assert source._callbacks == {}


def test_when_all_is_reusable_each_connect_gets_fresh_state() -> None:
    sender = when_all(ex.just(1), ex.just(2))
    assert ex.sync_wait(sender) == (1, 2)
    assert ex.sync_wait(sender) == (1, 2)


def test_when_all_rejects_a_non_sender_when_built() -> None:
    with pytest.raises(TypeError, match=r"^when_all: expected a Sender, got int"):
        when_all(ex.just(1), 3)  # type: ignore[call-overload]
