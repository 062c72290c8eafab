"""MedusaServ's own pages from plain data: the status page (well-formed, self-contained, charts
holding the data, escaped, fine with no data), the health check and the Prometheus metrics."""

from __future__ import annotations

import math
from html.parser import HTMLParser

import attrs
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dsexec.perf import PerfMonitor, PerfSnapshot
from examples.medusa import (
    HEALTH_CONTENT_TYPE,
    METRICS_CONTENT_TYPE,
    PAGES_PREFIX,
    STATUS_CONTENT_TYPE,
    LatencyHistory,
    PortStatus,
    StatusData,
    render_health,
    render_metrics,
    render_status_page,
    route,
)

START = 1_700_000_000.0
VOID = {"meta", "link", "br", "img", "input", "hr", "wbr", "source", "col", "area", "base"}
SVG_LEAVES = {"rect", "line", "circle", "polyline", "path"}


class Element:
    def __init__(self, tag: str, attributes: dict[str, str]) -> None:
        self.tag = tag
        self.attributes = attributes
        self.children: list[Element] = []
        self.text = ""

    def find_all(self, tag: str) -> list[Element]:
        found = [self] if self.tag == tag else []
        for child in self.children:
            found += child.find_all(tag)
        return found

    def by_id(self, wanted: str) -> Element:
        for element in self.find_all_elements():
            if element.attributes.get("id") == wanted:
                return element
        raise AssertionError(f"no element with id {wanted!r}")

    def find_all_elements(self) -> list[Element]:
        found = [self]
        for child in self.children:
            found += child.find_all_elements()
        return found

    def classes(self) -> set[str]:
        return set(self.attributes.get("class", "").split())


class Tree(HTMLParser):
    """A strict tree builder: every non-void element must be closed, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]
        self.doctype = ""

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Element(tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag: str) -> None:
        assert tag not in VOID, f"end tag for void element {tag}"
        open_element = self.stack.pop()
        assert open_element.tag == tag, f"</{tag}> closes <{open_element.tag}>"

    def handle_data(self, data: str) -> None:
        self.stack[-1].text += data


def parse(page: str) -> Element:
    tree = Tree()
    tree.feed(page)
    tree.close()
    assert tree.stack == [tree.root], [element.tag for element in tree.stack]
    assert tree.doctype.lower() == "doctype html"
    return tree.root


def text_of(element: Element) -> str:
    return element.text + "".join(text_of(child) for child in element.children)


def snapshot(**fields: object) -> PerfSnapshot:
    values: dict[str, object] = {
        "operations": 1234,
        "errors": 5,
        "stopped": 1,
        "in_flight": 3,
        "rate": 123.4,
        "p50": 0.0021,
        "p90": 0.004,
        "p99": 0.0153,
        "max": 0.05,
        "samples": 1234,
        "latency_sum": 3.5,
        "uptime": 3725.0,
    }
    values.update(fields)
    return PerfSnapshot(**values)  # type: ignore[arg-type]


EMPTY_SNAPSHOT = PerfMonitor(clock=lambda: 0.0).snapshot()


def data(**fields: object) -> StatusData:
    values: dict[str, object] = {
        "version": "0.1.0",
        "started_at": START,
        "now": START + 3725,
        "ports": (
            PortStatus(8080, dual_stack=True, tls=False, connections=7),
            PortStatus(8060, dual_stack=True, tls=False, connections=0),
            PortStatus(8443, dual_stack=False, tls=True, connections=2),
        ),
        "requests": snapshot(),
        "request_rates": [100, 120, 0, 130, 123],
        "latency_p50": [0.002, math.nan, 0.0021, 0.0022],
        "latency_p99": [0.01, math.nan, 0.012, 0.0153],
        "denials": 4,
        "denial_rates": [0, 1, 0, 3],
        "errors": 2,
    }
    values.update(fields)
    return StatusData(**values)  # type: ignore[arg-type]


# -- LatencyHistory ----------------------------------------------------------------------------


def test_latency_history_keeps_the_last_capacity_samples() -> None:
    history = LatencyHistory(capacity=3)
    for second in range(5):
        history.record(second / 1000, second / 100)
    assert len(history) == 3
    assert history.capacity == 3
    assert history.p50() == (0.002, 0.003, 0.004)
    assert history.p99() == (0.02, 0.03, 0.04)
    assert "3 of 3" in repr(history)


def test_latency_history_defaults_to_five_minutes_and_records_snapshots() -> None:
    history = LatencyHistory()
    assert history.capacity == 300
    history.record_snapshot(EMPTY_SNAPSHOT)
    history.record_snapshot(snapshot())
    assert math.isnan(history.p50()[0])
    assert history.p50()[1] == 0.0021
    assert history.p99()[1] == 0.0153


@pytest.mark.parametrize(
    ("p50", "p99", "error"),
    [
        (-1.0, 0.0, ValueError),
        (0.0, math.inf, ValueError),
        ("0.1", 0.0, TypeError),
        (0.0, True, TypeError),
    ],
)
def test_latency_history_rejects_bad_samples(p50: object, p99: object, error: type) -> None:
    history = LatencyHistory()
    with pytest.raises(error, match="LatencyHistory"):
        history.record(p50, p99)  # type: ignore[arg-type]
    assert len(history) == 0


@pytest.mark.parametrize(("capacity", "error"), [(0, ValueError), (10**9, ValueError),
                                                  (2.0, TypeError), (True, TypeError)])  # fmt: skip
def test_latency_history_validates_its_capacity(capacity: object, error: type) -> None:
    with pytest.raises(error, match="capacity"):
        LatencyHistory(capacity)  # type: ignore[arg-type]


# -- StatusData --------------------------------------------------------------------------------


def test_status_data_takes_numpy_series_from_the_monitor() -> None:
    clock = [0.0]
    monitor = PerfMonitor(clock=lambda: clock[0])
    for _ in range(3):
        monitor.start_operation().finish()
        clock[0] += 1.0
    seconds, counts = monitor.rates()
    assert counts.dtype == np.int64
    status = data(request_rates=counts, latency_p50=np.array([0.001]), latency_p99=())
    assert status.request_rates == (1.0, 1.0, 1.0)
    assert status.latency_p50 == (0.001,)
    assert len(seconds) == 3


def test_status_data_derives_uptime_and_open_connections() -> None:
    status = data()
    assert status.uptime == 3725
    assert status.connections == 9
    assert data(now=START - 5).uptime == 0


@pytest.mark.parametrize(
    ("fields", "error", "fragment"),
    [
        ({"denials": -1}, ValueError, "denials"),
        ({"errors": 1.5}, TypeError, "errors"),
        ({"draining": 1}, TypeError, "draining"),
        ({"version": 1}, TypeError, "version"),
        ({"started_at": math.nan}, ValueError, "started_at"),
        ({"now": "later"}, TypeError, "now"),
        ({"requests": {}}, TypeError, "requests"),
        ({"ports": [8080]}, TypeError, "ports"),
        ({"request_rates": [1, -2]}, ValueError, "request_rates"),
        ({"request_rates": [math.nan]}, ValueError, "request_rates"),
        ({"request_rates": ["1"]}, TypeError, "numbers"),
        ({"latency_p99": [-0.1]}, ValueError, "latency_p99"),
        ({"denial_rates": [math.inf]}, ValueError, "denial_rates"),
    ],
)
def test_status_data_validates_its_fields(
    fields: dict[str, object], error: type, fragment: str
) -> None:
    with pytest.raises(error, match=fragment):
        data(**fields)


def test_port_status_validates_its_fields() -> None:
    with pytest.raises(ValueError, match="connections"):
        PortStatus(80, dual_stack=True, tls=False, connections=-1)
    with pytest.raises(TypeError, match="tls"):
        PortStatus(80, dual_stack=True, tls="no", connections=0)  # type: ignore[arg-type]


def test_status_data_is_a_frozen_value() -> None:
    status = data()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        status.denials = 5  # type: ignore[misc]
    assert attrs.evolve(status, draining=True).draining


# -- the status page ---------------------------------------------------------------------------


def charts(document: Element) -> dict[str, Element]:
    return {
        svg.attributes["id"]: svg for svg in document.find_all("svg") if "chart" in svg.classes()
    }


def test_the_page_is_a_complete_self_refreshing_html_document() -> None:
    page = render_status_page(data())
    document = parse(page)
    (html,) = document.find_all("html")
    assert html.attributes["lang"] == "en"
    refresh = [
        meta for meta in document.find_all("meta") if meta.attributes.get("http-equiv") == "refresh"
    ]
    assert [meta.attributes["content"] for meta in refresh] == ["2"]
    assert text_of(document.find_all("title")[0]) == "MedusaServ status"
    assert len(document.find_all("style")) == 1
    assert STATUS_CONTENT_TYPE == b"text/html; charset=utf-8"


def test_the_page_has_no_external_assets_and_no_script() -> None:
    document = parse(render_status_page(data()))
    assert document.find_all("script") == []
    assert document.find_all("link") == []
    assert document.find_all("img") == []
    for element in document.find_all_elements():
        for name in ("src", "href", "xlink:href", "action"):
            value = element.attributes.get(name)
            if value is not None:
                assert value.startswith("/"), value
                assert not value.startswith("//"), value
    style = text_of(document.find_all("style")[0])
    assert "url(" not in style
    assert "@import" not in style


def test_the_refresh_can_be_changed_or_turned_off() -> None:
    assert 'content="5"' in render_status_page(data(), refresh=5)
    assert "http-equiv" not in render_status_page(data(), refresh=0)
    with pytest.raises(ValueError, match="refresh"):
        render_status_page(data(), refresh=-1)
    with pytest.raises(ValueError, match="refresh"):
        render_status_page(data(), refresh=True)


def test_every_chart_has_a_title_a_description_and_axis_labels() -> None:
    found = charts(parse(render_status_page(data())))
    assert set(found) == {"requests", "latency", "connections", "denials"}
    for chart_id, svg in found.items():
        titles = svg.find_all("title")
        assert titles
        assert titles[0].attributes["id"] == f"{chart_id}-title"
        assert text_of(titles[0])
        assert text_of(svg.find_all("desc")[0])
        labels = [text_of(t) for t in svg.find_all("text") if "axis-label" in t.classes()]
        assert len(labels) == 2, chart_id
        assert svg.attributes["aria-labelledby"] == f"{chart_id}-title {chart_id}-desc"


def test_the_requests_chart_holds_one_bar_per_second() -> None:
    svg = charts(parse(render_status_page(data())))["requests"]
    assert svg.attributes["data-points"] == "5"
    assert svg.attributes["data-last"] == "123"
    bars = [rect for rect in svg.find_all("rect") if "bar" in rect.classes()]
    assert [float(bar.attributes["data-value"]) for bar in bars] == [100, 120, 0, 130, 123]
    heights = [float(bar.attributes["height"]) for bar in bars]
    assert heights[3] == max(heights)
    assert heights[2] == 0
    assert "last 123 requests/s" in text_of(svg.find_all("desc")[0])


def test_the_latency_chart_has_two_lines_broken_where_there_was_no_sample() -> None:
    svg = charts(parse(render_status_page(data())))["latency"]
    assert svg.attributes["data-points"] == "4"
    assert svg.attributes["data-last-p50"] == "2.2"
    assert svg.attributes["data-last-p99"] == "15.3"
    lines = svg.find_all("polyline")
    by_series = {name: [line for line in lines if line.attributes["data-series"] == name]
                 for name in ("p50", "p99")}  # fmt: skip
    # [x, NaN, x, x]: a lone point (drawn as a dot too), then a run of two
    assert [len(line.attributes["points"].split()) for line in by_series["p50"]] == [1, 2]
    assert [len(line.attributes["points"].split()) for line in by_series["p99"]] == [1, 2]
    assert len(svg.find_all("circle")) == 2
    p99_top = min(float(p.split(",")[1]) for p in by_series["p99"][1].attributes["points"].split())
    p50_top = min(float(p.split(",")[1]) for p in by_series["p50"][1].attributes["points"].split())
    assert p99_top < p50_top  # the slower percentile is drawn higher


def test_the_connections_chart_has_a_bar_per_port() -> None:
    svg = charts(parse(render_status_page(data())))["connections"]
    assert svg.attributes["data-points"] == "3"
    assert svg.attributes["data-last"] == "9"
    assert svg.attributes["data-values"] == "8080:7 8060:0 8443:2"
    bars = [rect for rect in svg.find_all("rect") if "bar" in rect.classes()]
    assert [(bar.attributes["data-port"], bar.attributes["data-value"]) for bar in bars] == [
        ("8080", "7"),
        ("8060", "0"),
        ("8443", "2"),
    ]
    assert "tls" in bars[2].classes()
    assert "8443 (TLS)" in [text_of(t) for t in svg.find_all("text")]


def test_the_denials_chart_and_the_cards_show_the_counts() -> None:
    document = parse(render_status_page(data()))
    svg = charts(document)["denials"]
    assert (svg.attributes["data-points"], svg.attributes["data-last"]) == ("4", "3")

    def card(name: str) -> str:
        return text_of(document.by_id(f"card-{name}").children[0])

    assert card("denials") == "4"
    assert card("errors") == "2"
    assert card("request-errors") == "5"
    assert card("requests") == "1234"
    assert card("in-flight") == "3"
    assert card("rate") == "123"
    assert card("p50") == "2.1 ms"
    assert card("p99") == "15.3 ms"
    assert card("connections") == "9"
    assert card("uptime") == "01:02:05"
    assert text_of(document.by_id("state")) == "serving"


def test_the_page_lists_every_port() -> None:
    document = parse(render_status_page(data()))
    rows = document.by_id("ports").find_all("tr")[1:]
    cells = [[text_of(cell) for cell in row.find_all("td")] for row in rows]
    assert cells == [
        ["8080", "dual-stack", "plain", "7"],
        ["8060", "dual-stack", "plain", "0"],
        ["8443", "single", "TLS", "2"],
    ]


def test_a_draining_server_says_so() -> None:
    document = parse(render_status_page(data(draining=True)))
    state = document.by_id("state")
    assert text_of(state) == "draining"
    assert "draining" in state.classes()


def test_a_long_uptime_shows_days() -> None:
    document = parse(render_status_page(data(now=START + 3 * 86_400 + 61)))
    assert text_of(document.by_id("card-uptime").children[0]) == "3 d 00:01:01"


def test_no_data_yet_renders_with_nan_percentiles() -> None:
    empty = StatusData(
        version="0.1.0", started_at=START, now=START, ports=(), requests=EMPTY_SNAPSHOT
    )
    assert math.isnan(empty.requests.p50)
    page = render_status_page(empty)
    document = parse(page)
    found = charts(document)
    assert set(found) == {"requests", "latency", "connections", "denials"}
    for svg in found.values():
        assert svg.attributes["data-points"] == "0"
        assert svg.find_all("polyline") == []
        assert [rect for rect in svg.find_all("rect") if "bar" in rect.classes()] == []
    assert found["requests"].attributes["data-last"] == ""
    assert found["latency"].attributes["data-last-p50"] == ""
    assert "no data yet" in text_of(found["requests"])
    assert text_of(document.by_id("card-p50").children[0]) == "n/a"
    assert "nan" not in page.lower().replace("nanoseconds", "")


def test_only_nan_latencies_draw_no_line() -> None:
    status = data(latency_p50=[math.nan] * 3, latency_p99=[math.nan] * 3)
    svg = charts(parse(render_status_page(status)))["latency"]
    assert svg.attributes["data-points"] == "3"
    assert svg.find_all("polyline") == []


def test_huge_values_scale_the_axis_instead_of_overflowing() -> None:
    svg = charts(parse(render_status_page(data(request_rates=[1, 2_500_000]))))["requests"]
    bars = [rect for rect in svg.find_all("rect") if "bar" in rect.classes()]
    for bar in bars:
        y, height = float(bar.attributes["y"]), float(bar.attributes["height"])
        assert y >= 0
        assert height >= 0
        assert y + height <= 200
    ticks = [text_of(t) for t in svg.find_all("text") if "tick" in t.classes()]
    assert "5M" in ticks


def test_a_long_series_is_drawn_whole() -> None:
    rates = list(range(300))
    svg = charts(parse(render_status_page(data(request_rates=rates))))["requests"]
    assert svg.attributes["data-points"] == "300"
    assert len([rect for rect in svg.find_all("rect") if "bar" in rect.classes()]) == 300


def test_text_from_outside_is_escaped() -> None:
    hostile = '<script>alert("x")</script>&'
    page = render_status_page(data(version=hostile))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in page
    document = parse(page)
    assert document.find_all("script") == []
    assert hostile in text_of(document)


# -- health and routes -------------------------------------------------------------------------


def test_health_is_200_while_serving_and_503_while_draining() -> None:
    assert render_health(False) == (200, b"ok\n")
    assert render_health(True) == (503, b"draining\n")
    assert HEALTH_CONTENT_TYPE == b"text/plain; charset=utf-8"


@pytest.mark.parametrize(
    ("target", "page"),
    [
        (b"/_medusa/status", "status"),
        (b"/_medusa/status?x=1", "status"),
        (b"/_medusa/metrics", "metrics"),
        (b"/_medusa/health", "health"),
        (b"/_medusa/health/", None),
        (b"/_medusa/", None),
        (b"/index.html", None),
        (b"/_MEDUSA/status", None),
    ],
)
def test_route_names_the_servers_own_pages(target: bytes, page: str | None) -> None:
    assert route(target) == page
    if page is not None:  # the server asks route() only for targets under the prefix
        assert target.startswith(PAGES_PREFIX)


# -- metrics -----------------------------------------------------------------------------------


def families(text: str) -> dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    result: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for family in text_string_to_metric_families(text):
        samples = result.setdefault(family.name, {})
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return result


def test_metrics_parse_with_prometheus_client_and_hold_every_figure() -> None:
    text = render_metrics(data())
    assert text.endswith("\n")
    parsed = families(text)
    assert parsed["medusa_http_operations"][("medusa_http_operations_total", ())] == 1234
    assert parsed["medusa_http_errors"][("medusa_http_errors_total", ())] == 5
    assert parsed["medusa_http_in_flight"][("medusa_http_in_flight", ())] == 3
    latency = parsed["medusa_http_latency_seconds"]
    assert latency[("medusa_http_latency_seconds", (("quantile", "0.99"),))] == 0.0153
    connections = parsed["medusa_connections"]
    assert connections == {
        ("medusa_connections", (("dual_stack", "true"), ("port", "8080"), ("tls", "false"))): 7,
        ("medusa_connections", (("dual_stack", "true"), ("port", "8060"), ("tls", "false"))): 0,
        ("medusa_connections", (("dual_stack", "false"), ("port", "8443"), ("tls", "true"))): 2,
    }
    assert parsed["medusa_denials"][("medusa_denials_total", ())] == 4
    assert parsed["medusa_connection_errors"][("medusa_connection_errors_total", ())] == 2
    assert parsed["medusa_draining"][("medusa_draining", ())] == 0
    assert parsed["medusa_start_time_seconds"][("medusa_start_time_seconds", ())] == START
    assert parsed["medusa_info"][("medusa_info", (("version", "0.1.0"),))] == 1
    assert METRICS_CONTENT_TYPE == b"text/plain; version=0.0.4; charset=utf-8"


def test_metrics_of_an_idle_draining_server_parse_with_nan_quantiles() -> None:
    empty = StatusData(
        version="0.1.0", started_at=START, now=START, ports=(), requests=EMPTY_SNAPSHOT,
        draining=True,
    )  # fmt: skip
    parsed = families(render_metrics(empty))
    quantile = parsed["medusa_http_latency_seconds"][
        ("medusa_http_latency_seconds", (("quantile", "0.5"),))
    ]
    assert math.isnan(quantile)
    assert parsed["medusa_draining"][("medusa_draining", ())] == 1
    assert "medusa_connections" not in parsed or parsed["medusa_connections"] == {}


def test_metric_labels_are_escaped() -> None:
    version = 'v1 "quoted" \\ back\nslash'
    parsed = families(render_metrics(data(version=version)))
    assert parsed["medusa_info"] == {("medusa_info", (("version", version),)): 1}


def test_metrics_take_another_prefix() -> None:
    parsed = families(render_metrics(data(), prefix="edge_"))
    assert "edge_http_operations" in parsed
    assert "edge_connections" in parsed
    assert not any(name.startswith("medusa_") for name in parsed)
