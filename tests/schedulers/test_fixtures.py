"""The ``scheduler_runner`` fixtures: one test body, every scheduler kind."""

from __future__ import annotations

import importlib.util
import socket
import threading

import pytest

import dsexec as ex
from dsexec.schedulers import IoScheduler
from dsexec.testing import RecordingReceiver, SchedulerRunner, available_runner_kinds


def test_runner_kinds_cover_every_available_loop() -> None:
    kinds = available_runner_kinds()
    assert kinds[:4] == ["io_context", "virtual_time", "anyio_asyncio", "anyio_trio"]
    assert ("anyio_uvloop" in kinds) == (importlib.util.find_spec("uvloop") is not None)
    assert "virtual_time" not in available_runner_kinds(virtual_time=False)


def test_runner_rejects_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown kind 'tokio'"):
        SchedulerRunner("tokio")  # type: ignore[arg-type]


def test_scheduler_runner_fixture_is_parametrised_with_readable_ids(
    request: pytest.FixtureRequest, scheduler_runner: SchedulerRunner
) -> None:
    assert request.node.callspec.id == scheduler_runner.kind
    assert repr(scheduler_runner) == f"SchedulerRunner({scheduler_runner.kind!r})"


def test_one_pipeline_runs_on_every_scheduler(scheduler_runner: SchedulerRunner) -> None:
    def build(sch: IoScheduler) -> ex.Sender[tuple[int, float]]:
        start = sch.now()
        return sch.schedule_after(0.002) | ex.then(
            lambda _: (threading.get_ident(), sch.now() - start)
        )

    thread, elapsed = scheduler_runner.run(build)
    assert thread == threading.get_ident()  # every runner drives its loop on this thread
    assert elapsed >= 0.002 - 0.0011  # uvloop's clock ticks in milliseconds


def test_errors_and_stop_come_out_of_every_runner(scheduler_runner: SchedulerRunner) -> None:
    with pytest.raises(ValueError, match="bad"):
        scheduler_runner.run(lambda sch: sch.schedule() | ex.then(lambda _: int("bad")))
    with pytest.raises(ex.Stopped):
        scheduler_runner.run(lambda sch: ex.just_stopped())


def test_virtual_time_runner_jumps_the_clock(scheduler_runner: SchedulerRunner) -> None:
    def build(sch: IoScheduler) -> ex.Sender[float]:
        start = sch.now()
        return sch.schedule_after(3600 if scheduler_runner.virtual_time else 0.001) | ex.then(
            lambda _: sch.now() - start
        )

    elapsed = scheduler_runner.run(build)
    assert elapsed >= (3600 if scheduler_runner.virtual_time else 0.0)


def test_wait_readable_on_every_real_time_scheduler(
    real_time_scheduler_runner: SchedulerRunner,
) -> None:
    assert not real_time_scheduler_runner.virtual_time
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)

        def build(sch: IoScheduler) -> ex.Sender[bytes]:
            b.send(b"ping")
            return sch.wait_readable(a.fileno()) | ex.then(lambda _: a.recv(16))

        assert real_time_scheduler_runner.run(build) == b"ping"

        closer = RecordingReceiver[None]()

        def build_closed(sch: IoScheduler) -> ex.Sender[None]:
            close_soon = sch.schedule_after(0.001) | ex.then(
                lambda _: sch.notify_closing(a.fileno())
            )
            ex.connect(close_soon, closer).start()
            return sch.wait_readable(a.fileno())

        with pytest.raises(ex.ClosedResourceError):
            real_time_scheduler_runner.run(build_closed)
        assert closer.completion == "value"
