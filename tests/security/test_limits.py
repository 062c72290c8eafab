"""Limits: production defaults, validation of every field (type, sign, NaN, size), evolve."""

from __future__ import annotations

import math
import sys
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsexec.security import Limits

COUNTS = ["max_connections", "max_header_bytes", "max_body_bytes"]
TIMEOUTS = [
    "header_timeout",
    "request_timeout",
    "idle_timeout",
    "write_timeout",
    "tls_handshake_timeout",
]


def make(**fields: Any) -> Limits:
    return Limits(**fields)


def test_defaults_are_production_values() -> None:
    limits = Limits()
    assert limits.max_connections == 1000
    assert limits.max_header_bytes == 64 * 1024
    assert limits.max_body_bytes == 1024 * 1024
    assert limits.header_timeout == 10.0
    assert limits.request_timeout == 60.0
    assert limits.idle_timeout == 5.0
    assert limits.write_timeout == 30.0
    assert limits.tls_handshake_timeout == 10.0


def test_limits_is_a_frozen_value_with_equality() -> None:
    limits = Limits(max_connections=10)
    assert limits == Limits(max_connections=10)
    assert limits != Limits()
    assert hash(limits) == hash(Limits(max_connections=10))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        limits.max_connections = 5  # type: ignore[misc]


def test_evolve_derives_a_new_value_and_validates_it() -> None:
    limits = attrs.evolve(Limits(), idle_timeout=15, max_connections=5000)
    assert (limits.idle_timeout, limits.max_connections) == (15, 5000)
    with pytest.raises(ValueError, match="idle_timeout"):
        attrs.evolve(limits, idle_timeout=-1.0)


@pytest.mark.parametrize("field", TIMEOUTS)
def test_infinity_means_no_timeout(field: str) -> None:
    limits = make(**{field: math.inf})
    assert getattr(limits, field) == math.inf


@pytest.mark.parametrize("field", TIMEOUTS)
@pytest.mark.parametrize("value", [0, 0.0, -1, -0.001, math.nan, -math.inf, 86_400.5, 1e300])
def test_a_zero_negative_nan_or_too_large_timeout_is_a_value_error_naming_it(
    field: str, value: float
) -> None:
    with pytest.raises(ValueError, match=rf"Limits: {field} must be seconds > 0") as info:
        make(**{field: value})
    assert repr(value) in str(info.value)


@pytest.mark.parametrize("field", TIMEOUTS)
def test_timeouts_accept_ints_and_floats_up_to_a_day(field: str) -> None:
    assert getattr(make(**{field: 86_400}), field) == 86_400
    assert getattr(make(**{field: 0.001}), field) == 0.001


@pytest.mark.parametrize("field", TIMEOUTS)
@pytest.mark.parametrize("value", [True, "10", None, 1j])
def test_a_timeout_of_the_wrong_type_is_a_type_error(field: str, value: Any) -> None:
    with pytest.raises(TypeError, match=rf"Limits: {field} must be a number of seconds"):
        make(**{field: value})


@pytest.mark.parametrize("field", COUNTS)
@pytest.mark.parametrize("value", [1.0, 100.0, True, "100", None])
def test_counts_must_be_ints_not_floats_or_bools(field: str, value: Any) -> None:
    with pytest.raises(TypeError, match=rf"Limits: {field} must be an int"):
        make(**{field: value})


@pytest.mark.parametrize("field", COUNTS)
@pytest.mark.parametrize("value", [-1, sys.maxsize + 1, 10**30])
def test_a_negative_or_huge_count_is_a_value_error_naming_it(field: str, value: int) -> None:
    with pytest.raises(ValueError, match=rf"Limits: {field} must be an int in") as info:
        make(**{field: value})
    assert str(value) in str(info.value)


@pytest.mark.parametrize("field", ["max_connections", "max_header_bytes"])
def test_zero_connections_or_header_bytes_is_a_value_error(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        make(**{field: 0})


def test_zero_body_bytes_means_no_bodies_and_is_allowed() -> None:
    assert Limits(max_body_bytes=0).max_body_bytes == 0


@settings(max_examples=50, deadline=None)
@given(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(TIMEOUTS),
)
def test_a_timeout_is_accepted_exactly_when_positive_and_at_most_a_day_or_infinite(
    value: float, field: str
) -> None:
    valid = value == math.inf or (0 < value <= 86_400)
    if valid:
        assert getattr(make(**{field: value}), field) == value
    else:
        with pytest.raises(ValueError, match=field):
            make(**{field: value})
