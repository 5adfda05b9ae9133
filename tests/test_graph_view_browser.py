"""The Graph view in headless Chromium, on the run written by examples/nan_debugging.py.

One logdir is trained once per module (about a second); each test opens a fresh page on a
fresh server. Tests wait on DOM state, never on fixed sleeps.
"""

from __future__ import annotations

import importlib.util
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BROWSER_TIMEOUT_MS

from flowlog import render
from flowlog.reader import Logdir

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[1]
RUN = "nan_debugging"

FILLS = """() => Object.fromEntries([...document.querySelectorAll('#graph-canvas g.fl-node')]
    .map(g => [g.id, g.querySelector('ellipse, polygon, path')?.getAttribute('fill')]))"""
CLICK = """id => document.getElementById(id)
    .dispatchEvent(new MouseEvent('click', {bubbles: true}))"""


def _load_example():
    spec = importlib.util.spec_from_file_location(
        "nan_debugging", ROOT / "examples/nan_debugging.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def nan_logdir(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("nan") / "runs"
    assert _load_example().main(["--logdir", str(logdir)]) == 0
    return logdir


@pytest.fixture(scope="module")
def nan_run(nan_logdir):
    run = Logdir(nan_logdir).run(RUN)
    return {"desc": run.graph(), "numerics": run.numerics(), "watched": run.watched_nodes()}


def graph_page(browser, logdir):
    """One server on ``logdir`` and one page open on its Graph view, for a whole module."""
    from conftest import DashServer

    from flowlog.dashboard import create_app

    server = DashServer(create_app(logdir))
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    open_graph(page, server.url)
    yield page
    context.close()
    server.stop()


@pytest.fixture(scope="module")
def page(browser, nan_logdir):
    """Overrides conftest's ``page``: one server and page for the module. Loading the app takes
    seconds on a busy 2-core machine, so the tests share it (in file order: the first one checks
    the state the view opens in) and each sets up the state it checks."""
    yield from graph_page(browser, nan_logdir)


def open_graph(page, url):
    page.goto(url)
    page.locator(".tab", has_text="Graph").first.click()
    # first paint waits on every view's initial callbacks: generous on a loaded 2-core machine
    page.wait_for_selector("#graph-canvas svg g.fl-node", timeout=60_000)


def wait_fills_change(page, ids, old):
    """Wait until any of the nodes ``ids`` has a fill different from ``old``."""
    page.wait_for_function(
        "([ids, old]) => { const f = ("
        + FILLS
        + ")(); return ids.some((v, i) => f[v] !== old[i]); }",
        arg=[ids, list(old)],
    )


def panel_name(page, name):
    page.wait_for_function(
        "n => document.querySelector('#graph-panel .fl-graph-fullname')?.textContent === n",
        arg=name,
    )


def test_example_run_names_a_real_origin_node(nan_run):
    assert nan_run["numerics"], "examples/nan_debugging.py did not produce a non-finite value"
    origin = nan_run["numerics"][0]
    names = {n["name"] for n in nan_run["desc"]["nodes"]}
    assert origin["node"] in names
    assert origin["kind"] in ("nan", "inf") and origin["phase"] in ("forward", "backward")


def test_nan_origin_is_announced_and_marked_with_its_feeders(page, nan_run):
    origin = nan_run["numerics"][0]
    banner = page.locator("#graph-banner")
    banner.wait_for(state="visible")
    text = banner.inner_text()
    assert f"node {origin['node']}" in text and f"at step {origin['step']}" in text
    assert origin["phase"] in text
    # the origin node is drawn (its scope unfolded), marked, and selected in the panel
    classes = page.evaluate(
        "id => document.getElementById(id).getAttribute('class')", f"node:{origin['node']}"
    )
    assert "fl-marked" in classes
    panel_name(page, origin["node"])
    marked = set(
        page.eval_on_selector_all("#graph-canvas g.fl-marked", "els => els.map(e => e.id)")
    )
    feeders = render.feeders(nan_run["desc"], origin["node"])
    visible_feeders = {f"node:{f}" for f in feeders} & set(page.evaluate(FILLS))
    assert visible_feeders and visible_feeders <= marked
    # one click to the Scalars tab at that step
    page.click("#graph-jump-scalars")
    page.wait_for_function(
        "() => document.querySelector('.tab--selected')?.textContent.trim() === 'Scalars'"
    )
    # and back the way the Scalars view's NaN marker does it: FOCUS names a node and a step,
    # TABS switches to the graph, which redraws (tab content remounts) and follows the focus
    page.evaluate(
        """() => {
            window.dash_clientside.set_props('focus', {data: {run: 'nan_debugging', step: 3,
                                                              node: 'output/w'}});
            window.dash_clientside.set_props('view-tabs', {value: 'graph'});
        }"""
    )
    page.wait_for_selector("#graph-canvas svg g.fl-node", timeout=60_000)
    panel_name(page, "output/w")
    page.wait_for_function(
        "() => document.querySelector('#graph-step-label').textContent === 'step 3'"
    )


def test_clicking_a_variable_shows_its_structure_and_curves(page, nan_run):
    page.evaluate(CLICK, "node:hidden/w")
    panel_name(page, "hidden/w")
    panel = page.locator("#graph-panel")
    assert "Variable" in panel.inner_text() and "4×8" in panel.inner_text()
    # consumers are listed and clickable (navigates to that node)
    consumers = [n["name"] for n in nan_run["desc"]["nodes"] if "hidden/w" in n.get("inputs", [])]
    assert consumers
    for c in consumers:
        assert panel.get_by_role("button", name=c, exact=True).count() == 1
    # its curves: norms, mean±std, update ratio, value and gradient histograms, each drawn
    page.wait_for_function(
        "() => document.querySelectorAll('#graph-panel .fl-graph-curve .main-svg').length >= 5"
    )
    lines = page.locator("#graph-panel .fl-graph-curve .scatterlayer .trace").count()
    heatmaps = page.locator(
        "#graph-panel .fl-graph-curve .heatmaplayer image, #graph-panel .fl-graph-curve .hm"
    ).count()
    assert lines >= 4 and heatmaps >= 1
    plain = [c for c in consumers if not c.startswith(("gradients", "GradientDescent"))][0]
    panel.get_by_role("button", name=plain, exact=True).click()
    panel_name(page, plain)
    assert "watch(sess, every=N)" in page.locator("#graph-panel").inner_text()
    assert page.locator("#graph-panel .fl-graph-curve").count() == 0


def test_recolouring_by_statistic_and_step_changes_fills(page):
    variables = ["node:hidden/w", "node:hidden/b", "node:output/w", "node:output/b"]

    def var_fills():
        fills = page.evaluate(FILLS)
        return tuple(fills[v] for v in variables)

    # the last watched step: the weights are NaN by then, every node in the NaN colour
    page.locator("#graph-step [role=slider]").focus()
    page.keyboard.press("End")
    page.wait_for_function(
        "() => document.querySelector('#graph-step-label').textContent === 'step 30'"
    )
    page.wait_for_function(
        "ids => new Set(ids.map(v => (" + FILLS + ")()[v])).size === 1", arg=variables
    )
    at_nan = var_fills()
    # the first watched step (keyboard on the slider thumb): finite norms on a colour scale
    page.locator("#graph-step [role=slider]").focus()
    page.keyboard.press("Home")
    page.wait_for_function(
        "() => document.querySelector('#graph-step-label').textContent === 'step 0'"
    )
    wait_fills_change(page, variables, at_nan)
    at_step0 = var_fills()
    assert len(set(at_step0)) > 1 and not set(at_step0) & set(at_nan)
    # another statistic recolours again, and the legend names it
    page.locator("#graph-stat").click()
    page.get_by_role("option", name="value norm").click()
    wait_fills_change(page, variables, at_step0)
    # (the legend is HTML beside the drawing, not inside the SVG)
    assert "value norm, step 0" in page.locator("#graph-key").inner_text()


def test_focus_from_a_scalars_point_moves_the_step_and_selects(page):
    # a click on a loss curve point (no node) only moves the step; a NaN marker names a node
    page.evaluate(
        """() => window.dash_clientside.set_props('focus',
               {data: {run: 'nan_debugging', tag: 'loss', step: 7}})"""
    )
    page.wait_for_function(
        "() => document.querySelector('#graph-step-label').textContent === 'step 7'"
    )
    page.evaluate(
        """() => window.dash_clientside.set_props('focus',
               {data: {run: 'nan_debugging', tag: 'loss', step: 12, node: 'hidden/b'}})"""
    )
    panel_name(page, "hidden/b")
    page.wait_for_function(
        "() => document.querySelector('#graph-step-label').textContent === 'step 12'"
    )
    page.locator(".fl-graph-viewport g.fl-selected#node\\:hidden\\/b").wait_for()


def test_search_finds_a_node_inside_a_folded_scope(page, nan_run):
    target = next(
        n["name"] for n in nan_run["desc"]["nodes"] if n["name"].startswith("GradientDescent/")
    )
    assert page.evaluate("id => !document.getElementById(id)", f"node:{target}")  # folded away
    page.fill("#graph-search", target.upper())  # case-insensitive
    page.press("#graph-search", "Enter")
    page.wait_for_function(
        "id => document.getElementById(id)?.classList.contains('fl-selected')",
        arg=f"node:{target}",
    )
    panel_name(page, target)
    assert page.locator("#graph-search-status").inner_text().startswith(f"found {target}")
    page.fill("#graph-search", "no-such-node-anywhere")
    page.press("#graph-search", "Enter")
    page.wait_for_function(
        "() => document.querySelector('#graph-search-status').textContent.startsWith('no node')"
    )


def test_scopes_fold_from_the_panel_and_unfold_by_click(page, nan_run):
    # a GradientDescent node, reached by search (which unfolds its scope whatever came before)
    target = next(
        n["name"] for n in nan_run["desc"]["nodes"] if n["name"].startswith("GradientDescent/")
    )
    page.fill("#graph-search", target)
    page.press("#graph-search", "Enter")
    panel_name(page, target)
    page.wait_for_function("id => !!document.getElementById(id)", arg=f"node:{target}")
    page.locator("#graph-panel").get_by_role("button", name="fold GradientDescent").click()
    page.wait_for_selector("[id='scope:GradientDescent']")
    assert page.evaluate("id => !document.getElementById(id)", f"node:{target}")
    page.evaluate(CLICK, "scope:GradientDescent")
    page.wait_for_function(
        "() => !document.getElementById('scope:GradientDescent') && "
        "[...document.querySelectorAll('#graph-canvas g.fl-node')]"
        ".some(g => g.id.startsWith('node:GradientDescent/'))"
    )


def test_zoom_and_pan_move_the_drawing(page):
    transform = "() => document.querySelector('.fl-graph-viewport').style.transform"
    page.click("#graph-zoom-reset")
    start = page.evaluate(transform)
    box = page.locator("#graph-canvas").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.wheel(0, -400)
    page.wait_for_function(f"t => ({transform})() !== t", arg=start)
    zoomed = page.evaluate(transform)
    # dragging from a corner away from the zoom buttons (top-left) pans the drawing
    x0, y0 = box["x"] + box["width"] - 15, box["y"] + box["height"] - 15
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 - 120, y0 - 80, steps=5)
    page.mouse.up()
    page.wait_for_function(f"t => ({transform})() !== t", arg=zoomed)
    page.click("#graph-zoom-reset")
    page.wait_for_function(f"t => ({transform})() === t", arg=start)
    page.click("#graph-zoom-in")
    page.wait_for_function(f"t => ({transform})() !== t", arg=start)


def test_svg_download_equals_the_cli_export(page, nan_run, tmp_path):
    # a non-default fold state: GradientDescent open (search unfolds the scope of what it finds)
    target = next(
        n["name"] for n in nan_run["desc"]["nodes"] if n["name"].startswith("GradientDescent/")
    )
    page.fill("#graph-search", target)
    page.press("#graph-search", "Enter")
    page.wait_for_function("id => !!document.getElementById(id)", arg=f"node:{target}")
    page.wait_for_function(
        "() => !document.querySelector('#graph-cli').textContent.includes('GradientDescent')"
    )
    with page.expect_download() as info:
        page.click("#graph-download-btn")
    downloaded = Path(info.value.path()).read_bytes()
    # the command shown under the graph, run for real, writes the same bytes
    argv = shlex.split(page.locator("#graph-cli").inner_text())
    assert argv[:2] == ["flowlog", "export-graph"]
    out = tmp_path / "cli.svg"
    argv[argv.index("-o") + 1] = str(out)
    cli = [str(Path(sys.executable).parent / "flowlog"), *argv[1:]]
    subprocess.run(cli, check=True, capture_output=True, timeout=60)
    assert downloaded == out.read_bytes()
    # ... which is what the view shows: its folds, its colouring at the step, the NaN marks
    assert "--color-by" in argv and "--step" in argv and "--mark-nan" in argv
    assert b"fl&#45;marked" in downloaded and b"@ step" in downloaded  # dot writes - as &#45;
    assert b"GradientDescent/" in downloaded
