"""MedusaServ's own pages, rendered from plain data: ``/_medusa/status`` (HTML with inline SVG
charts), ``/_medusa/metrics`` (Prometheus text) and ``/_medusa/health``.

Pure functions of a :class:`StatusData` value, which the server assembles from its
``PerfMonitor`` (``snapshot()``, ``rates()``), a :class:`LatencyHistory` it feeds once a second,
its per-port connection counts and its denial counter. Nothing here reads a clock or a socket,
so the pages are tested byte for byte.

The status page is one self-contained document: inline CSS, charts drawn on the server as
inline ``<svg>``, no script and no external asset; ``<meta http-equiv="refresh">`` reloads it
every two seconds. Every chart is an ``<svg class="chart">`` with an ``id``, a ``<title>``, a
``<desc>`` saying what it shows last, axis labels, and ``data-points`` / ``data-last*``
attributes holding the figures, so a test (or a browser test) can check in the DOM that the
charts hold data: one ``<rect class="bar">`` per value of a bar chart, one ``<polyline>`` per
unbroken run of a line (a second without samples, NaN, breaks the line). Every text that comes
from outside (version, labels) is escaped.
"""

from __future__ import annotations

import collections
import datetime
import html
import math
from collections.abc import Iterable, Sequence
from typing import Final, Literal, final

import attrs

from dsexec.perf import PerfMonitor, PerfSnapshot, prometheus_exposition

__all__ = [
    "PAGES_PREFIX",
    "HEALTH_CONTENT_TYPE",
    "HEALTH_PATH",
    "METRICS_CONTENT_TYPE",
    "METRICS_PATH",
    "STATUS_CONTENT_TYPE",
    "STATUS_PATH",
    "LatencyHistory",
    "PortStatus",
    "StatusData",
    "render_health",
    "render_metrics",
    "render_status_page",
    "route",
]

STATUS_PATH: Final = b"/_medusa/status"
"""Where the status page is served."""
METRICS_PATH: Final = b"/_medusa/metrics"
"""Where the Prometheus metrics are served."""
HEALTH_PATH: Final = b"/_medusa/health"
"""Where the health check is served."""
PAGES_PREFIX: Final = b"/_medusa/"
"""What the targets of MedusaServ's own pages start with (the site has the rest)."""
STATUS_CONTENT_TYPE: Final = b"text/html; charset=utf-8"
"""``Content-Type`` of :func:`render_status_page`'s page."""
METRICS_CONTENT_TYPE: Final = PerfMonitor.PROMETHEUS_CONTENT_TYPE.encode("ascii")
"""``Content-Type`` of :func:`render_metrics`'s text (Prometheus format 0.0.4)."""
HEALTH_CONTENT_TYPE: Final = b"text/plain; charset=utf-8"
"""``Content-Type`` of :func:`render_health`'s body."""

_ROUTES: Final[dict[bytes, Literal["status", "metrics", "health"]]] = {
    STATUS_PATH: "status",
    METRICS_PATH: "metrics",
    HEALTH_PATH: "health",
}
_MAX_HISTORY: Final = 86_400


def route(target: bytes) -> Literal["status", "metrics", "health"] | None:
    """Which of MedusaServ's own pages a request target asks for (query ignored), if any."""
    return _ROUTES.get(target.partition(b"?")[0])


# -- the data ----------------------------------------------------------------------------------


def _count(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{attribute.name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


def _flag(_instance: object, attribute: attrs.Attribute[bool], value: object) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{attribute.name} must be a bool, got {value!r}")


def _timestamp(_instance: object, attribute: attrs.Attribute[float], value: object) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"{attribute.name} must be seconds since the epoch, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{attribute.name} must be finite and >= 0, got {value!r}")


def _numbers(values: Iterable[object]) -> tuple[float, ...]:
    """A series as floats (numpy integers and floats welcome); checked by the validators."""
    series = []
    for value in values:
        if isinstance(value, bool | str | bytes) or not hasattr(value, "__float__"):
            raise TypeError(f"a series holds numbers, got {value!r}")
        series.append(float(value))
    return tuple(series)


def _counts(
    _instance: object, attribute: attrs.Attribute[tuple[float, ...]], value: object
) -> None:
    assert isinstance(value, tuple)
    for number in value:
        if not (math.isfinite(number) and number >= 0):
            raise ValueError(f"{attribute.name} must hold finite numbers >= 0, got {number!r}")


def _latencies(
    _instance: object, attribute: attrs.Attribute[tuple[float, ...]], value: object
) -> None:
    assert isinstance(value, tuple)
    for number in value:
        if not (math.isnan(number) or (math.isfinite(number) and number >= 0)):
            raise ValueError(
                f"{attribute.name} must hold seconds >= 0 or NaN (no sample), got {number!r}"
            )


def _check_latency(name: str, value: object) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"LatencyHistory: {name} must be a float, got {value!r}")
    if not (math.isnan(value) or (math.isfinite(value) and value >= 0)):
        raise ValueError(
            f"LatencyHistory: {name} must be seconds >= 0 or NaN (no sample), got {value!r}"
        )
    return float(value)


@final
class LatencyHistory:
    """The latency percentiles p50 and p99, one sample a second, for the last ``capacity``
    seconds (default 300: five minutes); older samples drop out, so memory stays flat.

    The server calls ``record_snapshot(monitor.snapshot())`` once a second; NaN (no request
    finished yet) is kept and shows as a gap in the chart.
    """

    __slots__ = ("_p50", "_p99")

    def __init__(self, capacity: int = 300) -> None:
        given: object = capacity
        if not isinstance(given, int) or isinstance(given, bool):
            raise TypeError(f"LatencyHistory: capacity must be an int, got {capacity!r}")
        if not 1 <= capacity <= _MAX_HISTORY:
            raise ValueError(
                f"LatencyHistory: capacity must be in 1..{_MAX_HISTORY}, got {capacity!r}"
            )
        self._p50: collections.deque[float] = collections.deque(maxlen=capacity)
        self._p99: collections.deque[float] = collections.deque(maxlen=capacity)

    @property
    def capacity(self) -> int:
        """How many samples are kept."""
        maximum = self._p50.maxlen
        assert maximum is not None
        return maximum

    def record(self, p50: float, p99: float) -> None:
        """Append one second's percentiles (seconds, or NaN for none)."""
        first = _check_latency("p50", p50)
        last = _check_latency("p99", p99)
        self._p50.append(first)
        self._p99.append(last)

    def record_snapshot(self, snapshot: PerfSnapshot) -> None:
        """Append the p50 and p99 of a ``PerfMonitor.snapshot()``."""
        self.record(snapshot.p50, snapshot.p99)

    def p50(self) -> tuple[float, ...]:
        """The p50 samples, oldest first."""
        return tuple(self._p50)

    def p99(self) -> tuple[float, ...]:
        """The p99 samples, oldest first."""
        return tuple(self._p99)

    def __len__(self) -> int:
        return len(self._p50)

    def __repr__(self) -> str:
        return f"<LatencyHistory {len(self)} of {self.capacity} samples>"


@final
@attrs.frozen
class PortStatus:
    """One listening port as the status page shows it."""

    port: int = attrs.field(validator=_count)
    """The port number (the real one, where 0 was asked)."""
    dual_stack: bool = attrs.field(validator=_flag)
    """Whether it takes IPv6 and IPv4 clients."""
    tls: bool = attrs.field(validator=_flag)
    """Whether it speaks TLS."""
    connections: int = attrs.field(validator=_count)
    """Connections open on it now."""


def _port_tuple(value: Iterable[PortStatus]) -> tuple[PortStatus, ...]:
    return tuple(value)


def _ports(_instance: object, attribute: attrs.Attribute[object], value: object) -> None:
    if not isinstance(value, tuple) or not all(isinstance(item, PortStatus) for item in value):
        raise TypeError(f"{attribute.name} must be a tuple of PortStatus, got {value!r}")


def _snapshot(_instance: object, attribute: attrs.Attribute[PerfSnapshot], value: object) -> None:
    if not isinstance(value, PerfSnapshot):
        raise TypeError(f"{attribute.name} must be a PerfSnapshot, got {value!r}")


def _text(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{attribute.name} must be a str, got {value!r}")


@final
@attrs.frozen(kw_only=True)
class StatusData:
    """Everything the status page and the metrics show, at one moment.

    Series are oldest first, one value a second (``request_rates``: ``monitor.rates()[1]``;
    the latency series: a :class:`LatencyHistory`); any iterable of numbers is taken, numpy
    arrays included.
    """

    version: str = attrs.field(validator=_text)
    """The server's version (e.g. dsexec's)."""
    started_at: float = attrs.field(validator=_timestamp)
    """When the server started, seconds since the epoch."""
    now: float = attrs.field(validator=_timestamp)
    """When the data was taken, seconds since the epoch (uptime is ``now - started_at``)."""
    ports: tuple[PortStatus, ...] = attrs.field(converter=_port_tuple, validator=_ports)
    """The listening ports."""
    requests: PerfSnapshot = attrs.field(validator=_snapshot)
    """The request monitor's snapshot: rate, percentiles, errors, in flight."""
    request_rates: tuple[float, ...] = attrs.field(
        default=(), converter=_numbers, validator=_counts
    )
    """Requests finished per second."""
    latency_p50: tuple[float, ...] = attrs.field(
        default=(), converter=_numbers, validator=_latencies
    )
    """Median latency per second, in seconds (NaN: none that second)."""
    latency_p99: tuple[float, ...] = attrs.field(
        default=(), converter=_numbers, validator=_latencies
    )
    """99th percentile latency per second, in seconds (NaN: none that second)."""
    denials: int = attrs.field(default=0, validator=_count)
    """Connections refused by the access lists since the start."""
    denial_rates: tuple[float, ...] = attrs.field(default=(), converter=_numbers, validator=_counts)
    """Denials per second."""
    errors: int = attrs.field(default=0, validator=_count)
    """Connection-level errors since the start (TLS handshakes, resets, limits hit); request
    errors are in ``requests.errors``."""
    draining: bool = attrs.field(default=False, validator=_flag)
    """Whether a graceful shutdown is under way."""

    @property
    def uptime(self) -> float:
        """Seconds since the start (0 if the clock went backwards)."""
        return max(0.0, self.now - self.started_at)

    @property
    def connections(self) -> int:
        """Connections open on all ports."""
        return sum(port.connections for port in self.ports)


# -- health ------------------------------------------------------------------------------------


def render_health(draining: bool) -> tuple[int, bytes]:
    """The health check: ``(200, b"ok\\n")``, or ``(503, b"draining\\n")`` during shutdown so a
    load balancer stops sending new clients."""
    return (503, b"draining\n") if draining else (200, b"ok\n")


# -- metrics -----------------------------------------------------------------------------------


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(name: str, kind: str, help_text: str, samples: Sequence[tuple[str, float]]) -> str:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines.extend(f"{name}{labels} {_metric_number(value)}" for labels, value in samples)
    return "\n".join(lines)


def _metric_number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return "NaN" if math.isnan(value) else repr(value)


def render_metrics(data: StatusData, *, prefix: str = "medusa_") -> str:
    """The Prometheus text page (format 0.0.4, ``METRICS_CONTENT_TYPE``) of ``data``.

    The request monitor's metrics come from ``dsexec.perf.prometheus_exposition`` under
    ``<prefix>http_`` (``medusa_http_operations_total``, ``medusa_http_latency_seconds``, ...);
    added here: ``<prefix>connections{port,tls,dual_stack}`` (gauge), ``<prefix>denials_total``
    and ``<prefix>connection_errors_total`` (counters), ``<prefix>draining`` (gauge, 1 while
    shutting down), ``<prefix>start_time_seconds`` and ``<prefix>info{version}`` (gauges).
    """
    page = prometheus_exposition([(data.requests, {})], prefix=f"{prefix}http_")
    connections = [
        (
            f'{{port="{port.port}",tls="{str(port.tls).lower()}",'
            f'dual_stack="{str(port.dual_stack).lower()}"}}',
            port.connections,
        )
        for port in data.ports
    ]
    families = [
        _family(f"{prefix}connections", "gauge", "Open connections, per listening port.",
                connections),
        _family(f"{prefix}denials_total", "counter",
                "Connections refused by the access lists.", [("", data.denials)]),
        _family(f"{prefix}connection_errors_total", "counter",
                "Connection-level errors: TLS handshakes, resets, limits hit.",
                [("", data.errors)]),
        _family(f"{prefix}draining", "gauge",
                "1 while the server shuts down gracefully, else 0.", [("", int(data.draining))]),
        _family(f"{prefix}start_time_seconds", "gauge",
                "Start time of the server, seconds since the epoch.", [("", data.started_at)]),
        _family(f"{prefix}info", "gauge", "The server's version, as a label.",
                [(f'{{version="{_label(data.version)}"}}', 1)]),
    ]  # fmt: skip
    return page + "\n".join(families) + "\n"


# -- the status page: charts -------------------------------------------------------------------

_WIDTH: Final = 640
_HEIGHT: Final = 200
_LEFT: Final = 56
_RIGHT: Final = 12
_TOP: Final = 14
_BOTTOM: Final = 34
_PLOT_W: Final = _WIDTH - _LEFT - _RIGHT
_PLOT_H: Final = _HEIGHT - _TOP - _BOTTOM


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is >= ``value`` (1 for nothing)."""
    if not value > 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 5.0, 10.0):
        if value <= step * power * (1 + 1e-9):
            return step * power
    return 10.0 * power  # pragma: no cover - the loop always returns


def _short(value: float) -> str:
    """A number for a label: ``1.5``, ``12``, ``1.2k``, ``3.4M``; ``n/a`` for NaN."""
    if math.isnan(value):
        return "n/a"
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


def _data(value: float) -> str:
    """A number for a ``data-*`` attribute: plain decimal, ``""`` for NaN (no data)."""
    if math.isnan(value):
        return ""
    return f"{value:.6g}"


def _ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.3g} ms"


def _x(index: int, count: int) -> float:
    if count <= 1:
        return _LEFT + _PLOT_W / 2
    return _LEFT + _PLOT_W * index / (count - 1)


def _y(value: float, top: float) -> float:
    return _TOP + _PLOT_H * (1 - value / top)


def _frame(top: float, y_label: str, x_labels: tuple[str, str, str], *, whole: bool) -> str:
    """Axes, grid lines, tick labels and axis titles of a chart; ``whole``: the values are
    counts, so no tick at a fraction (the middle one of 0..5)."""
    parts = []
    for fraction in (0.0, 0.5, 1.0):
        value = top * fraction
        if whole and value != int(value):
            continue
        y = _TOP + _PLOT_H * (1 - fraction)
        tick = _short(value)
        parts.append(
            f'<line class="grid" x1="{_LEFT}" y1="{y:.1f}" x2="{_WIDTH - _RIGHT}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_esc(tick)}</text>"
        )
    bottom = _TOP + _PLOT_H
    left_label, mid_label, right_label = x_labels
    parts.append(
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{bottom}"/>'
        f'<line class="axis" x1="{_LEFT}" y1="{bottom}" x2="{_WIDTH - _RIGHT}" y2="{bottom}"/>'
        f'<text class="tick" x="{_LEFT}" y="{bottom + 14}">{_esc(left_label)}</text>'
        f'<text class="tick" x="{_WIDTH - _RIGHT}" y="{bottom + 14}" text-anchor="end">'
        f"{_esc(right_label)}</text>"
        f'<text class="axis-label" x="{_LEFT + _PLOT_W / 2:.1f}" y="{_HEIGHT - 4}" '
        f'text-anchor="middle">{_esc(mid_label)}</text>'
        f'<text class="axis-label" transform="translate(12 {_TOP + _PLOT_H / 2:.1f}) '
        f'rotate(-90)" text-anchor="middle">{_esc(y_label)}</text>'
    )
    return "".join(parts)


def _open_svg(chart_id: str, title: str, desc: str, attributes: dict[str, str]) -> str:
    data = "".join(f' data-{name}="{_esc(value)}"' for name, value in attributes.items())
    return (
        f'<svg class="chart" id="{_esc(chart_id)}" viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" '
        f'aria-labelledby="{_esc(chart_id)}-title {_esc(chart_id)}-desc"{data}>'
        f'<title id="{_esc(chart_id)}-title">{_esc(title)}</title>'
        f'<desc id="{_esc(chart_id)}-desc">{_esc(desc)}</desc>'
    )


def _empty_note(count: int) -> str:
    if count:
        return ""
    return (
        f'<text class="empty" x="{_LEFT + _PLOT_W / 2:.1f}" y="{_TOP + _PLOT_H / 2:.1f}" '
        'text-anchor="middle">no data yet</text>'
    )


def _time_labels(count: int) -> tuple[str, str, str]:
    return (f"-{count} s" if count else "", "seconds (oldest left, now right)", "now")


def _bar_series_chart(
    chart_id: str, title: str, values: Sequence[float], unit: str, y_label: str
) -> str:
    """A bar per second: ``values`` oldest first."""
    count = len(values)
    last = values[-1] if values else math.nan
    top = _nice_ceiling(max(values, default=0.0))
    desc = (
        f"{count} seconds; last {_short(last)} {unit}, peak {_short(max(values))} {unit}"
        if values
        else "no data yet"
    )
    parts = [
        _open_svg(chart_id, title, desc, {"points": str(count), "last": _data(last)}),
        _frame(top, y_label, _time_labels(count), whole=True),
    ]
    slot = _PLOT_W / max(count, 1)
    width = max(slot * 0.8, 0.5)
    for index, value in enumerate(values):
        height = _PLOT_H * value / top
        x = _LEFT + slot * index + (slot - width) / 2
        parts.append(
            f'<rect class="bar" x="{x:.2f}" y="{_TOP + _PLOT_H - height:.2f}" '
            f'width="{width:.2f}" height="{height:.2f}" data-value="{_data(value)}"/>'
        )
    parts.append(_empty_note(count))
    parts.append("</svg>")
    return "".join(parts)


def _runs(values: Sequence[float]) -> list[list[tuple[int, float]]]:
    """The unbroken runs of finite values, with their indices."""
    runs: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for index, value in enumerate(values):
        if math.isnan(value):
            if current:
                runs.append(current)
            current = []
        else:
            current.append((index, value))
    if current:
        runs.append(current)
    return runs


def _latency_chart(p50: Sequence[float], p99: Sequence[float]) -> str:
    count = max(len(p50), len(p99))
    finite = [value * 1000 for value in (*p50, *p99) if not math.isnan(value)]
    top = _nice_ceiling(max(finite, default=0.0))
    last50 = p50[-1] if p50 else math.nan
    last99 = p99[-1] if p99 else math.nan
    desc = (
        f"{count} seconds; last p50 {_ms(last50)}, p99 {_ms(last99)}" if count else ("no data yet")
    )
    attributes = {
        "points": str(count),
        "last-p50": _data(last50 * 1000),
        "last-p99": _data(last99 * 1000),
        "unit": "ms",
    }
    parts = [
        _open_svg("latency", "Latency percentiles (ms)", desc, attributes),
        _frame(top, "milliseconds", _time_labels(count), whole=False),
    ]
    for name, series in (("p50", p50), ("p99", p99)):
        offset = count - len(series)  # align the newest samples on the right
        for run in _runs(series):
            points = " ".join(
                f"{_x(offset + index, count):.2f},{_y(value * 1000, top):.2f}"
                for index, value in run
            )
            parts.append(f'<polyline class="line {name}" data-series="{name}" points="{points}"/>')
            if len(run) == 1:  # a lone sample: a dot, as a one-point polyline shows nothing
                index, value = run[0]
                parts.append(
                    f'<circle class="dot {name}" cx="{_x(offset + index, count):.2f}" '
                    f'cy="{_y(value * 1000, top):.2f}" r="2"/>'
                )
    parts.append(
        f'<text class="legend p50" x="{_WIDTH - _RIGHT - 80}" y="{_TOP + 12}">— p50</text>'
        f'<text class="legend p99" x="{_WIDTH - _RIGHT - 36}" y="{_TOP + 12}">— p99</text>'
    )
    parts.append(_empty_note(count))
    parts.append("</svg>")
    return "".join(parts)


def _connections_chart(ports: Sequence[PortStatus]) -> str:
    count = len(ports)
    total = sum(port.connections for port in ports)
    top = _nice_ceiling(max((port.connections for port in ports), default=0))
    desc = (
        ", ".join(f"port {port.port}: {port.connections}" for port in ports)
        if ports
        else "no ports"
    )
    attributes = {
        "points": str(count),
        "last": str(total),
        "values": " ".join(f"{port.port}:{port.connections}" for port in ports),
    }
    parts = [
        _open_svg("connections", "Open connections per port", desc, attributes),
        _frame(top, "connections", ("", "port", ""), whole=True),
    ]
    slot = _PLOT_W / max(count, 1)
    width = min(slot * 0.6, 80.0)
    bottom = _TOP + _PLOT_H
    for index, port in enumerate(ports):
        height = _PLOT_H * port.connections / top
        x = _LEFT + slot * index + (slot - width) / 2
        kind = " tls" if port.tls else ""
        parts.append(
            f'<rect class="bar{kind}" x="{x:.2f}" y="{bottom - height:.2f}" width="{width:.2f}" '
            f'height="{height:.2f}" data-port="{port.port}" data-value="{port.connections}"/>'
            f'<text class="tick" x="{x + width / 2:.2f}" y="{bottom + 14}" '
            f'text-anchor="middle">{port.port}{" (TLS)" if port.tls else ""}</text>'
        )
    parts.append(_empty_note(count))
    parts.append("</svg>")
    return "".join(parts)


# -- the status page: the document -------------------------------------------------------------

_CSS: Final = """
:root { --ink: #14213d; --paper: #fbfaf7; --muted: #5c6378; --line: #e3e1da;
  --accent: #fca311; --p99: #c0392b; --ok: #2e7d32; --warn: #b3261e; color-scheme: light dark; }
@media (prefers-color-scheme: dark) {
  :root { --ink: #e8e6e1; --paper: #111827; --muted: #a3aab8; --line: #2b3345; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: var(--paper); }
header, main, footer { max-width: 72rem; margin: 0 auto; padding: 0 1.25rem; }
header { display: flex; align-items: baseline; gap: 1rem; padding-top: 1.5rem; flex-wrap: wrap; }
h1 { font-size: 1.6rem; margin: 0; }
h2 { font-size: 1rem; margin: 0 0 0.4rem; }
.state { font-weight: 600; padding: 0.1rem 0.7rem; border-radius: 999px; color: #fff; }
.state.serving { background: var(--ok); } .state.draining { background: var(--warn); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(9.5rem, 1fr));
  gap: 0.75rem; margin: 1.25rem 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 0.6rem 0.8rem; }
.card .value { display: block; font-size: 1.45rem; font-weight: 650;
  font-variant-numeric: tabular-nums; }
.card .label { color: var(--muted); font-size: 0.85rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(26rem, 1fr)); gap: 1rem; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 0.75rem; }
svg.chart { width: 100%; height: auto; display: block; }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .axis { stroke: var(--muted); stroke-width: 1; }
svg text { fill: var(--muted); font-size: 11px; }
svg .axis-label { font-size: 11px; }
svg .empty { font-size: 14px; }
svg .bar { fill: var(--accent); } svg .bar.tls { fill: #6c8ebf; }
svg .line { fill: none; stroke-width: 2; } svg .line.p50 { stroke: var(--accent); }
svg .line.p99 { stroke: var(--p99); } svg .dot.p50 { fill: var(--accent); }
svg .dot.p99 { fill: var(--p99); } svg .legend.p50 { fill: var(--accent); }
svg .legend.p99 { fill: var(--p99); }
table { border-collapse: collapse; margin: 1.25rem 0; min-width: 24rem; }
th, td { text-align: left; padding: 0.3rem 0.9rem 0.3rem 0; border-bottom: 1px solid var(--line); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
footer { color: var(--muted); font-size: 0.85rem; padding-bottom: 1.5rem; margin-top: 1rem; }
"""


def _utc(timestamp: float) -> str:
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float) -> str:
    whole = int(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days} d {clock}" if days else clock


def _card(card_id: str, label: str, value: str) -> str:
    return (
        f'<div class="card" id="card-{_esc(card_id)}"><span class="value">{_esc(value)}</span>'
        f'<span class="label">{_esc(label)}</span></div>'
    )


def render_status_page(data: StatusData, *, refresh: int = 2) -> str:
    """The ``/_medusa/status`` page: a complete HTML document, reloading every ``refresh``
    seconds (0: never), with no external asset.

    Figures as cards (requests/s, p50, p99, in flight, requests, request errors, denials,
    connection errors, open connections, uptime) and four charts: requests per second
    (``#requests``), latency p50/p99 (``#latency``), open connections per port
    (``#connections``) and denials per second (``#denials``); then a table of the ports.
    """
    given: object = refresh
    if not isinstance(given, int) or isinstance(given, bool) or refresh < 0:
        raise ValueError(f"render_status_page: refresh must be an int >= 0, got {refresh!r}")
    snapshot = data.requests
    state = "draining" if data.draining else "serving"
    head = [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
    ]
    if refresh:
        head.append(f'<meta http-equiv="refresh" content="{refresh}">')
    head += [
        "<title>MedusaServ status</title>",
        f"<style>{_CSS}</style>",
        "</head>",
    ]
    cards = [
        _card("rate", "requests / s", _short(snapshot.rate)),
        _card("p50", "latency p50", _ms(snapshot.p50)),
        _card("p99", "latency p99", _ms(snapshot.p99)),
        _card("in-flight", "in flight", str(snapshot.in_flight)),
        _card("requests", "requests", str(snapshot.operations)),
        _card("request-errors", "request errors", str(snapshot.errors)),
        _card("denials", "denials", str(data.denials)),
        _card("errors", "connection errors", str(data.errors)),
        _card("connections", "open connections", str(data.connections)),
        _card("uptime", "uptime", _duration(data.uptime)),
    ]
    rows = "".join(
        f'<tr><td class="num">{port.port}</td>'
        f"<td>{'dual-stack' if port.dual_stack else 'single'}</td>"
        f"<td>{'TLS' if port.tls else 'plain'}</td>"
        f'<td class="num">{port.connections}</td></tr>'
        for port in data.ports
    )
    charts = [
        ("Requests per second", _bar_series_chart(
            "requests", "Requests per second", data.request_rates, "requests/s",
            "requests / s")),
        ("Latency p50 and p99", _latency_chart(data.latency_p50, data.latency_p99)),
        ("Open connections per port", _connections_chart(data.ports)),
        ("Denials per second", _bar_series_chart(
            "denials", "Denials per second", data.denial_rates, "denials/s", "denials / s")),
    ]  # fmt: skip
    body = [
        "<body>",
        "<header>",
        "<h1>MedusaServ status</h1>",
        f'<span class="state {state}" id="state">{state}</span>',
        f"<span>version {_esc(data.version)}</span>",
        "</header>",
        "<main>",
        f'<section class="cards">{"".join(cards)}</section>',
        '<section class="charts">',
        *(f"<figure><h2>{_esc(name)}</h2>{svg}</figure>" for name, svg in charts),
        "</section>",
        '<table id="ports"><thead><tr><th>port</th><th>family</th><th>protocol</th>'
        f"<th>open connections</th></tr></thead><tbody>{rows}</tbody></table>",
        "</main>",
        f"<footer>Started {_utc(data.started_at)}; rendered {_utc(data.now)}. Metrics: "
        f'<a href="{_esc(METRICS_PATH.decode())}">{_esc(METRICS_PATH.decode())}</a>, health: '
        f'<a href="{_esc(HEALTH_PATH.decode())}">{_esc(HEALTH_PATH.decode())}</a>.</footer>',
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(head + body)
