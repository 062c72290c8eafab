"""The status page in a real browser: headless Chromium loads ``/_medusa/status`` after some
traffic, the rendered DOM shows charts holding data, and a screenshot is saved in the test's
tmp dir. Skipped, with the reason, where Chromium is not installed or cannot start
(``.ci/run`` installs Debian's ``chromium`` when it is missing)."""

from __future__ import annotations

import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from tests._helpers.medusa import MedusaProcess, exchange, get

BROWSER_DEADLINE = 90.0  # a cold Chromium start on a busy two-core machine
TRAFFIC_SECONDS = 2.5  # the charts show complete seconds: a few of them
TRAFFIC_PAUSE = 0.01  # between rounds of four requests: at most 1,000 requests in all


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does it)")


def run_browser(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        browser,
        "--headless",
        "--no-sandbox",  # root in a container: no user namespace sandbox
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        *args,
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=BROWSER_DEADLINE, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"Chromium did not finish within {BROWSER_DEADLINE:.0f} s here")
    if done.returncode != 0 and not done.stdout:
        pytest.skip(f"Chromium cannot start here: {done.stderr.strip().splitlines()[-1:]}")
    return done


class Charts(HTMLParser):
    """The chart ``<svg>`` elements of the page, their attributes, and what they hold."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.charts: dict[str, dict[str, str]] = {}
        self.shapes: dict[str, list[tuple[str, dict[str, str]]]] = {}
        self._current: str | None = None
        self.state = ""
        self._in_state = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "svg" and "chart" in attributes.get("class", "").split():
            self._current = attributes["id"]
            self.charts[self._current] = attributes
            self.shapes[self._current] = []
        elif self._current is not None and tag in {"rect", "polyline", "circle"}:
            self.shapes[self._current].append((tag, attributes))
        if attributes.get("id") == "state":
            self._in_state = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._in_state:
            self.state += data
            self._in_state = False


def test_the_status_page_renders_charts_with_data_in_chromium(tmp_path: Path) -> None:
    browser = chromium()
    with MedusaProcess("--port", "0", "--port", "0", "--block", "127.0.0.2") as medusa:
        first, second = medusa.ports
        started = time.monotonic()
        requests = 0
        while time.monotonic() - started < TRAFFIC_SECONDS:
            for target in (b"/", b"/style.css", b"/about/", b"/favicon.svg"):
                reply = exchange("127.0.0.1", first if requests % 2 else second, get(target))
                assert reply is not None
                requests += 1
            # Paced, not capped by count: on a fast machine a count was reached within one
            # second, and the requests chart (complete seconds) had a single point.
            time.sleep(TRAFFIC_PAUSE)
        assert exchange("127.0.0.1", first, get(b"/"), source="127.0.0.2") is None  # a denial
        time.sleep(1.1)  # one more sampler tick: the denial and the last second are charted
        url = f"http://127.0.0.1:{first}/_medusa/status"
        dom = run_browser(browser, tmp_path / "profile", "--dump-dom", url).stdout
        screenshot = tmp_path / "medusa-status.png"
        run_browser(
            browser,
            tmp_path / "profile",
            f"--screenshot={screenshot}",
            "--window-size=1280,1500",
            "--hide-scrollbars",
            url,
        )

    page = Charts()
    page.feed(dom)
    assert page.state == "serving"
    assert set(page.charts) == {"requests", "latency", "connections", "denials"}
    bars = [shape for shape in page.shapes["requests"] if shape[0] == "rect"]
    assert int(page.charts["requests"]["data-points"]) >= 2
    assert len(bars) == int(page.charts["requests"]["data-points"])
    assert sum(float(attributes["data-value"]) for _, attributes in bars) >= requests * 0.5
    assert any(tag == "polyline" for tag, _ in page.shapes["latency"])
    assert float(page.charts["latency"]["data-last-p99"]) > 0
    ports = [attributes["data-port"] for tag, attributes in page.shapes["connections"]]
    assert ports == [str(first), str(second)]
    assert any(float(attributes["data-value"]) >= 1 for _, attributes in page.shapes["denials"])
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 10_000  # a rendered page, not a blank one
