"""The site MedusaServ ships (examples/www): small, self-contained, every local link served by
the static-file planner, and the start page says what the server is and where its pages are."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from dsexec.http._static_files import plan_static_response
from examples.medusa import DEFAULT_PORTS, DEFAULT_ROOT, HEALTH_PATH, METRICS_PATH, STATUS_PATH

SITE = DEFAULT_ROOT
PAGES = sorted(SITE.rglob("*.html"))
OWN_PAGES = {path.decode() for path in (STATUS_PATH, METRICS_PATH, HEALTH_PATH)}
VOID = {"meta", "link", "br", "img", "input", "hr", "wbr", "source"}


class Links(HTMLParser):
    """Collects every ``src``/``href`` and checks that the elements nest properly."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.references: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href"} and value is not None:
                self.references.append((tag, name, value))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack.pop() == tag

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def read(page: Path) -> Links:
    links = Links()
    links.feed(page.read_text(encoding="utf-8"))
    links.close()
    assert links.stack == [], page
    return links


def test_the_site_is_small_and_has_its_pages() -> None:
    files = [path for path in SITE.rglob("*") if path.is_file()]
    names = {path.relative_to(SITE).as_posix() for path in files}
    assert {"index.html", "style.css", "favicon.svg", "about/index.html"} <= names
    assert sum(path.stat().st_size for path in files) < 32 * 1024


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(SITE)) for p in PAGES])
def test_every_page_is_well_formed_and_links_only_to_local_things(page: Path) -> None:
    links = read(page)
    assert links.references
    for tag, attribute, value in links.references:
        assert value.startswith("/"), (tag, attribute, value)
        assert not value.startswith("//"), value
        if value in OWN_PAGES:
            continue
        plan = plan_static_response(SITE, b"GET", value.encode(), [])
        assert plan.status == 200, (value, plan.reason)


def test_the_start_page_says_what_medusaserv_is() -> None:
    links = read(SITE / "index.html")
    text = " ".join("".join(links.text).split())
    assert "MedusaServ" in text
    assert "dual-stack" in text
    assert "sender pipelines" in text
    for port in DEFAULT_PORTS:
        assert str(port) in text
    hrefs = {value for tag, _, value in links.references if tag == "a"}
    assert hrefs >= OWN_PAGES
    assert "/about/" in hrefs


def test_the_about_directory_is_served_through_its_index() -> None:
    assert plan_static_response(SITE, b"GET", b"/about", []).status == 301
    plan = plan_static_response(SITE, b"GET", b"/about/", [])
    assert plan.status == 200
    assert plan.path == (SITE / "about" / "index.html").resolve()
    assert plan.header(b"content-type") == b"text/html; charset=utf-8"


def test_the_assets_get_their_content_types() -> None:
    style = plan_static_response(SITE, b"GET", b"/style.css", [])
    icon = plan_static_response(SITE, b"GET", b"/favicon.svg", [])
    assert style.header(b"content-type") == b"text/css; charset=utf-8"
    assert icon.header(b"content-type") == b"image/svg+xml"
    assert b"url(" not in (SITE / "style.css").read_bytes()
