"""The Text view: texts logged with add_text, as Markdown that hostile text cannot script.

Plain functions (text_data, media_tags) and the view's components without a browser; its
callbacks through the real server, hostile requests included; the rendered page in headless
Chromium (tables, code blocks, escaped HTML, neutralised javascript: links, the step slider).
"""

from __future__ import annotations

import json

import pytest
from conftest import BROWSER_TIMEOUT_MS, DashServer
from test_dashboard_hostile import GENERIC, Crafted, damage_middle, post

from flowlog.dashboard import media_tags, tab_gate
from flowlog.dashboard import text_data as td
from flowlog.dashboard.views import text as view
from flowlog.writer import SummaryWriter

RUNS = f"{tab_gate.runs_info(view.TAB_ID)}.data"  # the view's copy of the runs

TABLE = "| metric | value |\n|---|---|\n| accuracy | 0.93 |\n| loss | 0.21 |\n"
CODE = "```python\nprint('hello from a code block')\n```\n"
SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=1">'
JS_LINK = "[click](javascript:window.__pwned=1)"
HOSTILE = f"{TABLE}\n{CODE}\n{SCRIPT}\n\n{IMG}\n\n{JS_LINK}\n\n[ok](https://example.com)\n"
FIRST = "first text: **bold** and a list\n\n- one\n- two\n"


def write_texts(logdir, name="alpha", steps=(0, 5, 10), extra_run=True):
    """alpha: FIRST at step 0, "middle" at 5, HOSTILE at 10; beta (optional): from step 5."""
    with SummaryWriter(logdir=logdir, run_name=name) as w:
        w.add_text("notes", FIRST, steps[0])
        w.add_text("notes", "middle text", steps[1])
        w.add_text("notes", HOSTILE, steps[2])
        w.add_text("config", "`lr=0.1`", 0)
        w.add_scalar("loss", 1.0, 0)
    if extra_run:
        with SummaryWriter(logdir=logdir, run_name="beta") as w:
            w.add_text("notes", "beta at 5", 5)
            w.add_text("notes", "beta at 7", 7)
    return logdir


class FakeData:
    """A provider of texts only: ``{run: {tag: [(step, text)]}}``."""

    def __init__(self, runs):
        self.runs_ = runs

    def tags(self, run, kind=None):
        from flowlog.provider import TagInfo

        if run not in self.runs_:
            raise KeyError(f"no run named {run!r}")
        return {t: TagInfo(t, "text", len(v), v[0][0], v[-1][0], None)
                for t, v in self.runs_[run].items()}  # fmt: skip

    def texts(self, run, tag=None):
        if run not in self.runs_:
            raise KeyError(f"no run named {run!r}")
        return [(tag, s, 1.7e9 + s, t) for s, t in self.runs_[run][tag]]

    def change_token(self, run):
        return 1


def _flat(component) -> str:
    return json.dumps(component.to_plotly_json() if hasattr(component, "to_plotly_json")
                      else component, default=lambda c: c.to_plotly_json())  # fmt: skip


# ----------------------------------------------------------------------- plain functions
def test_entries_at_step_and_newest_first():
    data = FakeData({"a": {"t": [(10, "ten"), (0, "zero"), (5, "five")]}})
    items = td.entries(data, "a", "t")
    assert [e.step for e in items] == [0, 5, 10]
    assert media_tags.item_at(items, 5).text == "five"
    assert media_tags.item_at(items, 7).text == "five"  # the latest before a step it did not log
    assert media_tags.item_at(items, -1) is None
    note = media_tags.missing_note(items, -1, "text")
    assert note == "nothing logged at or before step -1 (first at step 0)"
    many = [td.Entry(s, 0.0, str(s)) for s in range(150)]
    shown, total = td.newest(many)
    assert total == 150 and len(shown) == td.MAX_LISTED == 100
    assert [e.step for e in shown[:3]] == [149, 148, 147] and shown[-1].step == 50
    assert td.listed_note(len(shown), total) == "showing 100 of 150 steps (newest first)"
    assert td.listed_note(3, 3) is None
    long = [td.Entry(s, 0.0, "y" * 30_000) for s in range(20)]
    shown, total = td.newest(long, budget=100_000)
    assert [e.step for e in shown] == [19, 18, 17] and total == 20
    assert [e.step for e in td.newest(long, budget=10)[0]] == [19]  # the newest, always


def test_long_texts_are_cut_with_a_note_and_an_open_fence_closed():
    text, note = td.clip("short")
    assert (text, note) == ("short", None)
    text, note = td.clip("```\n" + "x" * 100, limit=50)
    assert text.endswith("\n```") and len(text) == 54
    assert note == "text cut: showing the first 50 of 104 characters"


def test_step_helpers_take_hostile_values():
    assert media_tags.union_steps([[5, 1], [3, 5], []]) == [1, 3, 5]
    assert media_tags.at_or_before([1, 3, 5], 4) == 1 and media_tags.at_or_before([1], 0) is None
    for bad in (None, "x", 1.5, True, [1, 2], {"a": 1}, -1, 99):
        assert media_tags.chosen_step(bad, [1, 3, 5]) == 5  # the latest
    assert media_tags.chosen_step(0, [1, 3, 5]) == 1
    for bad in (None, [], "x", [3, 1], [1, "2"], [True], {"a": 1}):
        assert media_tags.chosen_step(0, bad) is None
    assert media_tags.mark_indices(3) == [0, 1, 2]
    assert media_tags.mark_indices(1000) == [0, 200, 400, 600, 800, 999]
    assert media_tags.mark_indices(7) == list(range(7))  # no gap at 3 (was 0 1 2 _ 4 5 6)
    for n in range(9, 400):  # evenly spaced labels, the last always labelled
        marks = media_tags.mark_indices(n)
        gaps = {b - a for a, b in zip(marks[:-2], marks[1:-1], strict=True)}
        assert len(marks) <= media_tags.MAX_MARKS + 1 and marks[-1] == n - 1 and len(gaps) <= 1
        assert marks[-1] - marks[-2] > (marks[1] - marks[0]) / 2
    sliders = [{"id": {"type": "s", "tag": "moved"}, "value": 0},
               {"id": {"type": "s", "tag": "latest"}, "value": 2},
               {"id": "junk", "value": 0}, 5, {"id": {"tag": 7}, "value": 0}]  # fmt: skip
    steps = [{"id": {"type": "t", "tag": "moved"}, "value": [1, 3, 5]},
             {"id": {"type": "t", "tag": "latest"}, "value": [1, 3, 5]}, None]  # fmt: skip
    assert media_tags.previous_choices(sliders, steps) == {"moved": 1}
    assert media_tags.previous_choices("x", {"a": 1}) == {}
    assert media_tags.initial_index([0, 2, 4], 3) == 1  # the chosen step's latest before
    assert media_tags.initial_index([0, 2, 4], None) == 2
    assert media_tags.initial_index([5, 6], 1) == 1  # before every step: the latest


def test_collect_filters_tags_and_names_runs_that_cannot_be_read():
    data = FakeData({"a": {"notes": [(0, "x")], "cfg": [(0, "y")]}, "b": {"notes": [(1, "z")]}})
    info = [{"name": n, "color": "#123456"} for n in ("a", "b", "ghost")]
    problems = {}
    by_tag, version = media_tags.collect(data, info, ["a", "b", "ghost", 5], "^no", "text",
                                         problems)  # fmt: skip
    assert list(by_tag) == ["notes"] and sorted(by_tag["notes"]) == ["a", "b"]
    assert version == [["a", "notes", 1, 0, "#123456"], ["b", "notes", 1, 1, "#123456"]]
    assert list(problems) == ["ghost"] and "no run named 'ghost'" in problems["ghost"]
    info[0]["color"] = "#abcdef"  # the user picked a colour for 'a': its cards redraw
    assert media_tags.collect(data, info, ["a", "b"], "^no", "text")[1] != version


def test_a_tag_group_starts_at_the_latest_step_and_lists_at_most_100_steps():
    data = FakeData({"a": {"t": [(s, f"text {s}") for s in range(150)]},
                     "b": {"t": [(200, "late")]}})  # fmt: skip
    runs = {"a": ("#111111", None), "b": ("#222222", None)}
    group = view.tag_group(data, "t", runs, show_all=False)
    (slider,) = [c for c in _walk(group) if type(c).__name__ == "Slider"]
    assert slider.value == 150 and slider.max == 150  # 151 steps, index of the latest (200)
    body = _flat(group)
    assert "text 149" in body and "latest before step 200" in body and "late" in body
    md = [c for c in _walk(group) if type(c).__name__ == "Markdown"]
    assert md and all(m.dangerously_allow_html is False and m.dedent is False for m in md)
    moved = view.tag_group(data, "t", runs, show_all=False, previous=7)
    assert "text 7" in _flat(moved) and "text 149" not in _flat(moved)
    listed = _flat(view.tag_group(data, "t", runs, show_all=True))
    assert "showing 100 of 150 steps (newest first)" in listed
    assert "text 149" in listed and "text 50" in listed and "text 49" not in listed


def _walk(component):
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if hasattr(child, "to_plotly_json"):
            yield from _walk(child)


# ------------------------------------------------------------------- callbacks, server
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``(url, app)`` on alpha, beta and a damaged run that logged texts."""
    from flowlog.dashboard import create_app

    d = write_texts(tmp_path_factory.mktemp("text") / "runs")
    with SummaryWriter(logdir=d, run_name="damaged") as w:
        for s in range(400):
            w.add_text("notes", "padding " * 200, s)
    damage_middle(d / "damaged" / "flowlog.db")
    app = create_app(d, reload_interval=0.5)
    srv = DashServer(app)
    yield srv.url, app
    srv.stop()


def _info(app):
    from flowlog.dashboard import runs_panel

    return runs_panel.discover(app.flowlog_context, 0)[0]


def _crafted(app, output_start):
    key = next(k for k in app.callback_map if k.startswith(output_start))
    return key, Crafted(key, app.callback_map[key])


def test_the_cards_callback_renders_every_selected_run_and_names_a_damaged_one(server):
    url, app = server
    info = _info(app)
    _key, crafted = _crafted(app, f"..{view.CARDS}.children")
    values = {RUNS: info, "selected-runs.data": ["alpha", "beta", "damaged"],
              "view-tabs.value": view.TAB_ID, f"{view.SHOW_ALL}.value": []}  # fmt: skip
    status, text = post(url, crafted.body(values, {"tag": []}))
    assert status == 200
    shown = json.dumps(json.loads(text)["response"][view.CARDS]["children"])
    assert "middle text" not in shown and "beta at 7" in shown and "accuracy" in shown
    assert "damaged" in shown and "cannot be read" in shown
    assert SCRIPT in shown  # as Markdown source, which dcc.Markdown escapes
    assert '"dangerously_allow_html": false' in shown


def test_the_text_callbacks_never_answer_500_to_hostile_requests(server):
    url, app = server
    info = _info(app)
    sane = {RUNS: info, "selected-runs.data": ["alpha", "beta", "damaged"],
            "view-tabs.value": view.TAB_ID, f"{view.SHOW_ALL}.value": ["all"],
            f"{view.TAG_FILTER}.value": "no", f"{view.STEP}.value": 0,
            f"{view.STEPS}.data": [0, 5, 10], f"{view.VERSION}.data": None}  # fmt: skip
    special = [["ghost"], ["damaged"], [{"name": 5}], "(.|.)*!", r"(a)\1", [10**30], [0, "x"]]
    failures, count = [], 0
    keys = [{"tag": ["ghost", "config"]}, {"tag": []}, {"tag": ["x" * 10**5]}]
    for key, cb in app.callback_map.items():
        if "text-" not in key or cb.get("callback") is None:
            continue
        crafted = Crafted(key, cb)
        bodies = [crafted.body(sane, tags) for tags in keys]
        for arg, index in crafted.positions():
            for value in [*GENERIC, *special]:
                bodies.append(crafted.body({**sane, arg: value}, {"tag": ["notes"]}, index or 0))
        for body in bodies:
            status, _ = post(url, body)
            count += 1
            if status not in (200, 204):
                failures.append(f"{status} {key[:40]} {json.dumps(body)[:300]}")
    assert count > 150 and not failures, failures[:5]


# ----------------------------------------------------------------------------- browser
@pytest.mark.browser
def test_text_renders_markdown_and_hostile_text_never_runs(browser, dash_server, tmp_path):
    url = dash_server(write_texts(tmp_path / "runs"), reload_interval=0.5)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    try:
        page.goto(url)
        page.locator(".tab", has_text="Text").click()
        group = page.locator(".fl-text .fl-group", has_text="notes")
        alpha = group.locator(".fl-text-card", has_text="alpha")
        alpha.locator(".fl-markdown table").wait_for()
        assert alpha.locator("table th").all_inner_texts() == ["metric", "value"]
        assert "print('hello from a code block')" in alpha.locator("pre code").inner_text()
        # raw HTML is text on the page, never elements
        shown = alpha.locator(".fl-markdown").inner_text()
        assert SCRIPT in shown and "onerror" in shown
        assert page.evaluate("document.querySelectorAll('.fl-text script').length") == 0
        assert alpha.locator("img").count() == 0
        # the javascript: link has no javascript: href, and clicking it runs nothing
        link = alpha.locator(".fl-markdown a", has_text="click")
        page.wait_for_function(
            "() => ![...document.querySelectorAll('a[href]')].some("
            "a => a.getAttribute('href').trim().toLowerCase().startsWith('javascript:'))"
        )
        assert link.get_attribute("href") is None
        link.click()
        ok = alpha.locator(".fl-markdown a", has_text="ok")
        assert ok.get_attribute("href") == "https://example.com"
        page.wait_for_timeout(200)
        assert page.evaluate("window.__pwned === undefined")
        # beta logged nothing at step 10: its text of step 7, said so
        beta = group.locator(".fl-text-card", has_text="beta")
        assert "beta at 7" in beta.inner_text() and "latest before step 10" in beta.inner_text()
        # the slider: Home goes to the first step (0), where beta logged nothing yet
        label = group.locator(".fl-step-label")
        assert label.inner_text() == "step 10 · 4 steps"
        group.locator("[role=slider]").first.focus()
        page.keyboard.press("Home")
        label.filter(has_text="step 0").wait_for()
        alpha.filter(has_text="first text").wait_for()
        assert alpha.locator(".fl-markdown li").all_inner_texts() == ["one", "two"]
        assert "nothing logged at or before step 0 (first at step 5)" in beta.inner_text()
        page.keyboard.press("ArrowRight")
        label.filter(has_text="step 5").wait_for()
        alpha.filter(has_text="middle text").wait_for()
        assert beta.locator(".fl-markdown").inner_text() == "beta at 5"
        # every step, newest first
        page.locator(f"#{view.SHOW_ALL} input").check()
        entries = group.locator(".fl-text-card", has_text="alpha").locator(".fl-text-step")
        entries.first.wait_for()
        steps = [t.split()[1] for t in entries.all_inner_texts()]
        assert steps == ["10", "5", "0"]
        assert page.evaluate("window.__pwned === undefined")
    finally:
        context.close()


@pytest.mark.browser
def test_text_view_says_what_to_do_without_texts(page, dash_server, tmp_path):
    d = tmp_path / "runs"
    with SummaryWriter(logdir=d, run_name="scalars-only") as w:
        w.add_scalar("loss", 1.0, 0)
    page.goto(dash_server(d))
    page.locator(".tab", has_text="Text").click()
    message = page.locator(".fl-text .fl-message")
    message.wait_for()
    assert "writer.add_text(tag, text, step)" in message.inner_text()
