"""The Prometheus text exposition format, version 0.0.4, for :class:`PerfSnapshot` values.

The format (prometheus.io, "Exposition formats"): per metric family one ``# HELP name text``
line, one ``# TYPE name counter|gauge|summary`` line, then its samples ``name{label="value",...}
number``, the samples of a family together; the text ends with a line feed. Label values escape
backslash, double quote and line feed (``\\\\``, ``\\"``, ``\\n``); numbers are Go floats (``NaN``,
``+Inf``, ``-Inf``). A summary's samples are ``name{quantile="0.5"}``, ``name_sum`` and
``name_count``, so ``quantile`` is not a label a user may set. Two series of one family must
differ in their labels.

This module is pure: snapshots in, text out, so several monitors (one per port, say) share one
page with the family lines written once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from ._monitor import PerfSnapshot

__all__ = ["prometheus_exposition"]

_METRIC_NAME: Final = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME: Final = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_QUANTILES: Final = (("0.5", "p50"), ("0.9", "p90"), ("0.99", "p99"))

# (name without prefix, type, help, value of a snapshot)
_SIMPLE: Final[tuple[tuple[str, str, str, Callable[[PerfSnapshot], float]], ...]] = (
    (
        "operations_total",
        "counter",
        "Operations finished (successes and errors).",
        lambda s: s.operations,
    ),
    ("errors_total", "counter", "Operations that failed.", lambda s: s.errors),
    ("stopped_total", "counter", "Operations cancelled before finishing.", lambda s: s.stopped),
    ("in_flight", "gauge", "Operations started and not yet finished.", lambda s: s.in_flight),
    (
        "operations_per_second",
        "gauge",
        "Operations finished per second, over the last complete seconds.",
        lambda s: s.rate,
    ),
    (
        "latency_max_seconds",
        "gauge",
        "Largest latency among the recent samples.",
        lambda s: s.max,
    ),
    ("uptime_seconds", "gauge", "Seconds since the monitor started.", lambda s: s.uptime),
)


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _label_text(labels: Mapping[str, str]) -> str:
    """``name="value",...`` (no braces) after checking names and values."""
    parts = []
    for name, value in labels.items():
        given: object = name
        if not isinstance(given, str):
            raise TypeError(f"prometheus_exposition: label name {name!r} is not a str")
        if _LABEL_NAME.fullmatch(name) is None:
            raise ValueError(
                f"prometheus_exposition: label name {name!r} is not [a-zA-Z_][a-zA-Z0-9_]*"
            )
        if name.startswith("__") or name == "quantile":
            raise ValueError(
                f"prometheus_exposition: label name {name!r} is reserved ('__' prefix, 'quantile')"
            )
        given = value
        if not isinstance(given, str):
            raise TypeError(
                f"prometheus_exposition: label {name!r} must have a str value, got {value!r}"
            )
        parts.append(f'{name}="{_escape(value)}"')
    return ",".join(parts)


def _braces(label_text: str, extra: str = "") -> str:
    inner = ",".join(part for part in (label_text, extra) if part)
    return f"{{{inner}}}" if inner else ""


def prometheus_exposition(
    entries: Iterable[tuple[PerfSnapshot, Mapping[str, str]]], *, prefix: str = "dsexec_"
) -> str:
    """Snapshots as one Prometheus text page (format 0.0.4): ``(snapshot, labels)`` pairs.

    Each pair is one series of every metric (see ``PerfMonitor.prometheus_text``), its labels
    added to each sample; give every pair different labels (``{"port": "8080"}``,
    ``{"port": "8443"}``). ``ValueError`` for a bad metric prefix, a bad or reserved label name,
    or two pairs with the same labels; ``TypeError`` for a prefix, label name or label value
    that is not a ``str``.
    """
    given: object = prefix
    if not isinstance(given, str):
        raise TypeError(f"prometheus_exposition: prefix must be a str, got {prefix!r}")
    if prefix and _METRIC_NAME.fullmatch(prefix) is None:
        raise ValueError(
            f"prometheus_exposition: prefix must be '' or match [a-zA-Z_:][a-zA-Z0-9_:]*, "
            f"got {prefix!r}"
        )
    series: list[tuple[PerfSnapshot, str]] = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for snapshot, labels in entries:
        text = _label_text(labels)
        key = tuple(sorted(labels.items()))
        if key in seen:
            raise ValueError(
                f"prometheus_exposition: two snapshots with the same labels {dict(labels)!r}"
            )
        seen.add(key)
        series.append((snapshot, text))

    lines: list[str] = []
    for name, kind, help_text, value_of in _SIMPLE:
        full = prefix + name
        lines.append(f"# HELP {full} {help_text}")
        lines.append(f"# TYPE {full} {kind}")
        lines.extend(f"{full}{_braces(text)} {_number(value_of(snap))}" for snap, text in series)
    full = prefix + "latency_seconds"
    lines.append(
        f"# HELP {full} Latency of finished operations: quantiles over the recent samples, "
        "sum and count since the start."
    )
    lines.append(f"# TYPE {full} summary")
    for snap, text in series:
        for quantile, field in _QUANTILES:
            label = f'quantile="{quantile}"'
            lines.append(f"{full}{_braces(text, label)} {_number(getattr(snap, field))}")
        lines.append(f"{full}_sum{_braces(text)} {_number(snap.latency_sum)}")
        lines.append(f"{full}_count{_braces(text)} {_number(snap.operations)}")
    lines.append("")
    return "\n".join(lines)
