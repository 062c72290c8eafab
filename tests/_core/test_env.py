"""Environments and their queries [exec.env]: ``get_stop_token`` and ``get_scheduler`` on an
``Env`` or a receiver, and what senders see under ``sync_wait`` and ``when_all``."""

from __future__ import annotations

from typing import Any

import pytest

import dsexec as ex
from dsexec._core._stop_token import NEVER_STOP_TOKEN
from dsexec.testing import ImpulseScheduler, RecordingReceiver


class _EnvProbe(ex.Sender[ex.Env]):
    """Completes with the environment of the receiver it is connected to."""

    def connect(self, receiver: ex.Receiver[ex.Env], /) -> ex.OperationState:
        return ex.connect(ex.just(receiver.get_env()), receiver)


def test_get_stop_token_of_an_empty_env_is_the_never_stop_token() -> None:
    token = ex.get_stop_token(ex.Env())
    assert token is NEVER_STOP_TOKEN
    assert not token.stop_possible()
    assert not token.stop_requested()


def test_get_stop_token_reads_an_env_or_a_receivers_env() -> None:
    source = ex.StopSource()
    env = ex.Env().with_stop_token(source.token)
    assert ex.get_stop_token(env) == source.token
    receiver = RecordingReceiver[Any](stop_token=source.token)
    assert ex.get_stop_token(receiver) == source.token
    assert ex.get_stop_token(receiver.get_env()) == source.token
    source.request_stop()
    assert ex.get_stop_token(env).stop_requested()


def test_get_scheduler_reads_an_env_or_a_receivers_env() -> None:
    sch = ImpulseScheduler()
    env = ex.Env(scheduler=sch)
    assert ex.get_scheduler(env) is sch
    assert ex.get_scheduler(RecordingReceiver[Any](scheduler=sch)) is sch


def test_get_scheduler_of_an_env_without_one_raises_lookup_error() -> None:
    with pytest.raises(LookupError, match=r"no scheduler in this environment.*sync_wait"):
        ex.get_scheduler(ex.Env())
    with pytest.raises(LookupError):
        ex.get_scheduler(RecordingReceiver[Any]())


def test_with_stop_token_and_with_scheduler_return_copies() -> None:
    sch = ImpulseScheduler()
    source = ex.StopSource()
    base = ex.Env()
    env = base.with_scheduler(sch).with_stop_token(source.token)
    assert ex.get_scheduler(env) is sch
    assert ex.get_stop_token(env) == source.token
    assert ex.get_stop_token(base) is NEVER_STOP_TOKEN  # base is unchanged (frozen)
    with pytest.raises(LookupError):
        ex.get_scheduler(base)


def test_env_rejects_a_stop_token_of_the_wrong_type() -> None:
    with pytest.raises(TypeError):
        ex.Env(stop_token=object())  # type: ignore[arg-type]


def test_a_sender_under_sync_wait_sees_the_loops_scheduler(vts: ex.VirtualTimeScheduler) -> None:
    env = ex.sync_wait(_EnvProbe(), context=vts)
    assert ex.get_scheduler(env) == vts.get_scheduler()


def test_when_all_children_see_a_stop_token_of_their_own() -> None:
    source = ex.StopSource()
    receiver = RecordingReceiver[tuple[ex.Env, ex.Env]](stop_token=source.token)
    ex.connect(ex.when_all(_EnvProbe(), _EnvProbe()), receiver).start()
    assert receiver.value is not None
    first, second = receiver.value
    child_token = ex.get_stop_token(first)
    assert child_token != source.token
    assert child_token.stop_possible()
    assert ex.get_stop_token(second) == child_token
