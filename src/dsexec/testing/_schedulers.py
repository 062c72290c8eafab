"""One test body, several schedulers: :class:`SchedulerRunner` (uvloop's ``_TestTCP`` pattern).

A test builds its sender from the scheduler it is given and lets the runner drive it::

    def test_tick(scheduler_runner: SchedulerRunner) -> None:
        value = scheduler_runner.run(lambda sch: sch.schedule_after(0.01) | ex.then(str))
        assert value == "None"

Kinds:

* ``io_context``: ``sync_wait(sender, context=IoContext())`` (a fresh context, closed after);
* ``virtual_time``: ``sync_wait(sender, context=VirtualTimeScheduler())``: timers complete in
  virtual time, at once and in order;
* ``anyio_asyncio``, ``anyio_trio``, ``anyio_uvloop``: ``anyio.run()`` on that backend, inside
  which an ``AnyioScheduler`` is created and the sender awaited.

Every kind hands ``build`` a :class:`~dsexec.schedulers.IoScheduler` (``schedule``,
``schedule_after``, ``schedule_at``, ``now``, ``wait_readable``, ``wait_writable``,
``notify_closing``), and returns the value, raises the error, or raises ``Stopped``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any, Final, Literal, TypeVar, final, get_args

from .._core import Sender
from ..schedulers import IoContext, IoScheduler, VirtualTimeScheduler, sync_wait

__all__ = ["RunnerKind", "SchedulerRunner", "available_runner_kinds"]

T = TypeVar("T")

RunnerKind = Literal["io_context", "virtual_time", "anyio_asyncio", "anyio_trio", "anyio_uvloop"]

_ANYIO_BACKENDS: Final[dict[str, tuple[str, dict[str, Any]]]] = {
    "anyio_asyncio": ("asyncio", {}),
    "anyio_trio": ("trio", {}),
    "anyio_uvloop": ("asyncio", {"use_uvloop": True}),
}


def available_runner_kinds(*, virtual_time: bool = True) -> list[RunnerKind]:
    """The kinds usable here (``anyio_trio`` needs trio, ``anyio_uvloop`` uvloop); without
    ``virtual_time`` only kinds on a real clock."""
    kinds: list[RunnerKind] = []
    for kind in get_args(RunnerKind):
        if kind == "virtual_time" and not virtual_time:
            continue
        if kind == "anyio_trio" and importlib.util.find_spec("trio") is None:
            continue
        if kind == "anyio_uvloop" and importlib.util.find_spec("uvloop") is None:
            continue
        kinds.append(kind)
    return kinds


@final
class SchedulerRunner:
    """Runs a sender built from this runner's scheduler to completion, on the calling thread."""

    __slots__ = ("_kind",)

    def __init__(self, kind: RunnerKind) -> None:
        if kind not in get_args(RunnerKind):
            raise ValueError(f"SchedulerRunner: unknown kind {kind!r}")
        self._kind: RunnerKind = kind

    @property
    def kind(self) -> RunnerKind:
        """Which loop runs the sender (see the module docstring)."""
        return self._kind

    @property
    def virtual_time(self) -> bool:
        """Whether the clock is virtual (timers complete without waiting)."""
        return self._kind == "virtual_time"

    def run(self, build: Callable[[IoScheduler], Sender[T]], /) -> T:
        """Build the sender with this runner's scheduler and run it to completion.

        ``build`` is called on the loop thread, with the loop running for the anyio kinds.
        Returns the value; raises the error, or ``dsexec.Stopped`` on stop.
        """
        kind = self._kind
        if kind == "io_context":
            with IoContext() as context:
                return sync_wait(build(context.get_scheduler()), context=context)
        if kind == "virtual_time":
            with VirtualTimeScheduler() as vts:
                return sync_wait(build(vts.get_scheduler()), context=vts)
        import anyio  # noqa: PLC0415

        from ..schedulers import AnyioScheduler, as_awaitable  # noqa: PLC0415

        async def main() -> T:
            return await as_awaitable(build(AnyioScheduler()))

        backend, options = _ANYIO_BACKENDS[kind]
        return anyio.run(main, backend=backend, backend_options=options)

    def __repr__(self) -> str:
        return f"SchedulerRunner({self._kind!r})"
