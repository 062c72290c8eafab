"""The one delay/deadline validation every timed form uses, and the virtual clock's own inputs."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

import dsexec as ex
from dsexec._core import check_deadline, check_delay


@pytest.mark.parametrize("value", [0, 0.0, 1, 2.5, Fraction(1, 4), 1e300, math.inf])
def test_check_delay_accepts_real_numbers_from_zero_to_infinity(value: float) -> None:
    assert check_delay("algo", value) == float(value)


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (math.nan, ValueError, "algo: the delay is NaN"),
        (-0.001, ValueError, "algo: the delay must be >= 0"),
        (-math.inf, ValueError, "algo: the delay must be >= 0"),
        ("1", TypeError, "algo: expected the delay in seconds as a number, got str"),
        (b"1", TypeError, "got bytes"),
        (None, TypeError, "got NoneType"),
        (True, TypeError, "got bool"),
        (1j, TypeError, "got complex"),
    ],
)
def test_check_delay_rejects_with_a_message_naming_the_algorithm(
    value: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        check_delay("algo", value)


def test_check_deadline_accepts_the_past_and_infinity_but_not_nan() -> None:
    assert check_deadline("algo", -5) == -5.0
    assert check_deadline("algo", math.inf) == math.inf
    with pytest.raises(ValueError, match="algo: the deadline is NaN"):
        check_deadline("algo", math.nan)


@pytest.mark.parametrize(
    ("seconds", "error"),
    [(math.nan, ValueError), (-1, ValueError), (math.inf, ValueError), ("1", TypeError)],
)
def test_virtual_time_advance_rejects_what_would_break_the_clock(
    seconds: object, error: type[Exception]
) -> None:
    with ex.VirtualTimeScheduler() as vts:
        with pytest.raises(error, match=r"VirtualTimeScheduler\.advance"):
            vts.advance(seconds)  # type: ignore[arg-type]
        assert vts.now() == 0.0
        vts.advance(1.5)
        assert vts.now() == 1.5


@pytest.mark.parametrize("start", [math.nan, math.inf, "0"])
def test_virtual_time_start_must_be_a_finite_number(start: object) -> None:
    with pytest.raises((ValueError, TypeError), match="VirtualTimeScheduler"):
        ex.VirtualTimeScheduler(start)  # type: ignore[arg-type]


def test_virtual_time_never_jumps_to_an_infinite_timer() -> None:
    with ex.VirtualTimeScheduler() as vts:
        never = vts.schedule_after(math.inf) | ex.stopped_as_optional()
        trigger = vts.schedule_after(7)
        assert ex.sync_wait(never | ex.stop_when(trigger), context=vts) is None
        assert vts.now() == 7.0
