"""Random sender pipelines under random stop requests, loops over timed children included.

``tests/senders/test_properties.py`` checks random pipelines against a reference interpreter,
with loops (``repeat_n``, ``repeat_until``, ``retry``) over *inline* children only. Here the
loops run over *timed* children (timers and real socket I/O on virtual time), and forever
loops (``repeat()`` ended by an error) join them, so a stop request lands in the middle of a
round, between rounds, in a retry's next attempt, in a ``timeout``, in a ``when_any`` race...

Each drawn pipeline runs once unstopped on a ``VirtualTimeScheduler`` (its outcome and instant
``T``), then again with a stop requested at an instant drawn among those where something
happens (plus half a second: never at the same instant as a timer, whose delays are whole
seconds), before ``start()``, or twice. Properties:

* **exactly one completion**, through a contract-checking receiver;
* a stop requested at ``t < T`` completes the pipeline **at ``t``**: nothing may wait for a
  timer or a socket once stop is requested; and **with ``set_stopped``**, unless a
  ``finally_`` cleanup that can fail is in the pipeline (run because of the stop, its error
  replaces the stop, as ``finally_`` documents); a stop after ``T`` changes nothing;
* afterwards **nothing is left behind**: no live timer on the scheduler, no fd waiter, no stop
  callback registered on the test's ``StopSource``, no fd open in the process (each ``Io``
  node makes a socketpair per run and must close it on every path).

The same pipelines also run on a real ``IoContext`` (delays in milliseconds, stop after a
random real delay), where only the invariants of the last bullet and the single completion are
checked. ``EXAMPLES`` per property by default; ``-m slow`` runs ``SLOW_EXAMPLES``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any, Literal

import attrs
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import dsexec as ex
from dsexec.net import Socket, async_read
from dsexec.testing import RecordingReceiver, collect_contract_violations

EXAMPLES = 120
# DSEXEC_FUZZ_EXAMPLES=30000 makes the slow variants a long campaign (as in http/test_fuzz.py).
SLOW_EXAMPLES = int(os.environ.get("DSEXEC_FUZZ_EXAMPLES", "5000"))
# A long campaign outlasts pytest-timeout\'s default two minutes: its own bound scales with it.
SLOW_TIMEOUT = max(120, SLOW_EXAMPLES // 25)
REAL_EXAMPLES = 15
SLOW_REAL_EXAMPLES = 300


class Boom(Exception):
    """The error a pipeline node raises: ``tag`` says which."""

    def __init__(self, tag: int) -> None:
        super().__init__(tag)
        self.tag = tag


class Done(Exception):
    """Ends a ``repeat()`` loop after its rounds (turned back into a value)."""

    def __init__(self, rounds: int) -> None:
        super().__init__(rounds)
        self.rounds = rounds


# -- pipeline descriptions --------------------------------------------------------------------


@attrs.frozen
class Just:
    value: int


@attrs.frozen
class Fail:
    tag: int


@attrs.frozen
class Delay:
    """``schedule_after(delay) | then(value)``."""

    value: int
    delay: int


@attrs.frozen
class Io:
    """A fresh socketpair per run: ``when_all(async_read, write one byte after delay)``,
    both ends closed by ``finally_`` on every path."""

    value: int
    delay: int


@attrs.frozen
class Then:
    child: Node


@attrs.frozen
class UponError:
    """Errors become the value ``-1`` (stop passes through)."""

    child: Node


@attrs.frozen
class RepeatN:
    child: Node
    n: int


@attrs.frozen
class RepeatUntil:
    """Until the ``rounds``-th value; a fresh count per run of the node."""

    child: Node
    rounds: int


@attrs.frozen
class RepeatForever:
    """``repeat()`` over ``child``, ended by a ``Done`` error after ``rounds`` rounds."""

    child: Node
    rounds: int


@attrs.frozen
class Retry:
    """``child`` failing its first ``fails`` attempts, under ``retry(n)``."""

    child: Node
    n: int
    fails: int


@attrs.frozen
class Timeout:
    child: Node
    delay: int


@attrs.frozen
class WhenAll:
    children: tuple[Node, ...]


@attrs.frozen
class WhenAny:
    children: tuple[Node, ...]


@attrs.frozen
class LetValue:
    child: Node
    then_run: Node


@attrs.frozen
class Finally:
    child: Node
    cleanup: Node


@attrs.frozen
class StopWhen:
    child: Node
    trigger: Node


@attrs.frozen
class Leak:
    """Opens a socketpair and never closes it: only for the test of the harness."""


LEAKED: list[socket.socket] = []


def leak() -> ex.Sender[Any]:
    LEAKED.extend(socket.socketpair())
    return ex.just(0)


Node = (
    Leak
    | Just
    | Fail
    | Delay
    | Io
    | Then
    | UponError
    | RepeatN
    | RepeatUntil
    | RepeatForever
    | Retry
    | Timeout
    | WhenAll
    | WhenAny
    | LetValue
    | Finally
    | StopWhen
)


def build(node: Node, sch: ex.IoScheduler, unit: float) -> ex.Sender[Any]:
    """The sender ``node`` describes; delays are ``delay * unit`` seconds."""
    if isinstance(node, Leak):
        return fresh(leak)
    if isinstance(node, Just):
        return ex.just(node.value)
    if isinstance(node, Fail):
        return ex.just_error(Boom(node.tag))
    if isinstance(node, Delay):
        value = node.value
        return sch.schedule_after(node.delay * unit) | ex.then(lambda _: value)
    if isinstance(node, Io):
        return fresh(lambda: io_round(node, sch, unit))
    if isinstance(node, Then):
        return build(node.child, sch, unit) | ex.then(lambda v: ("then", v))
    if isinstance(node, UponError):
        return build(node.child, sch, unit) | ex.upon_error(lambda _e: -1)
    if isinstance(node, RepeatN):
        return build(node.child, sch, unit) | ex.repeat_n(node.n)
    if isinstance(node, RepeatUntil):
        return fresh(lambda: repeat_until(node, sch, unit))
    if isinstance(node, RepeatForever):
        return fresh(lambda: repeat_forever(node, sch, unit))
    if isinstance(node, Retry):
        return fresh(lambda: retry(node, sch, unit))
    if isinstance(node, Timeout):
        return build(node.child, sch, unit) | ex.timeout(node.delay * unit)
    if isinstance(node, WhenAll):
        return ex.when_all(*(build(child, sch, unit) for child in node.children))
    if isinstance(node, WhenAny):
        return ex.when_any(*(build(child, sch, unit) for child in node.children))
    if isinstance(node, LetValue):
        second = build(node.then_run, sch, unit)
        return build(node.child, sch, unit) | ex.let_value(lambda _: second)
    if isinstance(node, Finally):
        return build(node.child, sch, unit) | ex.finally_(build(node.cleanup, sch, unit))
    return build(node.child, sch, unit) | ex.stop_when(build(node.trigger, sch, unit))


def fresh(make: Callable[[], ex.Sender[Any]]) -> ex.Sender[Any]:
    """A sender built anew each time it starts (per-run state: counters, sockets)."""
    return ex.just(None) | ex.let_value(lambda _: make())


def io_round(node: Io, sch: ex.IoScheduler, unit: float) -> ex.Sender[Any]:
    reader, writer = socket.socketpair()
    ours = Socket(reader)
    value = node.value

    def close(_: object) -> None:
        ours.close()
        writer.close()

    read = async_read(sch, ours, 16) | ex.then(lambda _data: value)
    write = sch.schedule_after(node.delay * unit) | ex.then(lambda _: writer.send(b"x"))
    return (
        ex.when_all(read, write)
        | ex.then(lambda both: both[0])
        | ex.finally_(ex.just(None) | ex.then(close))
    )


def repeat_until(node: RepeatUntil, sch: ex.IoScheduler, unit: float) -> ex.Sender[Any]:
    rounds = 0

    def count(value: object) -> tuple[object, int]:
        nonlocal rounds
        rounds += 1
        return (value, rounds)

    return (
        build(node.child, sch, unit)
        | ex.then(count)
        | ex.repeat_until(lambda counted: counted[1] >= node.rounds)
    )


def repeat_forever(node: RepeatForever, sch: ex.IoScheduler, unit: float) -> ex.Sender[Any]:
    rounds = 0

    def count(_value: object) -> None:
        nonlocal rounds
        rounds += 1
        if rounds >= node.rounds:
            raise Done(rounds)

    def finished(error: BaseException) -> int:
        if isinstance(error, Done):
            return error.rounds
        raise error

    return build(node.child, sch, unit) | ex.then(count) | ex.repeat() | ex.upon_error(finished)


def retry(node: Retry, sch: ex.IoScheduler, unit: float) -> ex.Sender[Any]:
    attempts = 0

    def check(value: object) -> object:
        nonlocal attempts
        attempts += 1
        if attempts <= node.fails:
            raise Boom(100 + attempts)
        return value

    return build(node.child, sch, unit) | ex.then(check) | ex.retry(node.n)


# -- strategies -------------------------------------------------------------------------------

small = st.integers(0, 9)
delays = st.integers(1, 3)
leaves: st.SearchStrategy[Node] = st.one_of(
    st.builds(Just, small),
    st.builds(Fail, small),
    st.builds(Delay, small, delays),
    st.builds(Delay, small, delays),
    st.builds(Io, small, delays),
    st.builds(Io, small, delays),
)


def extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    several = st.lists(children, min_size=1, max_size=3).map(tuple)
    return st.one_of(
        st.builds(Then, children),
        st.builds(UponError, children),
        # The loops, over any child (timed ones included), drawn more often.
        st.builds(RepeatN, children, st.integers(0, 3)),
        st.builds(RepeatN, children, st.integers(1, 3)),
        st.builds(RepeatUntil, children, st.integers(1, 3)),
        st.builds(RepeatUntil, children, st.integers(1, 3)),
        st.builds(RepeatForever, children, st.integers(1, 3)),
        st.builds(RepeatForever, children, st.integers(1, 3)),
        st.builds(Retry, children, st.integers(0, 3), st.integers(0, 3)),
        st.builds(Retry, children, st.integers(0, 3), st.integers(0, 3)),
        st.builds(Timeout, children, st.integers(1, 8)),
        st.builds(WhenAll, several),
        st.builds(WhenAny, several),
        st.builds(LetValue, children, children),
        st.builds(Finally, children, children),
        st.builds(StopWhen, children, children),
    )


pipelines = st.recursive(leaves, extend, max_leaves=8)


def loops_in(node: Node) -> int:
    """How many loop nodes ``node`` holds (for the examples' statistics)."""
    own = isinstance(node, RepeatN | RepeatUntil | RepeatForever | Retry)
    found = int(own)
    for field in attrs.fields(type(node)):
        value = getattr(node, field.name)
        if isinstance(value, tuple):
            found += sum(loops_in(child) for child in value)
        elif not isinstance(value, int):
            found += loops_in(value)
    return found


def contains(node: Node, kind: type) -> bool:
    if isinstance(node, kind):
        return True
    for field in attrs.fields(type(node)):
        value = getattr(node, field.name)
        children = value if isinstance(value, tuple) else (value,)
        if any(not isinstance(c, int) and contains(c, kind) for c in children):
            return True
    return False


def may_fail_after_stop(node: Node) -> bool:
    """Whether a ``finally_`` cleanup that can fail is in ``node``: started because of a stop,
    its error replaces the stop (the documented rule of ``finally_``)."""
    if isinstance(node, Finally) and contains(node.cleanup, Fail):
        return True
    for field in attrs.fields(type(node)):
        value = getattr(node, field.name)
        children = value if isinstance(value, tuple) else (value,)
        if any(not isinstance(c, int) and may_fail_after_stop(c) for c in children):
            return True
    return False


# -- running ----------------------------------------------------------------------------------

Kind = Literal["value", "error", "stopped"]


@attrs.frozen
class Outcome:
    kind: Kind
    payload: object
    at: float


class Probe(RecordingReceiver[Any]):
    """A contract-checking receiver that also notes each completion and its instant."""

    def __init__(self, clock: Callable[[], float], stop_token: ex.StopToken, sch: Any) -> None:
        super().__init__(stop_token=stop_token, scheduler=sch)
        self.clock = clock
        self.outcomes: list[Outcome] = []
        self.on_complete: Callable[[], object] = lambda: None

    def _note(self, kind: Kind, payload: object) -> None:
        self.outcomes.append(Outcome(kind, payload, self.clock()))
        self.on_complete()

    def set_value(self, value: Any, /) -> None:
        self._note("value", value)
        super().set_value(value)

    def set_error(self, error: BaseException, /) -> None:
        payload = error.tag if isinstance(error, Boom) else type(error).__name__
        self._note("error", payload)
        super().set_error(error)

    def set_stopped(self) -> None:
        self._note("stopped", None)
        super().set_stopped()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def registered_callbacks(source: ex.StopSource) -> int:
    """Stop callbacks still registered on ``source`` (a private count: tests only)."""
    return len(source._callbacks)


Stop = Literal["never", "before"] | float | tuple[float, float]


def run(
    node: Node, stop: Stop, context: ex.IoContext, unit: float = 1.0
) -> tuple[Outcome, list[float]]:
    """Run ``node`` on ``context`` with stop requested as ``stop`` says; its one outcome and
    the instants at which something happened. Checks that nothing was left behind."""
    sch = context.get_scheduler()
    fds = open_fds()
    source = ex.StopSource()
    probe = Probe(context.time, source.token, sch)
    timers = ex.StopSource()  # the test's own stop timers, cancelled once the pipeline is done
    left: list[tuple[int, int, int, int, int]] = []

    def completed() -> None:
        """What is still held when the pipeline completes (the test's timers cancelled)."""
        timers.request_stop()
        now = context.statistics()
        left.append(
            (now.timers, now.readers, now.writers, registered_callbacks(source), open_fds())
        )

    probe.on_complete = completed
    if stop == "before":
        source.request_stop()
    elif stop != "never":
        for at in stop if isinstance(stop, tuple) else (stop,):
            request = sch.schedule_after(at * unit) | ex.then(lambda _: source.request_stop())
            ex.connect(request, RecordingReceiver(stop_token=timers.token)).start()
    ex.connect(build(node, sch, unit), probe).start()
    instants = [context.time()]
    while context.run_one():
        if context.time() != instants[-1]:
            instants.append(context.time())
    assert len(probe.outcomes) == 1, f"completed {len(probe.outcomes)} times"
    assert collect_contract_violations() == []
    timers_left, readers, writers, callbacks, fds_left = left[0]
    assert timers_left == 0, "a timer outlived the pipeline"
    assert readers == writers == 0, "an fd waiter outlived the pipeline"
    assert callbacks == 0, "a stop callback outlived the pipeline"
    assert fds_left == fds, "an fd outlived the pipeline"
    assert open_fds() == fds
    return probe.outcomes[0], instants


def natural(node: Node) -> tuple[Outcome, list[float]]:
    with ex.VirtualTimeScheduler() as vts:
        return run(node, "never", vts)


def check_stops(node: Node, data: st.DataObject) -> None:
    unstopped, instants = natural(node)
    assert natural(node)[0] == unstopped  # deterministic on virtual time
    when = data.draw(st.sampled_from(["inside", "inside", "twice", "before"]), label="stop")
    stop: Stop
    if when == "before":
        stop = "before"
        first = 0.0
    else:
        during = [at for at in instants if at < unstopped.at] or instants
        first = data.draw(st.sampled_from(during), label="instant") + 0.5
        stop = (first, first + data.draw(st.integers(0, 3))) if when == "twice" else first
    with ex.VirtualTimeScheduler() as vts:
        outcome, _ = run(node, stop, vts)
    loops = loops_in(node)
    inside = first < unstopped.at or (stop == "before" and unstopped.at > 0)
    event(f"stop {'before its end' if inside else 'after its end'}")
    event(f"loops: {min(loops, 3)}{'+' if loops >= 3 else ''}")
    if inside and loops and stop != "before":
        event("stopped mid-run, with a loop in the pipeline")
    if inside:
        # Stopped before its end: completes then and there, with set_stopped (unless a
        # cleanup run because of the stop fails: finally_ then delivers that error).
        assert outcome.at == first
        if may_fail_after_stop(node):
            event("a finally_ cleanup may fail after the stop")
        else:
            assert outcome.kind == "stopped"
    elif stop == "before":
        # Completes inline in start(): the loops and when_* look at the token first.
        assert outcome.at == 0.0
    else:
        assert outcome == unstopped


SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
}


@settings(max_examples=EXAMPLES, **SETTINGS)  # type: ignore[arg-type]
@given(node=pipelines, data=st.data())
def test_a_stop_anywhere_completes_once_at_once_and_leaves_nothing_behind(
    node: Node, data: st.DataObject
) -> None:
    check_stops(node, data)


@pytest.mark.slow
@pytest.mark.timeout(SLOW_TIMEOUT)
@settings(max_examples=SLOW_EXAMPLES, **SETTINGS)  # type: ignore[arg-type]
@given(node=pipelines, data=st.data())
def test_a_stop_anywhere_long_run(node: Node, data: st.DataObject) -> None:
    check_stops(node, data)


def check_real_time(node: Node, stop_after: float) -> None:
    with ex.IoContext() as context:
        run(node, stop_after, context, unit=0.002)


@settings(max_examples=REAL_EXAMPLES, **SETTINGS)  # type: ignore[arg-type]
@given(node=pipelines, stop_after=st.floats(0.0, 0.012))
def test_on_a_real_io_context_a_stop_leaves_nothing_behind(node: Node, stop_after: float) -> None:
    check_real_time(node, stop_after)


@pytest.mark.slow
@settings(max_examples=SLOW_REAL_EXAMPLES, **SETTINGS)  # type: ignore[arg-type]
@given(node=pipelines, stop_after=st.floats(0.0, 0.012))
def test_on_a_real_io_context_long_run(node: Node, stop_after: float) -> None:
    check_real_time(node, stop_after)


@pytest.mark.parametrize(
    ("node", "stop", "expected"),
    [
        # In the middle of the second round of a timed repeat_n.
        (RepeatN(Delay(1, 2), 3), 3.5, Outcome("stopped", None, 3.5)),
        # During the back-off-free retry's second attempt, which waits on a socket.
        (Retry(Io(4, 2), 3, 1), 2.5, Outcome("stopped", None, 2.5)),
        (Retry(Io(4, 2), 3, 1), "never", Outcome("value", 4, 4.0)),
        # A forever loop over a timed when_any race.
        (
            RepeatForever(WhenAny((Delay(1, 3), Io(2, 1))), 3),
            1.5,
            Outcome("stopped", None, 1.5),
        ),
        (RepeatForever(WhenAny((Delay(1, 3), Io(2, 1))), 3), "never", Outcome("value", 3, 3.0)),
        # A repeat_until whose round is a timeout over I/O.
        (RepeatUntil(Timeout(Io(5, 3), 2), 2), "never", Outcome("error", "TimeoutError", 2.0)),
        (RepeatUntil(Io(5, 1), 3), 2.5, Outcome("stopped", None, 2.5)),
        # A finally_ whose cleanup is timed: stopped too.
        (Finally(RepeatN(Io(0, 1), 2), Delay(9, 3)), 1.5, Outcome("stopped", None, 1.5)),
    ],
    ids=str,
)
def test_stop_examples(node: Node, stop: Stop, expected: Outcome) -> None:
    with ex.VirtualTimeScheduler() as vts:
        outcome, _ = run(node, stop, vts)
    assert outcome == expected


def test_the_harness_sees_a_leaked_timer_a_callback_and_an_fd() -> None:
    """The checks of ``run`` fail when something is left behind."""
    with ex.VirtualTimeScheduler() as vts:
        sch = vts.get_scheduler()
        ex.connect(sch.schedule_after(5), RecordingReceiver()).start()  # a timer left running
        with pytest.raises(AssertionError, match="timer"):
            run(Just(1), "never", vts)
        with pytest.raises(AssertionError, match="fd outlived"):
            run(Leak(), "never", vts)
    for sock in LEAKED:
        sock.close()
    source = ex.StopSource()
    source.token.register(lambda: None)
    assert registered_callbacks(source) == 1
    assert loops_in(RepeatN(Retry(Delay(1, 1), 1, 1), 2)) == 2
