"""Tests of retry (stdexec's exec::retry, bounded): re-run the upstream after an error."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

import dsexec as ex
from dsexec import retry
from dsexec.testing import ExpectErrorReceiver, ExpectStoppedReceiver, ExpectValueReceiver


class _Flaky:
    """A callback failing its first ``failures`` calls with ``ValueError("attempt N")``."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, _: object = None) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise ValueError(f"attempt {self.calls}")
        return f"ok after {self.calls}"


_FORMS: dict[str, Callable[[ex.Sender[Any], int | None], ex.Sender[Any]]] = {
    "pipe": lambda s, n: s | retry(n),
    "call": retry,
}


@pytest.mark.parametrize("form", _FORMS.values(), ids=_FORMS.keys())
def test_retry_reruns_after_errors_until_a_value(form: Any) -> None:
    flaky = _Flaky(failures=3)
    assert ex.sync_wait(form(ex.just(0) | ex.then(flaky), 5)) == "ok after 4"
    assert flaky.calls == 4


@pytest.mark.parametrize("form", _FORMS.values(), ids=_FORMS.keys())
def test_retry_delivers_the_last_error_once_the_retries_are_used_up(form: Any) -> None:
    flaky = _Flaky(failures=10)
    receiver = ExpectErrorReceiver(ValueError, match="^attempt 3$")
    ex.connect(form(ex.just(0) | ex.then(flaky), 2), receiver).start()
    assert flaky.calls == 3


def test_retry_zero_does_not_retry() -> None:
    flaky = _Flaky(failures=1)
    receiver = ExpectErrorReceiver(ValueError, match="attempt 1")
    ex.connect(ex.just(0) | ex.then(flaky) | retry(0), receiver).start()
    assert flaky.calls == 1


@pytest.mark.parametrize("sender_form", ["pipe-none", "pipe-default", "call-default"])
def test_retry_without_a_bound_retries_for_ever(sender_form: str) -> None:
    flaky = _Flaky(failures=1000)
    upstream = ex.just(0) | ex.then(flaky)
    if sender_form == "pipe-none":
        sender = upstream | retry(None)
    elif sender_form == "pipe-default":
        sender = upstream | retry()
    else:
        sender = retry(upstream)
    assert ex.sync_wait(sender) == "ok after 1001"


def test_retry_passes_a_first_value_through_without_rerunning() -> None:
    flaky = _Flaky(failures=0)
    assert ex.sync_wait(ex.just(0) | ex.then(flaky) | retry(3)) == "ok after 1"
    assert flaky.calls == 1


def test_retry_passes_stop_through_without_rerunning() -> None:
    connects: list[int] = []

    class _Stops(ex.Sender[None]):
        def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
            connects.append(1)
            return ex.connect(ex.just_stopped(), receiver)

    receiver = ExpectStoppedReceiver()
    ex.connect(_Stops() | retry(3), receiver).start()
    assert connects == [1]


def test_retry_reconnects_a_fresh_operation_state_each_attempt() -> None:
    ops: list[ex.OperationState] = []

    class _Fails(ex.Sender[None]):
        def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
            op = ex.connect(ex.just_error(OSError("no")), receiver)
            ops.append(op)
            return op

    receiver = ExpectErrorReceiver(OSError)
    ex.connect(_Fails() | retry(3), receiver).start()
    assert len({id(op) for op in ops}) == 4


def test_connect_raising_goes_down_the_error_channel_without_retrying() -> None:
    class _Unconnectable(ex.Sender[None]):
        def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
            raise OSError("cannot connect")

    receiver = ExpectErrorReceiver(OSError, match="cannot connect")
    ex.connect(_Unconnectable() | retry(5), receiver).start()


def test_inline_failures_retry_in_a_loop_not_by_recursion() -> None:
    assert sys.getrecursionlimit() < 300_000
    flaky = _Flaky(failures=300_000)
    assert ex.sync_wait(ex.just(0) | ex.then(flaky) | retry()) == "ok after 300001"


def test_stop_reaches_the_pending_attempt_promptly(vts: ex.VirtualTimeScheduler) -> None:
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(vts.schedule_after(3600) | retry(), receiver).start()
    source.request_stop()
    assert receiver.completed
    assert vts.statistics().timers == 0


def test_a_failure_after_stop_was_requested_is_not_retried() -> None:
    source = ex.StopSource()
    flaky = _Flaky(failures=10)

    def fail_and_stop(value: object) -> str:
        source.request_stop()
        return flaky(value)

    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(ex.just(0) | ex.then(fail_and_stop) | retry(5), receiver).start()
    assert flaky.calls == 1


def test_stop_requested_before_start_starts_no_attempt() -> None:
    source = ex.StopSource()
    source.request_stop()
    flaky = _Flaky(failures=0)
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(ex.just(0) | ex.then(flaky) | retry(5), receiver).start()
    assert flaky.calls == 0


def test_asynchronous_attempts_retry_from_the_completing_callback(
    vts: ex.VirtualTimeScheduler,
) -> None:
    flaky = _Flaky(failures=2)
    times: list[float] = []

    def attempt(value: object) -> str:
        times.append(vts.now())
        return flaky(value)

    sender = vts.schedule_after(10) | ex.then(attempt) | retry(2)
    assert ex.sync_wait(sender, context=vts) == "ok after 3"
    assert times == [10, 20, 30]


def test_attempts_failing_on_another_thread_retry_correctly() -> None:
    worker = ex.IoContext()
    worker_thread = threading.Thread(target=worker.run)
    flaky = _Flaky(failures=200)
    try:
        with worker.work_guard():
            worker_thread.start()
            sender = worker.get_scheduler().schedule() | ex.then(flaky) | retry()
            assert ex.sync_wait(sender) == "ok after 201"
        worker_thread.join()
    finally:
        worker.close()


def test_retry_value_type_receiver_sees_the_value() -> None:
    receiver = ExpectValueReceiver("ok after 2")
    ex.connect(ex.just(0) | ex.then(_Flaky(failures=1)) | retry(1), receiver).start()


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (("2",), TypeError, r"^retry: expected an int number of retries, got str"),
        ((True,), TypeError, r"^retry: expected an int number of retries, got bool"),
        ((-1,), ValueError, r"^retry: the number of retries must be >= 0"),
        ((3, 3), TypeError, r"^retry: expected a Sender, got int"),
        ((ex.just(1), "x"), TypeError, r"^retry: expected an int number of retries"),
    ],
)
def test_bad_composition_is_refused_when_built_naming_retry(
    args: tuple[Any, ...], error: type[Exception], message: str
) -> None:
    algorithm: Any = retry
    with pytest.raises(error, match=message):
        algorithm(*args)


def test_retry_adaptor_applied_to_a_non_sender_names_retry() -> None:
    adaptor: Any = retry(2)
    with pytest.raises(TypeError, match=r"^retry: expected a Sender, got int"):
        adaptor(5)
