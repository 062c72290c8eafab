"""The checking receivers without the plugin: ``collect_contract_violations`` reports a missing
completion of a dropped receiver once, then forgets it."""

from __future__ import annotations

import gc

from dsexec.testing import (
    ExpectStoppedReceiver,
    ExpectValueReceiver,
    collect_contract_violations,
)


def test_collect_reports_a_dropped_receiver_that_never_completed_once() -> None:
    collect_contract_violations()
    ExpectValueReceiver(1)
    ExpectStoppedReceiver().set_stopped()
    ExpectStoppedReceiver().allow_missing_completion()
    gc.collect()
    [message] = collect_contract_violations()
    assert "ExpectValueReceiver" in message
    assert "test_receivers.py" in message
    assert "expected value 1 but was never completed" in message
    assert collect_contract_violations() == []
