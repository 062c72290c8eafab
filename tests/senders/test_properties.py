"""Property-based tests: random pipelines built from the algorithms, run with ``sync_wait`` on
virtual time, agree with a small eager reference interpreter of the P2300 semantics.

The reference interpreter evaluates a pipeline description to ``(outcome, end_time)`` given its
start time and the time at which stop is requested (if ever). Delays are distinct powers of two,
so no two timers of a pipeline can ever fire at the same virtual instant and the order of events
is fully determined; inline completions happen in start order.

Pipelines run two ways: through ``sync_wait``, and through ``connect`` + ``start`` into a
contract-checking receiver of ``dsexec.testing`` whose environment carries the token of a
``StopSource`` the test controls. Stop is then requested never, before ``start()``, or at a
virtual instant half a second after the N-th event instant of the pipeline (never at the same
instant as a timer), and the receiver must be completed exactly once, as the interpreter says.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from itertools import product
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import dsexec as ex
from dsexec.testing import (
    ExpectErrorReceiver,
    ExpectStoppedReceiver,
    ExpectValueReceiver,
    RecordingReceiver,
    collect_contract_violations,
)

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


@dataclass(frozen=True)
class Timeout:
    """``child | timeout(delay)`` (timer on the environment's scheduler); delay assigned later."""

    child: Node
    delay: float = 0.0


@dataclass(frozen=True)
class StopWhen:
    child: Node
    trigger: Node


@dataclass(frozen=True)
class LetError:
    child: Node
    then_run: Node


@dataclass(frozen=True)
class LetStopped:
    child: Node
    then_run: Node


@dataclass(frozen=True)
class Retry:
    """``child | then(fail the first `fails` times with Boom(tag)) | retry(n)``; inline child
    only. Built inside a ``let_value`` so each run of the node starts with a fresh count."""

    child: Node
    n: int
    fails: int
    tag: int


@dataclass(frozen=True)
class RepeatUntil:
    """``child | then(pair with the round number) | repeat_until(true on round `rounds`)``;
    inline child, fresh count per run: completes with ``(value, rounds)``."""

    child: Node
    rounds: int


@dataclass(frozen=True)
class IntoResult:
    child: Node


@dataclass(frozen=True)
class StoppedAsError:
    child: Node
    tag: int


@dataclass(frozen=True)
class Unstoppable:
    child: Node


@dataclass(frozen=True)
class Bulk:
    """``child | bulk(n, f)`` where ``f`` raises ``Boom(tag)`` at index ``fail_at`` (if any)."""

    child: Node
    n: int
    fail_at: int | None
    tag: int


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
    | Timeout
    | StopWhen
    | LetError
    | LetStopped
    | Retry
    | RepeatUntil
    | IntoResult
    | StoppedAsError
    | Unstoppable
    | Bulk
)


def children_of(node: Node) -> list[Node]:
    """Every sub-pipeline of ``node``, in field order."""
    found: list[Node] = []
    for field in dataclasses.fields(node):
        value = getattr(node, field.name)
        if isinstance(value, tuple):
            found.extend(value)
        elif not isinstance(value, int | float | None):
            found.append(value)
    return found


def has_delay(node: Node) -> bool:
    """Whether ``node`` may wait on a timer (else it always completes inline in ``start()``).

    A ``timeout`` arms no timer and a ``stop_when`` starts no trigger when the upstream completes
    inline, so only their upstream counts."""
    if isinstance(node, Delay):
        return True
    if isinstance(node, Timeout | StopWhen):
        return has_delay(node.child)
    return any(has_delay(child) for child in children_of(node))


# -- the reference interpreter -----------------------------------------------------------------
#
# ``evaluate`` returns the *set* of outcomes the semantics allow. Most pipelines have exactly one;
# several appear only when stop callbacks complete several operations at the same instant, whose
# relative order P2300 leaves unspecified (e.g. two siblings turning a stop into errors).

Outcomes = frozenset[Outcome]


def stopped_at(time: float) -> Outcomes:
    return frozenset({Outcome("stopped", None, time)})


def is_inline(node: Node, start: float) -> bool:
    """Whether ``node`` completes inside its ``start()`` when nothing requests stop."""
    return all(o.end == start for o in evaluate(node, start, None))


def requested_by(
    time: float, start: float, stop_at: float | None, late: bool, inline: Callable[[], bool]
) -> bool:
    """Whether stop was already requested when an operation started at ``start`` completed at
    ``time``. At ``time == stop_at == start`` with ``late`` (the operation was started before
    the request, in the same instant), it was not if the completion came inline in ``start()``.
    """
    if stop_at is None or time < stop_at:
        return False
    if time > stop_at:
        return True
    return not (late and time == start and inline())


def evaluate(node: Node, start: float, stop_at: float | None, late: bool = False) -> Outcomes:
    """The outcomes of ``node`` started at ``start`` when stop is requested at ``stop_at``.

    ``late`` tells, for ``stop_at == start``, that the request came after ``node`` was started
    (from a sibling that completed inline later in the same instant), not before: operations
    that look at the token in ``start()`` then run, and their pending children are stopped.
    """
    stop_already_requested = stop_at is not None and (
        stop_at < start or (stop_at == start and not late)
    )
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
    if isinstance(node, Unstoppable):
        return evaluate(node.child, start, None)
    if isinstance(
        node,
        Then | ThenFail | UponError | UponStopped | StoppedAsOptional | StoppedAsError | IntoResult,
    ):
        inners = evaluate(node.child, start, stop_at, late)
        return frozenset(map_unary(node, inner) for inner in inners)
    if isinstance(node, Bulk):
        return evaluate_bulk(node, start, stop_at, late)
    if isinstance(node, LetValue | LetError | LetStopped | Finally):
        return evaluate_sequence(node, start, stop_at, late)
    if isinstance(node, RepeatN) and node.n == 0:
        return frozenset({Outcome("value", None, start)})  # before looking at the token
    if stop_already_requested:
        # when_all, when_any, timeout, stop_when, the repeat family and retry check the token
        # when started: nothing runs.
        return stopped_at(start)
    if isinstance(node, RepeatN | RepeatUntil | Retry):
        return evaluate_loop(node, start, stop_at, late)
    if isinstance(node, Timeout):
        return evaluate_timeout(node, start, stop_at, late)
    if isinstance(node, StopWhen):
        return evaluate_stop_when(node, start, stop_at, late)
    if isinstance(node, WhenAll):
        return evaluate_when_all(node.children, start, stop_at, late)
    assert isinstance(node, WhenAny)
    return evaluate_when_any(node.children, start, stop_at, late)


def evaluate_sequence(
    node: LetValue | LetError | LetStopped | Finally,
    start: float,
    stop_at: float | None,
    late: bool,
) -> Outcomes:
    """``let_*`` continue on one channel with a second sender; ``finally_`` on every channel.
    The second sender starts when the first completes, before a stop request at that instant
    only if the first completed inline before it."""
    second = node.cleanup if isinstance(node, Finally) else node.then_run
    channel = {LetValue: "value", LetError: "error", LetStopped: "stopped"}.get(type(node))
    results: set[Outcome] = set()
    for first in evaluate(node.child, start, stop_at, late):
        if channel is not None and first.kind != channel:
            results.add(first)
            continue
        second_late = not requested_by(
            first.end, start, stop_at, late, lambda: is_inline(node.child, start)
        )
        for then in evaluate(second, first.end, stop_at, second_late):
            if channel is not None:
                results.add(then)
            else:
                ok = then.kind == "value"
                results.add(Outcome(first.kind, first.payload, then.end) if ok else then)
    return frozenset(results)


def evaluate_bulk(node: Bulk, start: float, stop_at: float | None, late: bool) -> Outcomes:
    # The token is looked at before the first call (so not at all when n == 0).
    results: set[Outcome] = set()
    for inner in evaluate(node.child, start, stop_at, late):
        if inner.kind != "value":
            results.add(inner)
        elif node.n > 0 and requested_by(
            inner.end, start, stop_at, late, lambda: is_inline(node.child, start)
        ):
            results.add(Outcome("stopped", None, inner.end))
        elif node.fail_at is not None and node.fail_at < node.n:
            results.add(Outcome("error", node.tag, inner.end))
        else:
            results.add(inner)
    return frozenset(results)


def evaluate_loop(
    node: RepeatN | RepeatUntil | Retry, start: float, stop_at: float | None, late: bool
) -> Outcomes:
    """The child completes inline, so every round runs at ``start``, before any stop request
    that was not there when the loop started (then ``evaluate`` already said stopped)."""
    once = evaluate(node.child, start, stop_at, late)
    results: set[Outcome] = set()

    def round_(index: int) -> None:
        for outcome in once:
            if isinstance(node, Retry):
                attempt = outcome
                if outcome.kind == "value" and index < node.fails:
                    attempt = Outcome("error", node.tag, outcome.end)
                if attempt.kind != "error" or index == node.n:
                    results.add(attempt)
                else:
                    round_(index + 1)
            elif outcome.kind != "value":
                results.add(outcome)
            elif isinstance(node, RepeatN) and index + 1 == node.n:
                results.add(Outcome("value", None, outcome.end))
            elif isinstance(node, RepeatUntil) and index + 1 == node.rounds:
                results.add(Outcome("value", (outcome.payload, index + 1), outcome.end))
            else:
                round_(index + 1)

    round_(0)
    return frozenset(results)


def evaluate_timeout(node: Timeout, start: float, stop_at: float | None, late: bool) -> Outcomes:
    fire = start + node.delay
    results: set[Outcome] = set()
    for upstream in evaluate(node.child, start, stop_at, late):
        if upstream.end < fire or (stop_at is not None and stop_at < fire):
            # The upstream completed first (inline: no timer armed), or the outer stop came
            # first: the upstream's completion is delivered (stopped stays stopped).
            results.add(upstream)
            continue
        for cut in evaluate(node.child, start, fire):
            if cut.kind != "stopped":
                results.add(cut)  # a value or error produced before honouring the stop wins
            elif stop_at is not None and stop_at <= cut.end:
                results.add(cut)  # stop was also requested from outside by then
            else:
                results.add(Outcome("error", "timeout", cut.end))
    return frozenset(results)


def evaluate_stop_when(node: StopWhen, start: float, stop_at: float | None, late: bool) -> Outcomes:
    if is_inline(node.child, start):
        return evaluate(node.child, start, stop_at, late)  # the trigger is never started
    results: set[Outcome] = set()
    for upstream in evaluate(node.child, start, stop_at, late):
        for trigger in evaluate(node.trigger, start, stop_at, late):
            if trigger.end < upstream.end:
                cut = trigger.end if stop_at is None else min(trigger.end, stop_at)
                for stopped in evaluate(node.child, start, cut, late=True):
                    end = max(stopped.end, trigger.end)
                    results.add(Outcome(stopped.kind, stopped.payload, end))
            elif upstream.end < trigger.end:
                cut = upstream.end if stop_at is None else min(upstream.end, stop_at)
                for stopped in evaluate(node.trigger, start, cut, late=True):
                    end = max(upstream.end, stopped.end)
                    results.add(Outcome(upstream.kind, upstream.payload, end))
            else:
                results.add(upstream)  # both ended at the outer stop
    return frozenset(results)


def error_payload(error: BaseException) -> object:
    if isinstance(error, Boom):
        return error.tag
    if isinstance(error, TimeoutError):
        return "timeout"
    return repr(error)  # matches no outcome of the interpreter


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
    if isinstance(node, StoppedAsError) and inner.kind == "stopped":
        return Outcome("error", node.tag, inner.end)
    if isinstance(node, IntoResult) and inner.kind == "value":
        return Outcome("value", ("ok", inner.payload), inner.end)
    if isinstance(node, IntoResult) and inner.kind == "error":
        return Outcome("value", ("err", inner.payload), inner.end)
    return inner


def failure_outcomes(candidates: list[Outcome], end: float) -> set[Outcome]:
    """when_all's result when ``candidates`` failed after a stop: the earliest error (any of
    those completing in the same instant, whose callback order is unspecified) wins over
    "stopped" (P2300 [exec.when.all]); with no error it is stopped."""
    errors = [o for o in candidates if o.kind == "error"]
    if not errors:
        return {Outcome("stopped", None, end)}
    earliest = min(o.end for o in errors)
    return {Outcome("error", o.payload, end) for o in errors if o.end == earliest}


def evaluate_when_all(
    children: tuple[Node, ...], start: float, stop_at: float | None, late: bool
) -> Outcomes:
    # The first failure (earliest; inline ties in start order) requests stop on the siblings;
    # its error is delivered, or, if it was a stop, the first error a sibling produced after.
    results: set[Outcome] = set()
    for combo in product(*(evaluate(child, start, stop_at, late) for child in children)):
        failures = [(o.end, index) for index, o in enumerate(combo) if o.kind != "value"]
        if not failures:
            end = max((o.end for o in combo), default=start)
            results.add(Outcome("value", tuple(o.payload for o in combo), end))
            continue
        first_time, first = min(failures)
        inline = partial(is_inline, children[first], start)
        if requested_by(first_time, start, stop_at, late, inline):
            # Every failure came with or after the outer stop (at it: in callback order).
            results |= failure_outcomes(list(combo), max(o.end for o in combo))
            continue
        first_outcome = combo[first]
        # Children started before the failing one were started before its stop request.
        siblings = [
            frozenset({first_outcome})
            if index == first
            else evaluate(child, start, first_time, late=index < first)
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


def evaluate_when_any(
    children: tuple[Node, ...], start: float, stop_at: float | None, late: bool
) -> Outcomes:
    # The first completion of any kind wins (inline ties in start order); the other children
    # are stopped then, and when_any completes once the last of them has.
    results: set[Outcome] = set()
    for combo in product(*(evaluate(child, start, stop_at, late) for child in children)):
        first_time = min(o.end for o in combo)
        firsts = [index for index, o in enumerate(combo) if o.end == first_time]
        inline = partial(is_inline, children[firsts[0]], start)
        if requested_by(first_time, start, stop_at, late, inline):
            end = max(o.end for o in combo)  # all stopped from outside (callback order)
            results |= {Outcome(combo[i].kind, combo[i].payload, end) for i in firsts}
            continue
        winner = firsts[0]
        settled_sets = [
            frozenset({combo[winner]})
            if index == winner
            else evaluate(child, start, first_time, late=index < winner)
            for index, child in enumerate(children)
        ]
        for settled in product(*settled_sets):
            end = max(o.end for o in settled)
            results.add(Outcome(combo[winner].kind, combo[winner].payload, end))
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
    if isinstance(node, WhenAny):
        return ex.when_any(*(build(child, vts) for child in node.children))
    if isinstance(node, Timeout):
        return build(node.child, vts) | ex.timeout(node.delay)
    if isinstance(node, StopWhen):
        return build(node.child, vts) | ex.stop_when(build(node.trigger, vts))
    if isinstance(node, LetError):
        then_run = build(node.then_run, vts)
        return build(node.child, vts) | ex.let_error(lambda _: then_run)
    if isinstance(node, LetStopped):
        then_run = build(node.then_run, vts)
        return build(node.child, vts) | ex.let_stopped(lambda: then_run)
    if isinstance(node, Retry):
        return fresh_per_run(lambda: build_retry(node, vts))
    if isinstance(node, RepeatUntil):
        return fresh_per_run(lambda: build_repeat_until(node, vts))
    if isinstance(node, IntoResult):
        return build(node.child, vts) | ex.into_result() | ex.then(result_payload)
    if isinstance(node, StoppedAsError):
        return build(node.child, vts) | ex.stopped_as_error(Boom(node.tag))
    if isinstance(node, Unstoppable):
        return build(node.child, vts) | ex.unstoppable()
    assert isinstance(node, Bulk)
    fail_at, tag = node.fail_at, node.tag

    def step(index: int, _: object) -> None:
        if index == fail_at:
            raise Boom(tag)

    return build(node.child, vts) | ex.bulk(node.n, step)


def fresh_per_run(make: Callable[[], ex.Sender[Any]]) -> ex.Sender[Any]:
    """A sender that calls ``make()`` each time it runs, so stateful parts start afresh."""
    return ex.just(None) | ex.let_value(lambda _: make())


def build_retry(node: Retry, vts: ex.VirtualTimeScheduler) -> ex.Sender[Any]:
    attempts = 0

    def check(value: object) -> object:
        nonlocal attempts
        attempts += 1
        if attempts <= node.fails:
            raise Boom(node.tag)
        return value

    return build(node.child, vts) | ex.then(check) | ex.retry(node.n)


def build_repeat_until(node: RepeatUntil, vts: ex.VirtualTimeScheduler) -> ex.Sender[Any]:
    rounds = 0

    def count(value: object) -> tuple[object, int]:
        nonlocal rounds
        rounds += 1
        return (value, rounds)

    def done(counted: tuple[object, int]) -> bool:
        return counted[1] >= node.rounds

    return build(node.child, vts) | ex.then(count) | ex.repeat_until(done)


def result_payload(result: ex.Result[Any]) -> tuple[str, object]:
    if result.has_value():
        return ("ok", result.value())
    error = result.error()
    assert error is not None
    return ("err", error_payload(error))


def run(node: Node) -> Outcome:
    with ex.VirtualTimeScheduler() as vts:
        try:
            value = ex.sync_wait(build(node, vts), context=vts)
        except (Boom, TimeoutError) as exc:
            outcome = Outcome("error", error_payload(exc), vts.now())
        except ex.Stopped:
            outcome = Outcome("stopped", None, vts.now())
        else:
            outcome = Outcome("value", value, vts.now())
        assert vts.statistics().timers == 0, "a timer outlived the pipeline"
        return outcome


Stop = Literal["never", "before"] | float
"""When the test requests stop: never, before ``start()``, or at that virtual instant."""


class Probe:
    """The pipeline's receiver: notes every completion with its virtual instant, then forwards
    it to a contract-checking receiver of ``dsexec.testing`` (which raises and records a
    ``ContractViolation`` on a second completion or an unexpected channel)."""

    def __init__(
        self,
        checker: RecordingReceiver[Any],
        vts: ex.VirtualTimeScheduler,
        on_complete: Callable[[], object],
    ) -> None:
        self.checker = checker
        self.completions: list[Outcome] = []
        self._vts = vts
        self._on_complete = on_complete

    def _note(self, kind: Kind, payload: object) -> None:
        self.completions.append(Outcome(kind, payload, self._vts.now()))
        self._on_complete()

    def set_value(self, value: object, /) -> None:
        self._note("value", value)
        self.checker.set_value(value)

    def set_error(self, error: BaseException, /) -> None:
        self._note("error", error_payload(error))
        self.checker.set_error(error)

    def set_stopped(self) -> None:
        self._note("stopped", None)
        self.checker.set_stopped()

    def get_env(self) -> ex.Env:
        return self.checker.get_env()


class StopAtReceiver(RecordingReceiver[None]):
    """Receiver of the test's own timer: requests stop on ``target`` when the timer fires."""

    def __init__(self, target: ex.StopSource, own: ex.StopSource) -> None:
        super().__init__(stop_token=own.token)
        self._target = target

    def set_value(self, value: None, /) -> None:
        super().set_value(value)
        self._target.request_stop()


def checking_receiver(
    expected: Outcomes, stop_token: ex.StopToken, scheduler: ex.Scheduler
) -> RecordingReceiver[Any]:
    """The strictest receiver of ``dsexec.testing`` that accepts every expected outcome."""
    kinds = {o.kind for o in expected}
    env: dict[str, Any] = {"stop_token": stop_token, "scheduler": scheduler}
    if kinds == {"value"}:
        values = {repr(o.payload) for o in expected}
        if len(values) == 1:
            return ExpectValueReceiver(next(iter(expected)).payload, **env)
        return ExpectValueReceiver(**env)
    if kinds == {"error"}:
        return ExpectErrorReceiver((Boom, TimeoutError), **env)  # type: ignore[arg-type]
    if kinds == {"stopped"}:
        return ExpectStoppedReceiver(**env)
    return RecordingReceiver(**env)


def drive(node: Node, stop: Stop, expected: Outcomes) -> Outcome:
    """Run ``node`` with ``connect`` + ``start`` into a checking receiver whose environment
    carries a stop token the test requests stop on as ``stop`` says; return its one completion.
    """
    source = ex.StopSource()
    with ex.VirtualTimeScheduler() as vts:
        checker = checking_receiver(expected, source.token, vts.get_scheduler())
        timer_source = ex.StopSource()  # cancels the test's timer once the pipeline is done
        probe = Probe(checker, vts, timer_source.request_stop)
        if stop == "before":
            source.request_stop()
        elif stop != "never":
            timer = vts.schedule_at(stop)
            ex.connect(timer, StopAtReceiver(source, timer_source)).start()
        operation = ex.connect(build(node, vts), probe)
        operation.start()
        vts.run()
        assert vts.statistics().timers == 0, "a timer outlived the pipeline"
    assert len(probe.completions) == 1, f"completed {len(probe.completions)} times"
    assert checker.completed
    assert collect_contract_violations() == []
    return probe.completions[0]


def event_instants(node: Node) -> list[float]:
    """The distinct virtual instants at which something happens when ``node`` runs unstopped."""
    instants = [0.0]
    with ex.VirtualTimeScheduler() as vts:
        receiver: RecordingReceiver[Any] = RecordingReceiver(scheduler=vts.get_scheduler())
        ex.connect(build(node, vts), receiver).start()
        while vts.run_one():
            if vts.now() != instants[-1]:
                instants.append(vts.now())
        assert receiver.completed
    return instants


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
        # Loops only over inline children: repetition would make timer instants coincide.
        st.builds(RepeatN, children, st.integers(min_value=0, max_value=3)).filter(
            lambda node: not has_delay(node.child)
        ),
        st.builds(WhenAll, several),
        st.builds(WhenAny, several),
        st.builds(Timeout, children),
        st.builds(StopWhen, children, children),
        st.builds(LetError, children, children),
        st.builds(LetStopped, children, children),
        st.builds(Retry, children, st.integers(0, 3), st.integers(0, 4), small).filter(
            lambda node: not has_delay(node.child)
        ),
        st.builds(RepeatUntil, children, st.integers(1, 3)).filter(
            lambda node: not has_delay(node.child)
        ),
        st.builds(IntoResult, children),
        st.builds(StoppedAsError, children, small),
        st.builds(Unstoppable, children),
        st.builds(Bulk, children, st.integers(0, 3), st.none() | st.integers(0, 3), small),
    )


pipelines = st.recursive(leaves, extend, max_leaves=12)

EXPONENTS = 48
"""Timers get delays 2**0 .. 2**47: every sum of distinct ones is exact in a float, and so is
that sum plus 0.5 (the test's own stop instants)."""


def timer_count(node: Node) -> int:
    own = 1 if isinstance(node, Delay | Timeout) else 0
    return own + sum(timer_count(child) for child in children_of(node))


def with_distinct_delays(node: Node, exponents: list[int]) -> Node:
    """Give every Delay and Timeout its own power-of-two delay (so timer instants never
    coincide: an instant is a sum of distinct powers of two, telling which timers led to it)."""
    if isinstance(node, Delay):
        return Delay(node.value, float(2 ** exponents.pop()))
    changes: dict[str, Any] = {}
    for field in dataclasses.fields(node):
        value = getattr(node, field.name)
        if isinstance(value, tuple):
            changes[field.name] = tuple(with_distinct_delays(c, exponents) for c in value)
        elif not isinstance(value, int | float | None):
            changes[field.name] = with_distinct_delays(value, exponents)
    if isinstance(node, Timeout):
        changes["delay"] = float(2 ** exponents.pop())
    return dataclasses.replace(node, **changes)


def draw_node(pipeline: Node, data: st.DataObject) -> Node:
    assume(timer_count(pipeline) <= EXPONENTS)
    exponents = data.draw(st.permutations(range(EXPONENTS)), label="exponents")
    return with_distinct_delays(pipeline, list(exponents))


PROPERTY_SETTINGS = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure is reproducible
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@PROPERTY_SETTINGS
@given(pipeline=pipelines, data=st.data())
def test_sync_wait_agrees_with_the_reference_interpreter(
    pipeline: Node, data: st.DataObject
) -> None:
    node = draw_node(pipeline, data)
    assert run(node) in evaluate(node, 0.0, None)


@PROPERTY_SETTINGS
@given(pipeline=pipelines, data=st.data())
def test_stop_from_outside_agrees_with_the_reference_interpreter(
    pipeline: Node, data: st.DataObject
) -> None:
    """``connect`` + ``start`` into a checking receiver: exactly one completion, the one the
    interpreter expects, when the test requests stop never, before start, or after the N-th
    event instant of the unstopped run."""
    node = draw_node(pipeline, data)
    when = data.draw(st.sampled_from(["never", "before", "after"]), label="stop")
    stop: Stop
    if when == "after":
        instants = event_instants(node)
        stop = data.draw(st.sampled_from(instants), label="after instant") + 0.5
        expected = evaluate(node, 0.0, stop)
    else:
        stop = "never" if when == "never" else "before"
        expected = evaluate(node, 0.0, None if when == "never" else 0.0)
    assert drive(node, stop, expected) in expected


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


def unstoppable_stop(value: int, delay: float) -> Node:
    """Completes with ``set_stopped`` after ``delay``, whatever stop requests arrive."""
    return Unstoppable(LetValue(Delay(value, delay), JustStopped()))


@pytest.mark.parametrize(
    ("node", "stop", "expected"),
    [
        (Timeout(Delay(0, 8.0), 2.0), "never", Outcome("error", "timeout", 2.0)),
        (Timeout(Delay(0, 2.0), 8.0), "never", Outcome("value", 0, 2.0)),
        (Timeout(Unstoppable(Delay(1, 8.0)), 2.0), "never", Outcome("value", 1, 8.0)),
        (Timeout(unstoppable_stop(1, 8.0), 2.0), "never", Outcome("error", "timeout", 8.0)),
        (Timeout(unstoppable_stop(1, 8.0), 2.0), 4.5, Outcome("stopped", None, 8.0)),
        (Timeout(Delay(0, 8.0), 2.0), "before", Outcome("stopped", None, 0.0)),
        (StopWhen(Delay(1, 8.0), Delay(2, 2.0)), "never", Outcome("stopped", None, 2.0)),
        (StopWhen(Delay(1, 2.0), Unstoppable(Delay(2, 8.0))), "never", Outcome("value", 1, 8.0)),
        (StopWhen(Delay(1, 8.0), Delay(2, 2.0)), 0.5, Outcome("stopped", None, 0.5)),
        (
            WhenAll((StoppedAsError(Delay(0, 4.0), 7), JustStopped())),
            "never",
            Outcome("error", 7, 0.0),
        ),
        (
            WhenAll((WhenAll((StoppedAsError(Delay(0, 4.0), 7),)), JustStopped())),
            "never",
            Outcome("error", 7, 0.0),
        ),
        (
            WhenAll((StoppedAsError(Delay(0, 4.0), 7), Delay(1, 8.0))),
            2.5,
            Outcome("error", 7, 2.5),
        ),
        (WhenAll((Delay(0, 4.0), Delay(1, 8.0))), 2.5, Outcome("stopped", None, 2.5)),
        (WhenAny((Just(1), Unstoppable(Delay(2, 4.0)))), "never", Outcome("value", 1, 4.0)),
        (WhenAny((Delay(1, 4.0), Delay(2, 8.0))), 2.5, Outcome("stopped", None, 2.5)),
        (Bulk(Unstoppable(Delay(1, 2.0)), 2, None, 0), 1.5, Outcome("stopped", None, 2.0)),
        (Bulk(Unstoppable(Delay(1, 2.0)), 0, None, 0), 1.5, Outcome("value", 1, 2.0)),
        (Bulk(Just(1), 3, 2, 6), "never", Outcome("error", 6, 0.0)),
        (Retry(JustError(3), 2, 0, 9), "never", Outcome("error", 3, 0.0)),
        (Retry(Just(3), 2, 2, 9), "never", Outcome("value", 3, 0.0)),
        (Retry(Just(3), 2, 3, 9), "never", Outcome("error", 9, 0.0)),
        (Retry(JustError(3), 2, 0, 9), "before", Outcome("stopped", None, 0.0)),
        (RepeatUntil(Just(4), 3), "never", Outcome("value", (4, 3), 0.0)),
        (RepeatUntil(Just(4), 3), "before", Outcome("stopped", None, 0.0)),
        (LetStopped(Delay(0, 8.0), Just(5)), 2.5, Outcome("value", 5, 2.5)),
        (LetStopped(Delay(0, 8.0), Delay(5, 1.0)), 2.5, Outcome("stopped", None, 2.5)),
        (LetError(JustError(1), Delay(5, 2.0)), "never", Outcome("value", 5, 2.0)),
        (IntoResult(JustError(2)), "never", Outcome("value", ("err", 2), 0.0)),
        (IntoResult(Delay(3, 2.0)), 0.5, Outcome("stopped", None, 0.5)),
        (
            Finally(Delay(0, 8.0), Unstoppable(Delay(1, 2.0))),
            0.5,
            Outcome("stopped", None, 2.5),
        ),
        (StoppedAsError(Delay(0, 8.0), 4), "before", Outcome("error", 4, 0.0)),
    ],
    ids=str,
)
def test_stop_scenario_examples(node: Node, stop: Stop, expected: Outcome) -> None:
    stop_at = None if stop == "never" else 0.0 if stop == "before" else float(stop)
    assert evaluate(node, 0.0, stop_at) == {expected}
    assert drive(node, stop, frozenset({expected})) == expected
    if stop == "never":
        assert run(node) == expected


def test_the_probe_catches_a_second_completion() -> None:
    """The harness itself: a double completion fails, whatever the channels."""
    with ex.VirtualTimeScheduler() as vts:
        checker: RecordingReceiver[Any] = RecordingReceiver()
        probe = Probe(checker, vts, lambda: None)
        probe.set_value(1)
        with pytest.raises(AssertionError, match="completed twice"):
            probe.set_stopped()
    assert len(probe.completions) == 2
    assert len(collect_contract_violations()) == 1
