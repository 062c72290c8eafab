"""pytest plugin of dsexec: ``pytest_plugins = ["dsexec.testing.pytest_plugin"]``.

* Fails a test at teardown when it broke the receiver contract: a double completion, a
  completion on an unexpected channel, or an ``Expect*`` receiver created during the test that
  never completed -- even one the test dropped (receivers are held strongly until teardown).
  A test that abandons an operation on purpose calls ``receiver.allow_missing_completion()``.
* ``scheduler_runner``: a :class:`~dsexec.testing._schedulers.SchedulerRunner`, parametrised
  over every kind available here -- ``io_context``, ``virtual_time``, ``anyio_asyncio``,
  ``anyio_trio`` and ``anyio_uvloop`` (the last two when trio and uvloop are installed); the
  test ids are the kinds. ``runner.run(build)`` calls ``build(scheduler)`` with a
  ``IoScheduler`` of that loop (``schedule``, ``schedule_after``, ``schedule_at``,
  ``now``, ``wait_readable``, ``wait_writable``, ``notify_closing``) and drives the sender it
  returns to completion: it returns the value, raises the error, or raises ``Stopped``::

      def test_tick(scheduler_runner: SchedulerRunner) -> None:
          value = scheduler_runner.run(lambda sch: sch.schedule_after(0.001) | ex.then(str))
          assert value == "None"

  ``runner.kind`` names the loop and ``runner.virtual_time`` tells whether timers complete
  without waiting.
* ``vts``: a fresh :class:`~dsexec.VirtualTimeScheduler`, closed after the test.
* ``real_time_scheduler_runner``: the same without ``virtual_time``, for tests that need a real
  clock (keep their delays to a few milliseconds).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..schedulers import VirtualTimeScheduler
from ._receivers import collect_contract_violations
from ._schedulers import SchedulerRunner, available_runner_kinds


@pytest.fixture(autouse=True)
def _dsexec_receiver_contract() -> Iterator[None]:
    # Autouse, so set up before (and torn down after) the test's other function fixtures: a
    # fixture's teardown (closing a scheduler, joining a thread) may still complete receivers.
    collect_contract_violations()  # forget receivers created outside this test
    yield
    violations = collect_contract_violations()
    if violations:
        pytest.fail("receiver contract violated:\n  " + "\n  ".join(violations), pytrace=False)


@pytest.fixture(params=available_runner_kinds(), ids=str)
def scheduler_runner(request: pytest.FixtureRequest) -> SchedulerRunner:
    """Runs a sender on each scheduler kind in turn (see the module docstring)."""
    return SchedulerRunner(request.param)


@pytest.fixture(params=available_runner_kinds(virtual_time=False), ids=str)
def real_time_scheduler_runner(request: pytest.FixtureRequest) -> SchedulerRunner:
    """Like ``scheduler_runner``, without the virtual-time kind."""
    return SchedulerRunner(request.param)


@pytest.fixture
def vts() -> Iterator[VirtualTimeScheduler]:
    """A fresh ``VirtualTimeScheduler`` (clock at 0.0), closed after the test."""
    with VirtualTimeScheduler() as scheduler:
        yield scheduler
