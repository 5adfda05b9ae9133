"""Nothing from the log executes in the browser; no request reads outside the logdir's runs.

Names are chosen to break naive HTML/SVG/JS handling. The browser tests drive the real Graph
view in headless Chromium; the server tests post to Dash's callback endpoint directly, as an
attacker with a crafted request would.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from flowlog.writer import SummaryWriter

IMG = "<img src=x onerror=window.__pwned=1>"
SCRIPT_TAG = "<script>window.__pwned=2</script>"
SCOPED = "evil/</text><script>window.__pwned=3</script>"
QUOTES = "q\"uo'te &amp; & \\back"  # an entity-looking name must stay literal
SECRET = "flowlog-secret-outside-logdir"

EVIL_GRAPH = {
    "nodes": [
        {"name": IMG, "op": "Placeholder", "inputs": [], "kind": "placeholder"},
        {"name": QUOTES, "op": "Variable", "inputs": [], "kind": "variable"},
        {"name": SCOPED, "op": "Add\"><svg onload=window.__pwned=4>", "inputs": [IMG, QUOTES],
         "attrs": {"note": "<b onmouseover=window.__pwned=5>x</b>"}},
    ]
}  # fmt: skip


@pytest.fixture
def evil_logdir(tmp_path):
    logdir = tmp_path / "logs"
    w = SummaryWriter(logdir=logdir, run_name="evil")
    w.add_graph(EVIL_GRAPH)
    for step in range(3):
        w.add_scalar(SCRIPT_TAG, float(step), step)
    w.close()
    # a file next to the logdir that no request may reach
    (tmp_path / "secret.flowlog.db").write_text(SECRET)
    (tmp_path / "secret.txt").write_text(SECRET)
    return logdir


def _open_graph_tab(page, url):
    page.goto(url)
    page.locator(".tab", has_text="Graph").first.click()
    # first paint waits on every view's initial callbacks: generous on a loaded 2-core machine
    page.wait_for_selector("#graph-canvas svg g.fl-node", timeout=60_000)


def _not_pwned(page):
    assert page.evaluate("window.__pwned === undefined"), "script from the log executed"


@pytest.mark.browser
def test_names_from_the_log_never_execute(page, dash_server, evil_logdir):
    url = dash_server(evil_logdir)
    _open_graph_tab(page, url)
    # every node is drawn, as text, with its full name as the element id
    ids = page.eval_on_selector_all("#graph-canvas g.fl-node", "els => els.map(e => e.id)")
    assert {f"node:{IMG}", f"node:{QUOTES}"} <= set(ids)
    assert (
        page.locator("#graph-canvas img, #graph-canvas script, #graph-canvas iframe").count() == 0
    )
    handlers = page.evaluate(
        """() => [...document.querySelectorAll('#graph-canvas *')]
              .flatMap(e => [...e.attributes].map(a => a.name))
              .filter(n => n.toLowerCase().startsWith('on'))"""
    )
    assert handlers == []
    # open the evil node's panel: its name, op and attrs show as literal text
    page.evaluate(
        "id => document.getElementById(id).dispatchEvent(new MouseEvent('click', {bubbles: true}))",
        f"node:{SCOPED}",
    )
    panel = page.locator("#graph-panel")
    panel.locator(".fl-graph-fullname").wait_for()
    assert panel.locator(".fl-graph-fullname").inner_text() == SCOPED
    assert "<svg onload=window.__pwned=4>" in panel.inner_text()
    assert "onmouseover" in panel.inner_text()
    assert panel.locator("img, script, svg[onload], b").count() == 0
    # navigate through a link named like an <img> tag, and search for a script-like string
    panel.get_by_role("button", name=IMG).click()
    page.wait_for_function(
        "n => document.querySelector('#graph-panel .fl-graph-fullname')?.textContent === n", arg=IMG
    )
    page.fill("#graph-search", "<script>")
    page.press("#graph-search", "Enter")
    page.wait_for_function(
        "() => document.querySelector('#graph-search-status').textContent.startsWith('found')"
    )
    page.locator(".fl-graph-viewport g.fl-selected").wait_for()
    # the Scalars tab shows the script-like tag; hovering/clicking around must not run it
    page.locator(".tab", has_text="Scalars").first.click()
    page.locator(".tab", has_text="Graph").first.click()
    page.wait_for_selector("#graph-canvas svg g.fl-node")
    page.mouse.move(700, 400)
    _not_pwned(page)


# ------------------------------------------------------------------------------ server side
def _dependencies(url):
    with urllib.request.urlopen(url + "_dash-dependencies") as r:
        return json.load(r)


def _post_callback(url, dep, values):
    """Post one callback request like the renderer would, with ``values`` for inputs/state."""

    def spec(item):
        cid = item["id"]
        try:
            cid = json.loads(cid)
        except ValueError:
            pass
        if isinstance(cid, dict):  # pattern-matching inputs: no such components -> empty list
            return []
        key = f"{item['id']}.{item['property']}"
        return {"id": cid, "property": item["property"], "value": values.get(key)}

    outputs = dep["output"]
    body = {
        "output": outputs,
        "outputs": [
            {"id": o.split(".")[0], "property": o.split(".", 1)[1].split("@")[0]}
            for o in outputs.strip(".").split("...")
            if o
        ]
        if outputs.startswith("..")
        else {"id": outputs.split(".")[0], "property": outputs.split(".", 1)[1].split("@")[0]},
        "inputs": [spec(i) for i in dep["inputs"]],
        "state": [spec(s) for s in dep["state"]],
        "changedPropIds": [f"{i['id']}.{i['property']}" for i in dep["inputs"][:1]],
    }
    req = urllib.request.Request(
        url + "_dash-update-component",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


EVIL_RUNS = [
    "../secret",
    "../../../../etc/passwd",
    "/etc/passwd",
    "..%2Fsecret",
    "evil/../../secret",
    "../secret.txt",
]


@pytest.mark.parametrize("evil", EVIL_RUNS)
def test_no_run_name_from_the_client_reads_outside_the_logdir(dash_server, evil_logdir, evil):
    url = dash_server(evil_logdir)
    deps = [
        d
        for d in _dependencies(url)
        if d.get("clientside_function") is None
        and any(str(i["id"]).startswith("graph-") for i in d["inputs"] + d["state"])
    ]
    assert len(deps) >= 5  # run chooser, load, draw, panel, navigate, download, jump
    sane = {
        "graph-folded.value": ["evil", "../secret"],
        "graph-stat.value": "grad_norm",
        "graph-step.value": 0,
        "graph-steps.data": [0],
        "graph-selected.data": "../secret",
        "graph-click.data": {"id": "node:../secret"},
        "graph-search.value": "secret",
        "graph-download-btn.n_clicks": 1,
        "graph-jump-scalars.n_clicks": 1,
        "view-tabs.value": "graph",  # the view only works while its tab is shown
    }
    # control: the same crafted request with the real run name does draw the graph
    (draw,) = [d for d in deps if "graph-svg.data" in d["output"]]
    status, text = _post_callback(url, draw, {**sane, "graph-run.value": "evil"})
    assert status == 200 and "<svg" in json.loads(text)["response"]["graph-svg"]["data"]["svg"]
    for dep in deps:
        status, text = _post_callback(url, dep, {**sane, "graph-run.value": evil})
        assert status in (200, 204), (dep["output"], status, text[:300])
        assert SECRET not in text and "root:x:0:0" not in text, dep["output"]
        if "graph-svg.data" in dep["output"]:
            assert json.loads(text)["response"]["graph-svg"]["data"]["svg"] == ""
        if "graph-download.data" in dep["output"]:
            assert status == 204  # nothing to download for a run that is not in the logdir


def test_only_discovered_runs_are_read(evil_logdir):
    """The view's plain functions look names up through the provider: a path-like name, an
    empty one or a non-string from a crafted request is no run, and reads nothing."""
    from flowlog.backends import open_logdir
    from flowlog.dashboard import graph_model as gm
    from flowlog.dashboard import graph_panel as gp

    data = open_logdir(evil_logdir)
    assert gm.graph_or_none(data, "evil") is not None
    for evil in [*EVIL_RUNS, "", None, 3, ["evil"], {"name": "evil"}]:
        assert gm.graph_or_none(data, evil) is None
        opened = gm.open_run(data, evil, None, gm.Shown(), on_tab_or_focus=False)
        assert opened.steps == [] and opened.origin is None and opened.selected is None
        assert SECRET not in (opened.message or "")
        assert gm.draw(data, evil, ["evil"], "grad_norm", 0, None, [0]).svg["svg"] == ""
        assert gm.download(data, evil, []) is None
        assert gm.follow(data, evil, [], 0) is None
        assert gp.panel_for(data, evil, IMG, None).children == gp.HINT
