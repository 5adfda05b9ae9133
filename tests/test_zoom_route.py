"""The Scalars zoom route (dashboard/zoom_route.py) on a real logdir, without a browser: the
same figure and state as the chart's own build, and clear answers to bodies that are not a
request. (The browser side: test_dashboard.py's zoom tests; hostile values:
test_dashboard_hostile.py.)"""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from conftest import write_two_runs
from plotly.io.json import to_json_plotly

from flowlog.dashboard import create_app, zoom_route
from flowlog.dashboard.serve import TokenAuth

TAG = "loss/train"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return create_app(write_two_runs(tmp_path_factory.mktemp("zoom") / "runs"))


def request_of(app, zoom, state=None) -> dict:
    """The body the page's clientside zoom posts for ``TAG`` (every run, default controls)."""
    from flowlog.dashboard import runs_panel

    info = runs_panel.discover(app.flowlog_context, 0)[0]
    names = [r["name"] for r in info]
    if state is None:
        view = app.flowlog_context.extra["scalars"]
        state = view.build(TAG, info, names, 0.6, "step", [], "none", None, None)[1]
        state["visible"] = "1"
    controls = dict(selected=names, weight=0.6, xmode="step", logs=[], gmode="none", gkey=None,
                    ranks="each", zoom=zoom, visible="1", focus=None)  # fmt: skip
    return {"controls": controls, "id": {"type": "sc-graph", "tag": TAG}, "state": state,
            "info": info}  # fmt: skip


def post(client, body):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/" + zoom_route.ROUTE, data=raw, content_type="application/json")


def decode(spec) -> np.ndarray:
    dtype = {"i4": "<i4", "f8": "<f8"}[spec["dtype"]]
    return np.frombuffer(base64.b64decode(spec["bdata"]), dtype)


def test_a_zoom_answers_the_charts_own_build_at_the_window(app):
    from flowlog.dashboard.views.scalars import ZOOM, build_chart

    body = request_of(app, {"xaxis.range[0]": 1000, "xaxis.range[1]": 1600})
    r = post(app.server.test_client(), body)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    got = r.get_json()
    assert got["state"]["range"] == [1000, 1600]
    smoothed = [t for t in got["figure"]["data"] if (t.get("meta") or [])[3:4] == ["smooth"]]
    assert [t["name"] for t in smoothed] == ["alpha", "beta"]
    # every point: each finite step on the line, alpha's NaN at 1500 as its marker (a one-step
    # gap is narrower than a bucket here: the line runs on past it, scalars_markers.line_keep)
    every = [s for s in range(1000, 1601) if s != 1500]
    assert decode(smoothed[0]["x"]).tolist() == every
    assert decode(smoothed[1]["x"]).tolist() == list(range(1000, 1601))
    (nan,) = [t for t in got["figure"]["data"] if t["name"] == "alpha non-finite"]
    assert decode(nan["x"]).tolist() == [1500]
    view = app.flowlog_context.extra["scalars"]
    c = body["controls"]
    fig, state = build_chart(view, c, {"type": ZOOM}, body["id"], body["state"], body["info"])
    own = json.loads(to_json_plotly(fig))
    assert [t.get("y") for t in got["figure"]["data"]] == [t.get("y") for t in own["data"]]
    assert got["figure"]["layout"]["xaxis"]["range"] == [1000, 1600]


def test_a_zoom_that_changes_nothing_drawn_says_unchanged(app):
    client = app.server.test_client()
    zoom = {"xaxis.range[0]": 1000, "xaxis.range[1]": 1600}
    state = post(client, request_of(app, zoom)).get_json()["state"]
    again = post(client, request_of(app, zoom, state))
    assert again.status_code == 200 and again.get_json() == {"unchanged": True}
    reset = post(client, request_of(app, {"xaxis.autorange": True}, state)).get_json()
    assert reset["state"]["range"] is None  # back to the whole range


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"{", 400, "body is not JSON"),
        (b"\xff\xfe", 400, "body is not JSON"),
        (b"[1, 2]", 400, "body must be a JSON object, got list"),
        (b"x" * (zoom_route.MAX_BODY + 1), 413, "over the"),
    ],
)
def test_a_body_that_is_not_a_request_is_refused_with_why(app, body, status, says):
    r = post(app.server.test_client(), body)
    assert r.status_code == status and says in r.get_data(as_text=True)


def test_the_route_needs_the_dashboards_access_token(app):
    from werkzeug.test import Client

    client = Client(TokenAuth(app.server.wsgi_app, "s3cret", 8050))
    body = json.dumps(request_of(app, {"xaxis.range[0]": 10, "xaxis.range[1]": 20})).encode()
    plain = client.post("/" + zoom_route.ROUTE, data=body, content_type="application/json")
    assert plain.status_code == 401
    ok = client.post("/" + zoom_route.ROUTE, data=body, content_type="application/json",
                     headers={"Authorization": "Bearer s3cret"})  # fmt: skip
    assert ok.status_code == 200 and ok.get_json()["state"]["range"] == [10, 20]
