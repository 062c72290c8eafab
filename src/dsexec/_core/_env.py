"""Environments and queries [exec.env], [exec.get.stop.token], [exec.get.scheduler].

A receiver's environment tells the sender connected to it which stop token to watch and which
scheduler the receiver would like work to run on. Algorithms that run children under their own
stop source (``when_all``, ``when_any``, ``timeout``) hand them an environment with a new token.
"""

from __future__ import annotations

from typing import Any

import attrs

from ._scheduler import Scheduler
from ._sender import Receiver
from ._stop_token import NEVER_STOP_TOKEN, StopToken

__all__ = ["EMPTY_ENV", "Env", "get_scheduler", "get_stop_token"]


@attrs.frozen
class Env:
    """An immutable environment: the stop token and (optionally) the current scheduler."""

    stop_token: StopToken = attrs.field(
        default=NEVER_STOP_TOKEN, validator=attrs.validators.instance_of(StopToken)
    )
    scheduler: Scheduler | None = None

    def with_stop_token(self, token: StopToken) -> Env:
        """A copy of this environment with ``token`` as the stop token."""
        return Env(token, self.scheduler)

    def with_scheduler(self, scheduler: Scheduler) -> Env:
        """A copy of this environment with ``scheduler`` as the current scheduler."""
        return Env(self.stop_token, scheduler)


EMPTY_ENV = Env()


def _env_of(source: Env | Receiver[Any]) -> Env:
    return source if isinstance(source, Env) else source.get_env()


def get_stop_token(source: Env | Receiver[Any], /) -> StopToken:
    """The stop token of an environment (or of a receiver's environment)."""
    return _env_of(source).stop_token


def get_scheduler(source: Env | Receiver[Any], /) -> Scheduler:
    """The scheduler of an environment (or of a receiver's environment).

    Raises ``LookupError`` when the environment has none: run the sender under ``sync_wait``,
    ``starts_on(scheduler, ...)`` or a scheduler-aware context.
    """
    scheduler = _env_of(source).scheduler
    if scheduler is None:
        raise LookupError(
            "no scheduler in this environment: run the sender with sync_wait(), "
            "starts_on(scheduler, sender) or from a scheduler-aware context"
        )
    return scheduler
