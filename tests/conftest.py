"""Project-wide test configuration: the dsexec pytest plugin (receiver-contract checks and the
``scheduler_runner`` and ``vts`` fixtures), plus fixtures shared by several test modules."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

import dsexec as ex

pytest_plugins = ["dsexec.testing.pytest_plugin"]


@pytest.fixture
def worker() -> Iterator[tuple[ex.IoContext, threading.Thread]]:
    """An IoContext running on a thread of its own until the test ends."""
    context = ex.IoContext()
    thread = threading.Thread(target=context.run)
    try:
        with context.work_guard():
            thread.start()
            yield context, thread
        thread.join()
    finally:
        context.close()
