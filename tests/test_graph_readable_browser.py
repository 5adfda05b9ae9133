"""The Graph view read at a glance, in headless Chromium: labels readable after a fit at both
screen sizes, a real HTML legend with the true shapes, folding that keeps the user's place,
search with next/previous, and an empty state that says what to log.

One logdir (examples/nan_debugging.py and examples/linear_regression.py, short) and one server
for the module; each viewport gets its own page. Tests wait on DOM state, never on sleeps.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from urllib.parse import unquote

import pytest
from conftest import BROWSER_TIMEOUT_MS, DashServer, run_nan_example

from flowlog.dashboard import create_app
from flowlog.writer import SummaryWriter

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[1]
NAN = "nan_debugging"
LINEAR = "linear_regression/lr=0.1"
# a node only each run has: its drawing is on screen once this id is
MARKER = {NAN: "node:hidden/w", LINEAR: "node:model/w"}
SIZES = [(1400, 1000), (1024, 768)]

LABELS = """() => {
  const texts = [...document.querySelectorAll(
    '#graph-canvas g.fl-node text, #graph-canvas g.fl-scope text')];
  return texts.map(t => ({
    box: t.getBoundingClientRect().height,
    font: parseFloat(t.getAttribute('font-size')) * t.getScreenCTM().a,
  }));
}"""
# centre of an element relative to the canvas (the page may scroll to reach the panel)
CENTRE = """id => { const e = document.getElementById(id); if (!e) return null;
  const r = e.getBoundingClientRect();
  const c = document.getElementById('graph-canvas').getBoundingClientRect();
  return [r.left + r.width / 2 - c.left, r.top + r.height / 2 - c.top]; }"""


def _example(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / f"examples/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    logdir = run_nan_example(tmp_path_factory.mktemp("readable") / "runs")
    _example("linear_regression").main(["--logdir", str(logdir), "--steps", "40"])
    srv = DashServer(create_app(logdir))
    yield srv
    srv.stop()


def open_page(browser, url, size):
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    page.goto(url)
    page.locator(".tab", has_text="Graph").first.click()
    page.wait_for_selector("#graph-canvas svg g.fl-node", timeout=60_000)
    return context, page


@pytest.fixture(scope="module", params=SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def sized_page(request, browser, server):
    context, page = open_page(browser, server.url, request.param)
    yield page
    context.close()


@pytest.fixture(scope="module")
def page(browser, server):
    context, page = open_page(browser, server.url, (1024, 768))
    yield page
    context.close()


def show_run(page, run):
    """Choose ``run`` unless it is on screen (choosing it again reloads it, racing the test)."""
    if page.evaluate("() => document.querySelector('#graph-run').innerText.trim()") != run:
        page.evaluate("r => window.dash_clientside.set_props('graph-run', {value: r})", run)
        page.wait_for_function("id => !!document.getElementById(id)", arg=MARKER[run])


@pytest.mark.parametrize("run", [NAN, LINEAR])
def test_every_label_is_readable_after_the_fit(sized_page, run):
    show_run(sized_page, run)
    sized_page.click("#graph-zoom-reset")
    labels = sized_page.evaluate(LABELS)
    assert len(labels) > 10
    assert min(lab["box"] for lab in labels) >= 10, labels
    assert min(lab["font"] for lab in labels) >= 10
    # the canvas has the room: the side panel does not squeeze it to a strip
    width = sized_page.evaluate("() => document.getElementById('graph-canvas').clientWidth")
    assert width >= 600


def test_zoom_redraws_the_vector_graph_crisp(page):
    show_run(page, LINEAR)
    page.click("#graph-zoom-reset")
    before = page.evaluate(LABELS)[0]["font"]
    page.click("#graph-zoom-in")
    page.wait_for_function(
        "f => (" + LABELS + ")()[0].font > f * 1.2", arg=before
    )  # the SVG itself grew: no bitmap scaled by a CSS transform
    assert "scale" not in page.evaluate(
        "() => document.querySelector('.fl-graph-viewport').style.transform"
    )


def test_legend_is_html_with_the_true_shapes(page):
    show_run(page, NAN)
    items = page.evaluate(
        """() => [...document.querySelectorAll('#graph-key .fl-legend-item[data-kind]')]
           .map(i => [i.dataset.kind, i.querySelector('img')?.getAttribute('src') || ''])"""
    )
    icons = dict(items)
    kinds = [k for k in ("op", "variable", "placeholder", "constant", "optimizer") if k in icons]
    assert len(kinds) >= 4
    svgs = {k: unquote(icons[k]) for k in kinds}
    assert len(set(svgs.values())) == len(kinds)  # every kind its own picture
    assert "<ellipse" in svgs["variable"] and 'rx="5"' in svgs["op"]
    assert "<polygon" in svgs["placeholder"]
    # not inside the drawing: it keeps its size whatever the zoom
    assert page.evaluate("() => !document.querySelector('#graph-canvas .fl-legend')")
    # the colour scale has numbers on it
    ticks = page.locator("#graph-key .fl-legend-tick").all_inner_texts()
    assert len(ticks) >= 2 and all(t.strip() for t in ticks)


def test_unfolding_keeps_the_clicked_scope_under_the_cursor(page):
    show_run(page, NAN)
    page.wait_for_selector("[id='scope:gradients']")
    page.click("#graph-zoom-all")  # the whole graph in view, so a real click can reach it
    page.locator("#graph-canvas").scroll_into_view_if_needed()
    x, y = page.evaluate(CENTRE, "scope:gradients")
    box = page.locator("#graph-canvas").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    page.wait_for_function("() => !!document.getElementById('cluster:gradients')")
    x2, y2 = page.evaluate(CENTRE, "cluster:gradients")
    assert abs(x2 - x) <= 3 and abs(y2 - y) <= 3


def test_folding_from_the_panel_keeps_the_place_and_shows_the_scope(page):
    show_run(page, NAN)
    page.evaluate(
        "id => document.getElementById(id).dispatchEvent(new MouseEvent('click', {bubbles: true}))",
        "node:hidden/w",
    )
    page.wait_for_function(
        "() => document.querySelector('#graph-panel .fl-graph-fullname')?.textContent"
        " === 'hidden/w'"
    )
    x, y = page.evaluate(CENTRE, "node:hidden/w")
    page.locator("#graph-panel").get_by_role("button", name="fold hidden", exact=True).click()
    page.wait_for_selector("[id='scope:hidden']")
    x2, y2 = page.evaluate(CENTRE, "scope:hidden")
    assert abs(x2 - x) <= 3 and abs(y2 - y) <= 3
    # the panel describes what is drawn: the folded scope, not the node hidden inside it
    page.wait_for_function(
        "() => document.querySelector('#graph-panel .fl-graph-fullname')?.textContent === 'hidden'"
    )
    assert "fl-selected" in page.evaluate(
        "() => document.getElementById('scope:hidden').getAttribute('class')"
    )


def test_search_steps_through_matches_and_zooms_to_them(page):
    show_run(page, NAN)
    toolbar = "() => document.querySelector('.fl-graph-toolbar').getBoundingClientRect().height"
    height = page.evaluate(toolbar)
    page.fill("#graph-search", "MatMul")
    page.press("#graph-search", "Enter")
    status = page.locator("#graph-search-status")
    page.wait_for_function(
        "() => /^1 of \\d+: /.test(document.getElementById('graph-search-status').textContent)"
    )
    first = status.inner_text().split(": ", 1)[1]
    assert page.evaluate(toolbar) == height  # the status never wraps the toolbar
    page.click("#graph-search-next")
    page.wait_for_function(
        "() => document.getElementById('graph-search-status').textContent.startsWith('2 of')"
    )
    second = status.inner_text().split(": ", 1)[1]
    assert second != first
    page.wait_for_function(
        "n => document.querySelector('#graph-panel .fl-graph-fullname')?.textContent === n",
        arg=second,
    )
    # the found node is drawn at a readable size and inside the canvas (once the view has
    # scrolled to it: that happens after the panel updates)
    page.wait_for_function(
        """id => { const g = document.getElementById(id); if (!g) return false;
                   const t = g.querySelector('text');
                   const font = parseFloat(t.getAttribute('font-size')) * t.getScreenCTM().a;
                   const r = g.getBoundingClientRect();
                   const c = document.getElementById('graph-canvas').getBoundingClientRect();
                   return font >= 10 && r.left >= c.left && r.right <= c.right &&
                          r.top >= c.top && r.bottom <= c.bottom; }""",
        arg=f"node:{second}",
    )
    page.click("#graph-search-prev")
    page.wait_for_function(
        "n => document.getElementById('graph-search-status').textContent === '1 of ' +"
        " document.getElementById('graph-search-status').textContent.split(' of ')[1]"
        ".split(':')[0] + ': ' + n",
        arg=first,
    )


def test_without_a_graph_the_view_says_what_to_log(browser, tmp_path):
    logdir = tmp_path / "runs"
    with SummaryWriter(logdir=logdir, run_name="scalars-only") as w:
        w.add_scalar("loss", 1.0, 0)
    srv = DashServer(create_app(logdir))
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    try:
        page = context.new_page()
        page.set_default_timeout(BROWSER_TIMEOUT_MS)
        page.goto(srv.url)
        page.locator(".tab", has_text="Graph").first.click()
        message = page.locator("#graph-message")
        message.wait_for(state="visible", timeout=60_000)
        text = message.inner_text()
        assert "logged no graph" in text and "writer.add_graph" in text
        assert "No run in" in text  # and none of the runs has one
        assert page.locator("#graph-shown").is_hidden()  # no empty canvas and panel ...
        assert page.locator("#graph-search").is_hidden()  # ... nor controls with nothing in them
    finally:
        context.close()
        srv.stop()
