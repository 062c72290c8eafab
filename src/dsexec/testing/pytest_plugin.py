"""pytest plugin of dsexec: ``pytest_plugins = ["dsexec.testing.pytest_plugin"]``.

* Fails a test at teardown when it broke the receiver contract: a double completion, a
  completion on an unexpected channel, or an ``Expect*`` receiver that never completed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._receivers import collect_contract_violations


@pytest.fixture(autouse=True)
def _dsexec_receiver_contract() -> Iterator[None]:
    collect_contract_violations()
    yield
    violations = collect_contract_violations()
    if violations:
        pytest.fail("receiver contract violated:\n  " + "\n  ".join(violations), pytrace=False)
