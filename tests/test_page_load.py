"""What a page load asks the server for (dashboard/page_load.py): the assets Dash fingerprints
(``?m=<mtime>``) are kept by the browser, and the layout is requested from the page's head."""

from __future__ import annotations

import re

import pytest

from flowlog.dashboard import create_app
from flowlog.dashboard.page_load import YEAR_S, layout_preload_tag

LAYOUT_ENTRIES_JS = (
    "() => performance.getEntriesByType('resource')"
    ".filter(e => e.name.endsWith('/_dash-layout')).map(e => e.initiatorType)"
)


def asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/assets/[^"]+)"', html)


@pytest.fixture
def one_run(tmp_path):
    from flowlog.writer import SummaryWriter

    with SummaryWriter(logdir=tmp_path / "runs", run_name="r") as w:
        w.add_scalar("loss", 1.0, 0)
    return tmp_path / "runs"


def test_fingerprinted_assets_live_a_year_and_others_are_revalidated(tmp_path):
    client = create_app(tmp_path).server.test_client()
    urls = asset_urls(client.get("/").get_data(as_text=True))
    assert any(".css?" in u for u in urls) and any(".js?" in u for u in urls)
    assert all("?m=" in u for u in urls)
    for url in urls:
        cache = client.get(url).cache_control
        assert cache.max_age == YEAR_S and cache.immutable and not cache.no_cache, url
    plain = client.get(urls[0].split("?")[0])  # no fingerprint: a change must show at once
    assert plain.status_code == 200 and plain.cache_control.no_cache
    assert plain.cache_control.max_age in (None, 0)
    missing = client.get("/assets/no-such-file.js?m=1")
    assert missing.status_code == 404 and missing.cache_control.max_age is None


def test_the_page_head_preloads_the_layout(tmp_path):
    html = create_app(tmp_path).server.test_client().get("/").get_data(as_text=True)
    head = html.split("</head>")[0]
    assert html.count("_dash-layout") == 1 and layout_preload_tag("/") in head


@pytest.mark.browser
def test_a_second_page_load_asks_the_server_for_no_asset(page, dash_server, one_run):
    url = dash_server(one_run)
    asked = []
    page.on("request", lambda r: "/assets/" in r.url and asked.append(r.url))
    page.goto(url)
    page.wait_for_selector(".fl-chart .js-plotly-plot")
    first = list(asked)
    page.goto("about:blank")
    page.goto(url)
    page.wait_for_selector(".fl-chart .js-plotly-plot")
    # served from the browser's cache: no bytes over the wire (a 304 revalidation has some)
    sizes = page.evaluate(
        "() => performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('/assets/')).map(e => [e.name, e.transferSize])"
    )
    assert len(first) >= 10 and len(sizes) == len(first)
    assert [s for s in sizes if s[1] != 0] == []


@pytest.mark.browser
def test_the_renderer_is_answered_by_the_preloaded_layout(page, dash_server, one_run):
    """One layout request per page load, the head's: the renderer's fetch took its answer
    (a mismatch would show as a second request, and a console warning)."""
    url = dash_server(one_run)
    layouts, warnings = [], []
    page.on("request", lambda r: r.url.endswith("/_dash-layout") and layouts.append(r.url))
    page.on("console", lambda m: "preload" in m.text and warnings.append(m.text))
    for _ in range(2):  # a first visit, and one with the browser's cache warm
        layouts.clear()
        page.goto(url)
        page.wait_for_selector(".fl-chart .js-plotly-plot .scatterlayer .trace")
        assert page.evaluate(LAYOUT_ENTRIES_JS) == ["link"] and len(layouts) == 1
    page.wait_for_timeout(3500)  # Chromium warns of a preload left unused after ~3 s
    assert warnings == []
