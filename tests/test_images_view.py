"""The Images view and its image route: logged PNGs served by URL with caching (never inlined
in a callback's JSON), side by side per run, a step slider, a full-size overlay.

The route through Flask's test client on real logs (exact bytes, pixels, ETag / 304, 404 and
400), the plain functions, the callbacks through the real server with hostile requests, and
the page in headless Chromium.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from conftest import BROWSER_TIMEOUT_MS, DashServer
from test_dashboard_hostile import GENERIC, Crafted, post

from flowlog.dashboard import image_route, media_tags, tab_gate
from flowlog.dashboard import images_data as imd
from flowlog.dashboard.views import images as view
from flowlog.provider import ImageInfo, ReadError
from flowlog.writer import SummaryWriter

RUNS = f"{tab_gate.runs_info(view.TAB_ID)}.data"  # the view's copy of the runs

H, W = 32, 48  # the logged images' height and width
STEPS = (0, 10, 20)


def pixels(run_index: int, step: int) -> np.ndarray:
    """The RGB uint8 (H, W, 3) image a run logs at a step (different per run and step)."""
    y, x = np.mgrid[0:H, 0:W]
    img = np.stack([x * 5 + step, y * 7 + 40 * run_index, (x + y + step) % 256], -1)
    return (img % 256).astype(np.uint8)


def write_images(logdir):
    """alpha and beta: 'samples' (HWC RGB) at STEPS, a text tag; alpha: 'boxes' with labels."""
    for i, name in enumerate(("alpha", "beta")):
        with SummaryWriter(logdir=logdir, run_name=name) as w:
            for s in STEPS:
                w.add_image("samples", pixels(i, s), s, dataformats="HWC")
            w.add_text("notes", "not an image", 0)
            if i == 0:
                boxes = np.array([[2, 2, 20, 20], [10, 5, 40, 30]])
                w.add_image_with_boxes("boxes", pixels(0, 0), boxes, 0, dataformats="HWC",
                                       labels=["cat", "dog <b>"])  # fmt: skip
    return logdir


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    return write_images(tmp_path_factory.mktemp("images") / "runs")


@pytest.fixture(scope="module")
def app(logdir):
    from flowlog.dashboard import create_app

    return create_app(logdir, reload_interval=0.5)


def _url(run="alpha", tag="samples", step="10", v="x") -> str:
    from urllib.parse import urlencode

    return f"/{imd.ROUTE}?" + urlencode({"run": run, "tag": tag, "step": step, "v": v})


# ------------------------------------------------------------------------------ the route
def test_the_route_serves_the_exact_png_the_provider_holds(app):
    from PIL import Image

    client = app.server.test_client()
    data = app.flowlog_context.data
    for i, run in enumerate(("alpha", "beta")):
        for s in STEPS:
            r = client.get(_url(run, "samples", str(s)))
            assert r.status_code == 200 and r.mimetype == "image/png"
            assert r.data == data.image_png(run, "samples", s)
            got = np.asarray(Image.open(io.BytesIO(r.data)).convert("RGB"))
            assert got.shape == (H, W, 3) and np.array_equal(got, pixels(i, s))
            assert r.headers["Cache-Control"] == "private, max-age=31536000, immutable"
            assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_a_matching_etag_gets_a_304(app):
    import hashlib

    client = app.server.test_client()
    first = client.get(_url())
    etag = first.headers["ETag"]
    assert etag == f'"{hashlib.sha1(first.data).hexdigest()}"'
    again = client.get(_url(), headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == image_route.CACHE_FOREVER
    other = client.get(_url(), headers={"If-None-Match": '"0123"'})
    assert other.status_code == 200 and other.data == first.data


@pytest.mark.parametrize(
    ("query", "status", "says"),
    [
        (_url(run="ghost"), 404, "no run named 'ghost'"),
        (_url(tag="nope"), 404, "run 'alpha' has no image tag 'nope'"),
        (_url(tag="notes"), 404, "run 'alpha' has no image tag 'notes'"),  # a text tag
        (_url(step="11"), 404, "run 'alpha': tag 'samples' has no image at step 11"),
        (_url(step="x"), 400, "bad step 'x': expected an integer"),
        (_url(step="1.5"), 400, "bad step '1.5'"),
        (_url(step="+1"), 400, "bad step '+1'"),
        (_url(step="99999999999999999999"), 400, "bad step"),
        (f"/{imd.ROUTE}?run=alpha&tag=samples", 400, "bad step ''"),
        (f"/{imd.ROUTE}?tag=samples&step=1", 400, "missing run"),
        (f"/{imd.ROUTE}?run=alpha&step=1", 400, "missing tag"),
        (f"/{imd.ROUTE}?" + "&".join(f"k{i}=1" for i in range(20)), 400, "bad query"),
        (_url(run="../../etc/passwd"), 404, "no run named '../../etc/passwd'"),
    ],
)
def test_unknown_names_are_404_and_bad_steps_400_with_a_short_reason(app, query, status, says):
    r = app.server.test_client().get(query)
    assert r.status_code == status
    assert r.mimetype == "text/plain" and says in r.get_data(as_text=True)
    assert len(r.data) < 300 and r.headers["Cache-Control"] == "no-store"


def test_a_run_that_cannot_be_read_is_a_503_naming_it():
    class Damaged:
        def tags(self, run, kind=None):
            return {"samples": None}

        def image_png(self, run, tag, step):
            raise ReadError(f"run {run!r} (/x/flowlog.db) cannot be read: disk I/O error")

        def change_token(self, run):
            raise ReadError("still unreadable")

    reply = image_route.answer(Damaged(), b"run=bad&tag=samples&step=1")
    assert reply.status == 503
    assert reply.body == b"run 'bad' cannot be read: disk I/O error"  # no path


# ------------------------------------------------------------------------- plain functions
def test_urls_round_trip_every_name():
    for run, tag in [("a b&c=d+e/f?#%", "x/y z"), ("caf\u00e9 \u2603", "t"),
                     ("bad-\udcff-bytes", "t\udc80")]:  # fmt: skip
        url = imd.image_url("/p", run, tag, 7, "v1")
        assert url.isascii()
        args = imd.parse_query(url.split("?", 1)[1].encode())
        assert args == {"run": run, "tag": tag, "step": "7", "v": "v1"}
    assert imd.parse_step("-3") == -3 and imd.parse_step(str(2**63 - 1)) == 2**63 - 1
    for bad in ("", " 1", "1_0", "+1", "0x1", "1e3", str(2**63), None, 5):
        assert imd.parse_step(bad) is None


def test_tiny_images_are_scaled_up_by_whole_factors_large_ones_not():
    assert imd.display_scale(28, 28) == 5 and imd.shown_width(28, 28) == 140
    assert imd.display_scale(32, 48) == 3 and imd.display_scale(1, 1) == imd.MAX_SCALE
    assert imd.display_scale(64, 64) == 2 and imd.display_scale(480, 640) == 1
    assert imd.display_scale(10, 5000) == 1


def test_labels_of_hostile_meta():
    assert imd.labels_of(None) == ([], 0) and imd.labels_of({"labels": "x"}) == ([], 0)
    assert imd.labels_of([1]) == ([], 0) and imd.labels_of({"labels": []}) == ([], 0)
    labels, total = imd.labels_of({"labels": [1, None, "y" * 500] + ["z"] * 100})
    assert total == 103 and len(labels) == imd.MAX_LABELS
    assert labels[:2] == ["1", "None"] and len(labels[2]) == imd.MAX_LABEL_CHARS


def test_a_card_shows_the_run_step_size_and_labels_and_links_the_route():
    class Data:
        def change_token(self, run):
            return (3, 4.5)

    source = view.Source(Data(), "/_flowlog/image")
    images = [ImageInfo(0, 0.0, 28, 28, 1, None), ImageInfo(5, 0.0, 28, 28, 1, {"labels": ["a"]})]
    card = json.dumps(view.card(source, "t", "run/1", "#123456", images, 7).to_plotly_json(),
                      default=lambda c: c.to_plotly_json(), ensure_ascii=False)  # fmt: skip
    version = imd.version_of((3, 4.5))
    assert f"/_flowlog/image?run=run%2F1&tag=t&step=5&v={version}" in card
    for shown in ("run/1", "step 5", "28×28", "latest before step 7", '"a"', "fl-pixelated",
                  '"width": "140px"'):  # fmt: skip
        assert shown in card, shown
    missing = view.card(source, "t", "r", "#000", images, -1).to_plotly_json()
    assert "nothing logged at or before step -1 (first at step 0)" in json.dumps(
        missing, default=lambda c: c.to_plotly_json())  # fmt: skip


# ------------------------------------------------------------------- callbacks, server
@pytest.fixture(scope="module")
def server(app):
    srv = DashServer(app)
    yield srv.url
    srv.stop()


def _info(app):
    from flowlog.dashboard import runs_panel

    return runs_panel.discover(app.flowlog_context, 0)[0]


def _crafted(app, output_start):
    key = next(k for k in app.callback_map if k.startswith(output_start))
    return Crafted(key, app.callback_map[key])


def test_callbacks_answer_urls_never_image_bytes(app, server):
    info = _info(app)
    values = {RUNS: info, "runs-info.data": info, "selected-runs.data": ["alpha", "beta", "ghost"],
              "view-tabs.value": view.TAB_ID}  # fmt: skip
    status, text = post(server, _crafted(app, f"..{view.CARDS}").body(values, {"tag": []}))
    assert status == 200
    assert "data:image" not in text and "base64" not in text and "iVBORw0KGgo" not in text
    cards = json.loads(text)["response"][view.CARDS]["children"]
    urls = {u for u in json.dumps(cards).split('"') if u.startswith("/_flowlog/image?")}
    assert len(urls) == 3  # samples at step 20 of both runs, alpha's boxes
    assert any("run=beta&tag=samples&step=20" in u for u in urls)
    assert '"dog <b>"' in json.dumps(cards)  # a label, as text
    # moving the slider: the cards of that step
    match = _crafted(app, '..{"tag":["MATCH"],"type":"img-body"}')
    body = match.body({**values, "img-step.value": 0, "img-steps.data": list(STEPS)},
                      {"tag": ["samples"]})  # fmt: skip
    status, text = post(server, body)
    assert status == 200 and "data:image" not in text
    text = json.dumps(json.loads(text), ensure_ascii=False)
    assert "step=0&" in text and "step=20&" not in text and "step 0 · 3 steps" in text


def test_the_image_callbacks_never_answer_500_to_hostile_requests(app, server):
    info = _info(app)
    sane = {RUNS: info, "selected-runs.data": ["alpha", "beta"],
            "view-tabs.value": view.TAB_ID, f"{view.TAG_FILTER}.value": "s",
            f"{view.STEP}.value": 1, f"{view.STEPS}.data": list(STEPS),
            f"{view.VERSION}.data": None}  # fmt: skip
    special = [["ghost"], [{"name": 5}], "(.|.)*!", r"(a)\1", [10**30], [0, "x"], [2, 1]]
    keys = [{"tag": ["ghost", "boxes"]}, {"tag": []}, {"tag": ["x" * 10**5]}]
    failures, count = [], 0
    for key, cb in app.callback_map.items():
        if "img-" not in key or cb.get("callback") is None:
            continue
        crafted = Crafted(key, cb)
        bodies = [crafted.body(sane, tags) for tags in keys]
        for arg, index in crafted.positions():
            for value in [*GENERIC, *special]:
                bodies.append(crafted.body({**sane, arg: value}, {"tag": ["samples"]}, index or 0))
        for body in bodies:
            status, _ = post(server, body)
            count += 1
            if status not in (200, 204):
                failures.append(f"{status} {key[:40]} {json.dumps(body)[:300]}")
    assert count > 150 and not failures, failures[:5]


def test_a_slider_moved_off_the_latest_step_stays_there_on_a_live_redraw():
    data_steps = [{"id": {"type": view.STEPS, "tag": "samples"}, "value": list(STEPS)}]
    moved = [{"id": {"type": view.STEP, "tag": "samples"}, "value": 0}]
    assert media_tags.previous_choices(moved, data_steps) == {"samples": 0}
    latest = [{"id": {"type": view.STEP, "tag": "samples"}, "value": 2}]
    assert media_tags.previous_choices(latest, data_steps) == {}


# ----------------------------------------------------------------------------- browser
THUMBS = (
    "[...document.querySelectorAll('.fl-images .fl-group')]"
    ".find(g => g.querySelector('summary').textContent.startsWith('samples'))"
)


@pytest.mark.browser
def test_images_side_by_side_with_a_slider_and_a_full_size_overlay(browser, dash_server, logdir):
    url = dash_server(logdir, reload_interval=0.5)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    try:
        page.goto(url)
        page.locator(".tab", has_text="Images").click()
        group = page.locator(".fl-images .fl-group", has_text="samples")
        thumbs = group.locator("img.fl-image-thumb")
        page.wait_for_function(
            f"() => {{ const g = {THUMBS}; if (!g) return false;"
            " const i = [...g.querySelectorAll('img.fl-image-thumb')];"
            " return i.length === 2 && i.every(x => x.complete && x.naturalWidth > 0); }"
        )
        assert page.evaluate(
            f"() => [...{THUMBS}.querySelectorAll('img.fl-image-thumb')].map(i => i.naturalWidth)"
        ) == [W, W]
        cards = group.locator(".fl-image-card")
        assert [c.split("\n")[0] for c in cards.all_inner_texts()] == ["alpha", "beta"]
        assert "step 20" in cards.first.inner_text() and f"{H}×{W}" in cards.first.inner_text()
        # side by side: the two cards on one row
        boxes = [cards.nth(i).bounding_box() for i in range(2)]
        assert boxes[0]["y"] == boxes[1]["y"] and boxes[0]["x"] < boxes[1]["x"]
        # the boxes' labels
        labels = page.locator(".fl-images .fl-group", has_text="boxes").locator(".fl-image-label")
        assert labels.all_inner_texts() == ["cat", "dog <b>"]
        # the slider switches the step: new URLs, the images of step 0
        before = thumbs.first.get_attribute("src")
        assert "step=20" in before
        group.locator("[role=slider]").first.focus()
        page.keyboard.press("Home")
        group.locator(".fl-step-label", has_text="step 0").wait_for()
        page.wait_for_function(
            f"() => [...{THUMBS}.querySelectorAll('img.fl-image-thumb')].every("
            "i => i.src.includes('step=0&') && i.complete && i.naturalWidth > 0)"
        )
        assert thumbs.first.get_attribute("src") != before
        assert "step 0" in cards.first.inner_text()
        # click: the overlay with the image at full resolution (scaled up, pixelated); Esc
        thumbs.nth(1).click()
        overlay = page.locator(".fl-image-overlay")
        overlay.wait_for(state="visible")
        big = overlay.locator("img.fl-overlay-image")
        page.wait_for_function(
            "() => { const i = document.querySelector('.fl-overlay-image');"
            " return i && i.complete && i.naturalWidth > 0; }"
        )
        got = big.evaluate(
            "i => [i.naturalWidth, i.naturalHeight, i.getBoundingClientRect().width]"
        )
        assert got[:2] == [W, H] and got[2] >= 8 * W  # 48 px wide: enlarged at least 8x
        assert "fl-pixelated" in big.get_attribute("class")
        assert "beta · samples · step 0" in overlay.inner_text()
        assert "step=0&" in big.get_attribute("src") and "run=beta" in big.get_attribute("src")
        page.keyboard.press("Escape")
        overlay.wait_for(state="hidden")
        # a click beside the image closes it too
        thumbs.first.click()
        overlay.wait_for(state="visible")
        page.mouse.click(20, 500)
        overlay.wait_for(state="hidden")
    finally:
        context.close()


@pytest.mark.browser
def test_a_live_run_new_steps_keep_a_moved_slider_and_are_followed_at_the_latest(
    browser, dash_server, tmp_path
):
    d = tmp_path / "runs"
    w = SummaryWriter(logdir=d, run_name="live", flush_secs=0.2)
    for s in STEPS:
        w.add_image("samples", pixels(0, s), s, dataformats="HWC")
    w.flush()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    try:
        page.goto(dash_server(d, reload_interval=0.3))
        page.locator(".tab", has_text="Images").click()
        label = page.locator(".fl-images .fl-step-label")
        label.filter(has_text="step 20 · 3 steps").wait_for()
        page.locator(".fl-images [role=slider]").first.focus()
        page.keyboard.press("Home")
        label.filter(has_text="step 0 · 3 steps").wait_for()
        w.add_image("samples", pixels(0, 30), 30, dataformats="HWC")
        w.flush()
        label.filter(has_text="step 0 · 4 steps").wait_for()  # redrawn, still at step 0
        assert "step=0&" in page.locator(".fl-images img.fl-image-thumb").get_attribute("src")
        page.locator(".fl-images [role=slider]").first.focus()
        page.keyboard.press("End")
        label.filter(has_text="step 30 · 4 steps").wait_for()
        w.add_image("samples", pixels(0, 40), 40, dataformats="HWC")
        w.flush()
        label.filter(has_text="step 40 · 5 steps").wait_for()  # at the latest: follows
        page.wait_for_function(
            "() => { const i = document.querySelector('.fl-images img.fl-image-thumb');"
            " return i && i.src.includes('step=40&') && i.complete && i.naturalWidth === 48; }"
        )
    finally:
        context.close()
        w.close()


@pytest.mark.browser
def test_images_view_says_what_to_do_without_images(page, dash_server, tmp_path):
    d = tmp_path / "runs"
    with SummaryWriter(logdir=d, run_name="scalars-only") as w:
        w.add_scalar("loss", 1.0, 0)
    page.goto(dash_server(d))
    page.locator(".tab", has_text="Images").click()
    message = page.locator(".fl-images .fl-message")
    message.wait_for()
    assert "writer.add_image(tag, img, step)" in message.inner_text()
