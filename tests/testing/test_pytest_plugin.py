"""The pytest plugin's receiver-contract check, run on small inner test files with ``pytester``:
a double completion, a wrong channel or value, and a missing completion each fail the inner
test (the last even when the receiver was dropped and garbage-collected), a correct completion
passes, and ``allow_missing_completion()`` excuses only the missing completion."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

HEADER = """\
import gc
import threading

import pytest

import dsexec as ex
from dsexec.testing import (
    ContractViolation,
    ExpectErrorReceiver,
    ExpectStoppedReceiver,
    ExpectValueReceiver,
    ImpulseScheduler,
    RecordingReceiver,
)
"""


@pytest.fixture(autouse=True)
def _no_plugin_autoload(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner runs load only the dsexec plugin (installed plugins such as hypothesis are slow)."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


def run_inner(pytester: pytest.Pytester, body: str) -> pytest.RunResult:
    """Run ``body`` (test functions; the imports above are prepended) as ``test_inner.py`` with
    the dsexec plugin loaded the way users load it."""
    pytester.makeconftest('pytest_plugins = ["dsexec.testing.pytest_plugin"]\n')
    pytester.makepyfile(test_inner=HEADER + textwrap.dedent(body))
    return pytester.runpytest("-p", "no:cacheprovider")


def test_receivers_completed_once_on_the_expected_channel_pass(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        def test_value():
            receiver = ExpectValueReceiver(3)
            ex.connect(ex.just(3), receiver).start()
            assert receiver.value == 3

        def test_error():
            receiver = ExpectErrorReceiver(KeyError, match="boom")
            ex.connect(ex.just_error(KeyError("boom")), receiver).start()

        def test_stopped():
            ex.connect(ex.just_stopped(), ExpectStoppedReceiver()).start()

        def test_completed_later_by_an_impulse():
            impulse = ImpulseScheduler()
            ex.connect(impulse.schedule(), ExpectValueReceiver(None)).start()
            impulse.run_one()

        def test_a_recording_receiver_need_not_complete():
            RecordingReceiver()
        """,
    )
    result.assert_outcomes(passed=5)


def test_a_double_completion_raises_and_fails_the_test_even_if_swallowed(
    pytester: pytest.Pytester,
) -> None:
    result = run_inner(
        pytester,
        """
        @pytest.mark.parametrize("make", [ExpectValueReceiver, RecordingReceiver])
        def test_twice(make):
            receiver = make()
            receiver.set_value(1)
            with pytest.raises(ContractViolation, match="completed twice: value then stopped"):
                receiver.set_stopped()  # a reactor callback might log and swallow this
        """,
    )
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines(["*receiver contract violated:*", "*completed twice*"])


@pytest.mark.parametrize(
    ("receiver", "completion", "message"),
    [
        ("ExpectValueReceiver()", "set_stopped()", "expected value, got stopped"),
        ("ExpectValueReceiver()", "set_error(OSError('x'))", "expected value, got error: OSError"),
        ("ExpectErrorReceiver()", "set_value(1)", "expected error, got value"),
        ("ExpectStoppedReceiver()", "set_value(1)", "expected stopped, got value"),
        ("ExpectValueReceiver(1)", "set_value(2)", "expected value 1, got 2"),
        ("ExpectErrorReceiver(KeyError)", "set_error(OSError())", "expected KeyError, got OSError"),
        ("ExpectErrorReceiver(match='a+')", "set_error(OSError('b'))", "error matching 'a+'"),
    ],
)
def test_a_completion_on_the_wrong_channel_or_with_the_wrong_result_fails(
    pytester: pytest.Pytester, receiver: str, completion: str, message: str
) -> None:
    result = run_inner(
        pytester,
        f"""
        def test_raised():
            with pytest.raises(ContractViolation):
                {receiver}.{completion}

        def test_swallowed():
            try:
                {receiver}.{completion}
            except ContractViolation:
                pass
        """,
    )
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines([f"*{message}*"])


def test_a_missing_completion_fails_at_teardown_even_after_the_receiver_is_collected(
    pytester: pytest.Pytester,
) -> None:
    result = run_inner(
        pytester,
        """
        class Never(ex.Sender[int]):
            def connect(self, receiver):
                class Op:
                    def start(self):
                        pass
                return Op()

        def test_dropped():
            receiver = ExpectValueReceiver(1)
            ex.connect(Never(), receiver).start()
            del receiver
            gc.collect()

        def test_never_connected():
            ExpectStoppedReceiver()

        def test_created_on_another_thread():
            thread = threading.Thread(target=lambda: ExpectErrorReceiver(KeyError, match="k"))
            thread.start()
            thread.join()
            gc.collect()
        """,
    )
    result.assert_outcomes(passed=3, errors=3)
    result.stdout.fnmatch_lines_random(
        [
            "*ExpectValueReceiver* created at test_inner.py:* in test_dropped expected value 1 "
            "but was never completed*",
            "*ExpectStoppedReceiver* in test_never_connected expected stopped but was never*",
            "*ExpectErrorReceiver* expected error KeyError matching 'k' but was never completed*",
        ]
    )


def test_a_missing_completion_is_reported_on_its_own_test_only(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        LEFT_AT_IMPORT = ExpectValueReceiver()  # outside any test: never checked

        def test_abandons():
            ExpectValueReceiver()

        def test_next():
            pass
        """,
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["ERROR test_inner.py::test_abandons - *"])


def test_allow_missing_completion_excuses_only_the_missing_completion(
    pytester: pytest.Pytester,
) -> None:
    result = run_inner(
        pytester,
        """
        def test_excused():
            receiver = ExpectValueReceiver(1).allow_missing_completion()
            ex.connect(ImpulseScheduler().schedule(), receiver).start()  # never released

        def test_a_wrong_completion_still_fails():
            receiver = ExpectValueReceiver(1).allow_missing_completion()
            receiver.set_stopped()
        """,
    )
    result.assert_outcomes(passed=1, failed=1, errors=1)
    result.stdout.fnmatch_lines(["*expected value, got stopped*"])
