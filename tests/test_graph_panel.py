"""The Graph view's side panel and banner, and how the view wires its callbacks, without a
browser: components built from a real log (examples/nan_debugging.py) read through the
provider, and the callback list of a real app."""

from __future__ import annotations

import pytest
from conftest import run_nan_example
from dash import dcc, html

from flowlog.backends import open_logdir
from flowlog.dashboard import graph_model as gm
from flowlog.dashboard import graph_panel as gp
from flowlog.dashboard.views import graph as view

NAN = "nan_debugging"


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    return run_nan_example(tmp_path_factory.mktemp("nan") / "runs")


@pytest.fixture
def data(logdir):
    return open_logdir(logdir)


def walk(component):
    """Every component under ``component`` (itself included), depth first."""
    if isinstance(component, (list, tuple)):
        for c in component:
            yield from walk(c)
        return
    if component is None or isinstance(component, (str, int, float)):
        return
    yield component
    yield from walk(getattr(component, "children", None))


def text(component) -> str:
    parts = []
    for c in walk(component):
        kids = getattr(c, "children", None)
        kids = kids if isinstance(kids, (list, tuple)) else [kids]
        parts += [str(k) for k in kids if isinstance(k, (str, int, float))]
    return " ".join(parts)


def buttons(component) -> list:
    return [c.id for c in walk(component) if isinstance(c, html.Button)]


# ----------------------------------------------------------------------------- side panel
def test_a_watched_variable_shows_structure_links_and_its_history(data):
    origin = gm.first_numerics(data.numerics(NAN))
    panel = gp.panel_for(data, NAN, "hidden/w", origin)
    words = text(panel)
    assert "hidden/w" in words and "Variable" in words and "4×8" in words and "float64" in words
    assert "First non-finite" not in words  # the origin note is the origin's only
    ids = buttons(panel)
    assert {"type": "graph-nav", "node": "hidden/MatMul"} in ids  # a consumer, clickable
    assert {"type": "graph-fold", "scope": "hidden"} in ids
    curves = [c for c in walk(panel) if isinstance(c, dcc.Graph)]
    titles = [c.figure.layout.title.text for c in curves]
    assert len(curves) == 5 and titles[:1] == ["norms"]
    assert any("value histogram" in t for t in titles) and any(
        "grad histogram" in t for t in titles
    )
    assert all(c.style["height"].endswith("px") for c in curves)


def test_an_op_shows_its_structure_and_why_it_has_no_curves(data):
    origin = gm.first_numerics(data.numerics(NAN))
    panel = gp.panel_for(data, NAN, origin["node"], origin)
    words = text(panel)
    assert f"First non-finite value ({origin['kind']}, {origin['phase']})" in words
    assert "This node is an op, so only its structure is shown." in words
    assert not [c for c in walk(panel) if isinstance(c, dcc.Graph)]
    inputs = [i["name"] if isinstance(i, dict) else i for i in origin["inputs"]]
    assert {"type": "graph-nav", "node": inputs[0]} in buttons(panel)


def test_panel_hints_when_there_is_nothing_to_show(data):
    assert gp.panel_for(data, NAN, None, None).children == gp.HINT
    assert gp.panel_for(data, "no-such-run", "hidden/w", None).children == gp.HINT
    missing = gp.panel_for(data, NAN, "not/a/node", None)
    assert missing.children == "node 'not/a/node' is not in this run's graph"
    assert "is not in" in gp.panel_for(data, NAN, ["hidden/w"], None).children


def test_banner_links_the_origin_node():
    origin = {"node": "loss/Log", "phase": "forward", "step": 25, "kind": "inf"}
    parts = gp.banner(origin, "Log")
    assert parts[1].id == {"type": "graph-nav", "node": "loss/Log"}
    assert "".join(p for p in parts if isinstance(p, str)) == (
        "first non-finite value: node  (Log, forward) at step 25"
        " — inf; marked in red with everything that feeds it."
    )
    assert gp.banner(None, None) is None


def test_shapes_read_as_text():
    assert gp.fmt_shape(None) == "unknown rank"
    assert gp.fmt_shape([]) == "scalar"
    assert gp.fmt_shape([None, 4]) == "?×4"


# ----------------------------------------------------------------------------- wiring
@pytest.fixture
def callbacks(logdir):
    from flowlog.dashboard import create_app

    app = create_app(logdir)
    return [c for c in app._callback_list if "graph-" in c["output"]]


def _outputs(cb) -> list[str]:
    return [o for o in cb["output"].strip(".").split("...") if o]


def test_hidden_view_callbacks_wait_for_their_tab(callbacks):
    server = [c for c in callbacks if c["clientside_function"] is None]
    assert len(server) == 8
    assert all(c["prevent_initial_call"] for c in server)  # nothing runs while the page loads
    by_first = {_outputs(c)[0].split("@")[0]: c for c in server}
    for first in ("graph-run.options", "graph-loaded.data", "graph-svg.data"):
        assert "view-tabs" in [i["id"] for i in by_first[first]["inputs"]], first


def test_load_outputs_follow_the_callbacks_output_order(callbacks, data):
    (load,) = [c for c in callbacks if _outputs(c)[0] == "graph-loaded.data"]
    outputs = _outputs(load)
    opened = gm.open_run(data, NAN, None, gm.Shown(), on_tab_or_focus=True)
    values = dict(zip(outputs, view.load_outputs(opened), strict=True))
    assert values["graph-loaded.data"] == opened.loaded
    assert values["graph-steps.data"] == opened.steps
    assert values["graph-step.max"] == len(opened.steps) - 1
    assert values["graph-step.value"] == opened.step_index
    assert values["graph-step.disabled"] is False
    assert values["graph-numerics.data"] == opened.origin
    assert values["graph-banner.hidden"] is False
    assert values["graph-banner-text.children"][1].id["node"] == opened.origin["node"]
    assert {"label": "hidden", "value": "hidden"} in values["graph-folded.options"]
    assert values["graph-folded.value"] == opened.folded
    assert values["graph-selected.data"] == opened.origin["node"]
    assert values["graph-flow.figure"] is opened.flow
    assert values["graph-message.children"] is None
    empty = dict(zip(outputs, view.load_outputs(gm.Opened.nothing("x", "f", "m")), strict=True))
    assert empty["graph-banner.hidden"] is True and empty["graph-step.disabled"] is True
    assert empty["graph-message.children"] == "m" and empty["graph-banner-text.children"] is None


def test_navigation_events_from_trigger_ids():
    assert view.nav_event(view.CLICK, {"id": "node:a"}, "q") == ("click", {"id": "node:a"})
    assert view.nav_event(view.SEARCH, None, "q") == ("search", "q")
    assert view.nav_event({"type": view.NAV, "node": "a"}, None, None) == ("nav", "a")
    assert view.nav_event({"type": view.FOLD, "scope": "s"}, None, None) == ("fold", "s")
    assert view.nav_event("other", None, None) == ("", None)


def test_panel_shows_the_folded_scope_that_hides_the_selection(data):
    panel = gp.panel_for(data, NAN, "hidden/w", None, ["GradientDescent", "hidden"])
    names = [c.children for c in panel if getattr(c, "className", "") == "fl-graph-fullname"]
    assert names == ["hidden"]  # the scope drawn, not the node it hides
    assert {"type": "graph-nav", "node": "hidden/w"} in buttons(panel)  # opens it on the node
    drawn = gp.panel_for(data, NAN, "hidden/w", None, ["GradientDescent"])
    assert "hidden/w" in [
        c.children for c in drawn if getattr(c, "className", "") == "fl-graph-fullname"
    ]
