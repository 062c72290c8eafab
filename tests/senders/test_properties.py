"""Property-based tests: random pipelines built from the algorithms, run with ``sync_wait`` on
virtual time, agree with a small eager reference interpreter of the P2300 semantics.

The reference interpreter evaluates a pipeline description to ``(outcome, end_time)`` given its
start time and the time at which stop is requested (if ever). Delays are distinct powers of two,
so no two timers of a pipeline can ever fire at the same virtual instant and the order of events
is fully determined; inline completions happen in start order.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dsexec as ex

# Hypothesis warns when it renders a large drawn pipeline for its own bookkeeping; harmless here.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")


class Boom(Exception):
    """The error payload of a pipeline: ``tag`` identifies which node raised it."""

    def __init__(self, tag: int) -> None:
        super().__init__(tag)
        self.tag = tag


Kind = Literal["value", "error", "stopped"]


@dataclass(frozen=True)
class Outcome:
    kind: Kind
    payload: Any
    end: float


# -- pipeline descriptions ---------------------------------------------------------------------


@dataclass(frozen=True)
class Just:
    value: int


@dataclass(frozen=True)
class JustError:
    tag: int


@dataclass(frozen=True)
class JustStopped:
    pass


@dataclass(frozen=True)
class Delay:
    """``schedule_after(delay) | then(lambda _: value)``; the delay is assigned after drawing."""

    value: int
    delay: float = 0.0


@dataclass(frozen=True)
class Then:
    child: Node
    k: int


@dataclass(frozen=True)
class ThenFail:
    child: Node
    tag: int


@dataclass(frozen=True)
class UponError:
    child: Node
    k: int


@dataclass(frozen=True)
class UponStopped:
    child: Node
    k: int


@dataclass(frozen=True)
class StoppedAsOptional:
    child: Node


@dataclass(frozen=True)
class LetValue:
    child: Node
    then_run: Node


@dataclass(frozen=True)
class Finally:
    child: Node
    cleanup: Node


@dataclass(frozen=True)
class RepeatN:
    """Only over inline children: repetition would make timer instants coincide."""

    child: Node
    n: int


@dataclass(frozen=True)
class WhenAll:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class WhenAny:
    children: tuple[Node, ...]


Node = (
    Just
    | JustError
    | JustStopped
    | Delay
    | Then
    | ThenFail
    | UponError
    | UponStopped
    | StoppedAsOptional
    | LetValue
    | Finally
    | RepeatN
    | WhenAll
    | WhenAny
)


def has_delay(node: Node) -> bool:
    if isinstance(node, Delay):
        return True
    if isinstance(node, WhenAll | WhenAny):
        return any(has_delay(child) for child in node.children)
    if isinstance(node, LetValue):
        return has_delay(node.child) or has_delay(node.then_run)
    if isinstance(node, Finally):
        return has_delay(node.child) or has_delay(node.cleanup)
    if isinstance(node, Just | JustError | JustStopped):
        return False
    return has_delay(node.child)


# -- the reference interpreter -----------------------------------------------------------------
#
# ``evaluate`` returns the *set* of outcomes the semantics allow. Most pipelines have exactly one;
# several appear only when stop callbacks complete several operations at the same instant, whose
# relative order P2300 leaves unspecified (e.g. two siblings turning a stop into errors).

Outcomes = frozenset[Outcome]


def stopped_at(time: float) -> Outcomes:
    return frozenset({Outcome("stopped", None, time)})


def evaluate(node: Node, start: float, stop_at: float | None) -> Outcomes:
    """The outcomes of ``node`` started at ``start`` when stop is requested at ``stop_at``."""
    stop_already_requested = stop_at is not None and stop_at <= start
    if isinstance(node, Just):
        return frozenset({Outcome("value", node.value, start)})
    if isinstance(node, JustError):
        return frozenset({Outcome("error", node.tag, start)})
    if isinstance(node, JustStopped):
        return stopped_at(start)
    if isinstance(node, Delay):
        if stop_at is not None and stop_at < start + node.delay:
            return stopped_at(max(start, stop_at))
        return frozenset({Outcome("value", node.value, start + node.delay)})
    if isinstance(node, Then | ThenFail | UponError | UponStopped | StoppedAsOptional):
        return frozenset(map_unary(node, inner) for inner in evaluate(node.child, start, stop_at))
    if isinstance(node, LetValue):
        results: set[Outcome] = set()
        for first in evaluate(node.child, start, stop_at):
            if first.kind == "value":
                results |= evaluate(node.then_run, first.end, stop_at)
            else:
                results.add(first)
        return frozenset(results)
    if isinstance(node, Finally):
        results = set()
        for body in evaluate(node.child, start, stop_at):
            for cleanup in evaluate(node.cleanup, body.end, stop_at):
                ok = cleanup.kind == "value"
                results.add(Outcome(body.kind, body.payload, cleanup.end) if ok else cleanup)
        return frozenset(results)
    if isinstance(node, RepeatN):
        return evaluate_repeat(node, start, stop_at)
    if stop_already_requested:
        # when_all and when_any check the token when started: no child runs.
        return stopped_at(start)
    if isinstance(node, WhenAll):
        return evaluate_when_all(node.children, start, stop_at)
    return evaluate_when_any(node.children, start, stop_at)


def map_unary(node: Node, inner: Outcome) -> Outcome:
    if isinstance(node, Then) and inner.kind == "value":
        return Outcome("value", (inner.payload, node.k), inner.end)
    if isinstance(node, ThenFail) and inner.kind == "value":
        return Outcome("error", node.tag, inner.end)
    if isinstance(node, UponError) and inner.kind == "error":
        return Outcome("value", node.k, inner.end)
    if isinstance(node, UponStopped) and inner.kind == "stopped":
        return Outcome("value", node.k, inner.end)
    if isinstance(node, StoppedAsOptional) and inner.kind == "stopped":
        return Outcome("value", None, inner.end)
    return inner


def evaluate_repeat(node: RepeatN, start: float, stop_at: float | None) -> Outcomes:
    # The token is checked before each round (none for n == 0: it completes at once).
    results: set[Outcome] = set()
    pending = {start}
    for _ in range(node.n):
        following: set[float] = set()
        for begin in pending:
            if stop_at is not None and stop_at <= begin:
                results.add(Outcome("stopped", None, begin))
                continue
            for once in evaluate(node.child, begin, stop_at):
                if once.kind == "value":
                    following.add(once.end)
                else:
                    results.add(once)
        pending = following
    results |= {Outcome("value", None, end) for end in pending}
    return frozenset(results)


def failure_outcomes(candidates: list[Outcome], end: float) -> set[Outcome]:
    """when_all's result when ``candidates`` failed in an unspecified order: any error wins over
    "stopped" (P2300 [exec.when.all]); with no error it is stopped."""
    errors = {Outcome("error", o.payload, end) for o in candidates if o.kind == "error"}
    return errors or {Outcome("stopped", None, end)}


def evaluate_when_all(children: tuple[Node, ...], start: float, stop_at: float | None) -> Outcomes:
    # The first failure (earliest; inline ties in start order) requests stop on the siblings;
    # its error is delivered, or, if it was a stop, any error a sibling produced afterwards.
    results: set[Outcome] = set()
    for combo in product(*(evaluate(child, start, stop_at) for child in children)):
        failures = [(o.end, index) for index, o in enumerate(combo) if o.kind != "value"]
        if not failures:
            end = max((o.end for o in combo), default=start)
            results.add(Outcome("value", tuple(o.payload for o in combo), end))
            continue
        first_time, first = min(failures)
        if stop_at is not None and first_time >= stop_at:
            # Every failure was caused by the outer stop, in callback order.
            results |= failure_outcomes(list(combo), max(o.end for o in combo))
            continue
        first_outcome = combo[first]
        siblings = [
            frozenset({first_outcome}) if index == first else evaluate(child, start, first_time)
            for index, child in enumerate(children)
        ]
        for settled in product(*siblings):
            end = max(o.end for o in settled)
            if first_outcome.kind == "error":
                results.add(Outcome("error", first_outcome.payload, end))
            else:
                others = [o for index, o in enumerate(settled) if index != first]
                results |= failure_outcomes(others, end)
    return frozenset(results)


def evaluate_when_any(children: tuple[Node, ...], start: float, stop_at: float | None) -> Outcomes:
    # The first completion of any kind wins (inline ties in start order); every other child is
    # stopped then and, since nothing started after a stop can wait on a timer, also ends then.
    results: set[Outcome] = set()
    for combo in product(*(evaluate(child, start, stop_at) for child in children)):
        first_time = min(o.end for o in combo)
        if stop_at is not None and first_time >= stop_at:
            winners = [o for o in combo if o.end == first_time]  # stop callbacks' order
        else:
            winners = [next(o for o in combo if o.end == first_time)]
        results |= {Outcome(w.kind, w.payload, first_time) for w in winners}
    return frozenset(results)


# -- building real senders -----------------------------------------------------------------------


def _fail(tag: int) -> Any:
    def fail(_: object) -> Any:
        raise Boom(tag)

    return fail


def build(node: Node, vts: ex.VirtualTimeScheduler) -> ex.Sender[Any]:
    if isinstance(node, Just):
        return ex.just(node.value)
    if isinstance(node, JustError):
        return ex.just_error(Boom(node.tag))
    if isinstance(node, JustStopped):
        return ex.just_stopped()
    if isinstance(node, Delay):
        value = node.value
        return vts.schedule_after(node.delay) | ex.then(lambda _: value)
    if isinstance(node, Then):
        k = node.k
        return build(node.child, vts) | ex.then(lambda v: (v, k))
    if isinstance(node, ThenFail):
        return build(node.child, vts) | ex.then(_fail(node.tag))
    if isinstance(node, UponError):
        k = node.k
        return build(node.child, vts) | ex.upon_error(lambda _: k)
    if isinstance(node, UponStopped):
        k = node.k
        return build(node.child, vts) | ex.upon_stopped(lambda: k)
    if isinstance(node, StoppedAsOptional):
        return build(node.child, vts) | ex.stopped_as_optional()
    if isinstance(node, LetValue):
        then_run = build(node.then_run, vts)
        return build(node.child, vts) | ex.let_value(lambda _: then_run)
    if isinstance(node, Finally):
        return build(node.child, vts) | ex.finally_(build(node.cleanup, vts))
    if isinstance(node, RepeatN):
        return build(node.child, vts) | ex.repeat_n(node.n)
    if isinstance(node, WhenAll):
        return ex.when_all(*(build(child, vts) for child in node.children))
    return ex.when_any(*(build(child, vts) for child in node.children))


def run(node: Node) -> Outcome:
    with ex.VirtualTimeScheduler() as vts:
        try:
            value = ex.sync_wait(build(node, vts), context=vts)
        except Boom as exc:
            outcome = Outcome("error", exc.tag, vts.now())
        except ex.Stopped:
            outcome = Outcome("stopped", None, vts.now())
        else:
            outcome = Outcome("value", value, vts.now())
        assert vts.statistics().timers == 0, "a timer outlived the pipeline"
        return outcome


# -- strategies --------------------------------------------------------------------------------

small = st.integers(min_value=0, max_value=9)
leaves: st.SearchStrategy[Node] = st.one_of(
    st.builds(Just, small),
    st.builds(JustError, small),
    st.just(JustStopped()),
    st.builds(Delay, small),
    st.builds(Delay, small),
)


def extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    several = st.lists(children, min_size=1, max_size=4).map(tuple)
    return st.one_of(
        st.builds(Then, children, small),
        st.builds(ThenFail, children, small),
        st.builds(UponError, children, small),
        st.builds(UponStopped, children, small),
        st.builds(StoppedAsOptional, children),
        st.builds(LetValue, children, children),
        st.builds(Finally, children, children),
        st.builds(RepeatN, children, st.integers(min_value=0, max_value=3)).filter(
            lambda node: not has_delay(node.child)
        ),
        st.builds(WhenAll, several),
        st.builds(WhenAny, several),
    )


pipelines = st.recursive(leaves, extend, max_leaves=14)


def with_distinct_delays(node: Node, exponents: list[int]) -> Node:
    """Give every Delay leaf its own power-of-two delay (so timer instants never coincide)."""
    if isinstance(node, Delay):
        return Delay(node.value, float(2 ** exponents.pop()))
    if isinstance(node, Just | JustError | JustStopped):
        return node
    if isinstance(node, WhenAll):
        return WhenAll(tuple(with_distinct_delays(c, exponents) for c in node.children))
    if isinstance(node, WhenAny):
        return WhenAny(tuple(with_distinct_delays(c, exponents) for c in node.children))
    if isinstance(node, LetValue):
        return LetValue(
            with_distinct_delays(node.child, exponents),
            with_distinct_delays(node.then_run, exponents),
        )
    if isinstance(node, Finally):
        return Finally(
            with_distinct_delays(node.child, exponents),
            with_distinct_delays(node.cleanup, exponents),
        )
    child = with_distinct_delays(node.child, exponents)
    if isinstance(node, Then):
        return Then(child, node.k)
    if isinstance(node, ThenFail):
        return ThenFail(child, node.tag)
    if isinstance(node, UponError):
        return UponError(child, node.k)
    if isinstance(node, UponStopped):
        return UponStopped(child, node.k)
    if isinstance(node, StoppedAsOptional):
        return StoppedAsOptional(child)
    return RepeatN(child, node.n)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pipeline=pipelines, data=st.data())
def test_sync_wait_agrees_with_the_reference_interpreter(
    pipeline: Node, data: st.DataObject
) -> None:
    exponents = data.draw(st.permutations(range(40)))
    node = with_distinct_delays(pipeline, list(exponents))
    assert run(node) in evaluate(node, 0.0, None)


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (WhenAll((Delay(0, 4.0), JustError(1))), Outcome("error", 1, 0.0)),
        (WhenAny((Delay(1, 8.0), Delay(2, 2.0))), Outcome("value", 2, 2.0)),
        (
            WhenAll((UponStopped(Delay(0, 4.0), 5), ThenFail(Delay(1, 1.0), 7))),
            Outcome("error", 7, 1.0),
        ),
        (Finally(Just(3), Delay(0, 2.0)), Outcome("value", 3, 2.0)),
    ],
    ids=["error-stops-sibling", "earliest-timer-wins", "stop-turned-value", "finally-waits"],
)
def test_reference_interpreter_examples(node: Node, expected: Outcome) -> None:
    assert evaluate(node, 0.0, None) == {expected}
    assert run(node) == expected
