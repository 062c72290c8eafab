"""Prometheus text exposition (format 0.0.4), checked by parsing it with prometheus_client's
parser: families, types, values, label escaping, several monitors on one page, bad names."""

from __future__ import annotations

import math
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from dsexec.perf import PerfMonitor, PerfSnapshot, prometheus_exposition


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def busy_monitor() -> PerfMonitor:
    clock = Clock()
    monitor = PerfMonitor(clock=clock)
    for latency in (0.001, 0.002, 0.003, 0.004):
        timer = monitor.start_operation()
        clock.now += latency
        timer.finish(ok=latency != 0.004)
    monitor.start_operation()  # in flight
    monitor.start_operation().finish_stopped()
    clock.now = 2.5
    return monitor


def parse(text: str) -> dict[str, tuple[str, list[Sample]]]:
    return {
        family.name: (family.type, family.samples)
        for family in text_string_to_metric_families(text)
    }


def test_the_text_parses_into_the_documented_families() -> None:
    families = parse(busy_monitor().prometheus_text())
    assert {name: kind for name, (kind, _) in families.items()} == {
        "dsexec_operations": "counter",
        "dsexec_errors": "counter",
        "dsexec_stopped": "counter",
        "dsexec_in_flight": "gauge",
        "dsexec_operations_per_second": "gauge",
        "dsexec_latency_max_seconds": "gauge",
        "dsexec_uptime_seconds": "gauge",
        "dsexec_latency_seconds": "summary",
    }


def test_the_values_are_the_snapshots() -> None:
    monitor = busy_monitor()
    snapshot = monitor.snapshot()
    families = parse(monitor.prometheus_text())

    def value(family: str) -> float:
        (sample,) = families[family][1]
        return sample.value

    assert value("dsexec_operations") == 4
    assert value("dsexec_errors") == 1
    assert value("dsexec_stopped") == 1
    assert value("dsexec_in_flight") == 1
    assert value("dsexec_operations_per_second") == snapshot.rate == 2.0
    assert value("dsexec_latency_max_seconds") == pytest.approx(0.004)
    assert value("dsexec_uptime_seconds") == 2.5
    summary = {
        (sample.name, sample.labels.get("quantile")): sample.value
        for sample in families["dsexec_latency_seconds"][1]
    }
    assert summary == {
        ("dsexec_latency_seconds", "0.5"): pytest.approx(snapshot.p50),
        ("dsexec_latency_seconds", "0.9"): pytest.approx(snapshot.p90),
        ("dsexec_latency_seconds", "0.99"): pytest.approx(snapshot.p99),
        ("dsexec_latency_seconds_sum", None): pytest.approx(0.010),
        ("dsexec_latency_seconds_count", None): 4,
    }


def test_every_family_has_one_help_and_one_type_line_and_the_text_ends_with_a_newline() -> None:
    text = busy_monitor().prometheus_text()
    assert text.endswith("\n")
    lines = text.splitlines()
    helps = [line.split()[2] for line in lines if line.startswith("# HELP ")]
    types = [line.split()[2] for line in lines if line.startswith("# TYPE ")]
    assert helps == types
    assert len(set(types)) == len(types) == 8


def test_quantiles_are_nan_before_any_sample() -> None:
    families = parse(PerfMonitor(clock=Clock()).prometheus_text())
    quantiles = [s for s in families["dsexec_latency_seconds"][1] if "quantile" in s.labels]
    assert len(quantiles) == 3
    assert all(math.isnan(sample.value) for sample in quantiles)
    assert 'dsexec_latency_seconds{quantile="0.5"} NaN' in PerfMonitor().prometheus_text()


def test_labels_are_added_to_every_sample_and_escaped() -> None:
    awkward = 'a\\b"c\nd'
    text = busy_monitor().prometheus_text(labels={"port": "8080", "note": awkward})
    assert 'note="a\\\\b\\"c\\nd"' in text
    for _, samples in parse(text).values():
        for sample in samples:
            assert sample.labels["port"] == "8080"
            assert sample.labels["note"] == awkward


def test_the_prefix_names_the_metrics() -> None:
    families = parse(busy_monitor().prometheus_text(prefix="medusa_http_"))
    assert "medusa_http_latency_seconds" in families
    assert "latency_seconds" in parse(busy_monitor().prometheus_text(prefix=""))


def test_several_monitors_share_one_page_with_their_labels() -> None:
    quiet = PerfMonitor(clock=Clock()).snapshot()
    busy = busy_monitor().snapshot()
    text = prometheus_exposition([(busy, {"port": "8080"}), (quiet, {"port": "8443"})])
    families = parse(text)
    assert len(families) == 8
    operations = {s.labels["port"]: s.value for s in families["dsexec_operations"][1]}
    assert operations == {"8080": 4, "8443": 0}
    assert len(families["dsexec_latency_seconds"][1]) == 10
    assert text.count("# TYPE dsexec_latency_seconds summary") == 1


def test_the_content_type_names_format_0_0_4() -> None:
    assert PerfMonitor.PROMETHEUS_CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"prefix": "9lives_"}, ValueError, "prefix must be '' or match"),
        ({"prefix": "dsexec-"}, ValueError, "prefix must be '' or match"),
        ({"prefix": None}, TypeError, "prefix must be a str, got None"),
        ({"labels": {"port number": "1"}}, ValueError, "label name 'port number' is not"),
        ({"labels": {"quantile": "1"}}, ValueError, "label name 'quantile' is reserved"),
        ({"labels": {"__name__": "x"}}, ValueError, "label name '__name__' is reserved"),
        ({"labels": {"port": 8080}}, TypeError, "label 'port' must have a str value"),
        ({"labels": {1: "x"}}, TypeError, "label name 1 is not a str"),
    ],
)
def test_bad_prefixes_and_labels_are_clear_errors(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=f"prometheus_exposition: {match}"):
        PerfMonitor().prometheus_text(**kwargs)


def test_two_series_with_the_same_labels_are_refused() -> None:
    snapshot: PerfSnapshot = PerfMonitor().snapshot()
    with pytest.raises(ValueError, match="two snapshots with the same labels"):
        prometheus_exposition([(snapshot, {"a": "1", "b": "2"}), (snapshot, {"b": "2", "a": "1"})])
