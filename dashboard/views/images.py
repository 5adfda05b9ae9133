"""Images: what ``add_image``, ``add_images``, ``add_image_with_boxes`` and ``add_figure``
logged, like TensorBoard's Images tab.

Per tag (the tag filter as in the other views): a step slider (default: the latest step) and
the selected runs' images at that step side by side, a card per run (its colour and name, the
step, the size height×width, the labels of ``add_image_with_boxes``). Click an image (or Enter
on it) to see it at full resolution in an overlay (``assets/media.js``; Esc, a click or × close
it); tiny images are scaled up by whole factors with pixelated rendering, never blurred.

The images are ``<img>`` elements whose URLs point at :mod:`flowlog.dashboard.image_route`:
no callback answer holds image bytes, and the browser caches each PNG.
"""

from __future__ import annotations

import dash
from dash import ALL, Input, Output, State, dcc, html

from flowlog.dashboard import image_route, media_tags, tab_gate
from flowlog.dashboard import images_data as imd
from flowlog.dashboard.controls import tag_filter_input
from flowlog.dashboard.ids import SELECTED_RUNS, TABS
from flowlog.dashboard.untrusted import RUN_ERRORS

TAB_ID = "images"
TAB_LABEL = "Images"

TAG_FILTER = "img-tag-filter"
CARDS = "img-cards"
VERSION = "img-version"
# per tag (pattern ids {"type": ..., "tag": tag})
STEP = "img-step"  # dcc.Slider: an index into the tag's steps
STEPS = "img-steps"  # dcc.Store: the tag's steps (the union over the runs shown)
BODY = "img-body"  # the tag's run cards
LABEL = "img-step-label"

CARD_MIN, CARD_MAX = 220, 460  # CSS px: a card's column width range in a tag's grid

NO_RUNS = media_tags.NO_RUNS
NO_IMAGES = [
    "No images logged in the selected runs — call ",
    html.Code("writer.add_image(tag, img, step)"),
    " (or add_images, add_image_with_boxes, or add_figure for a matplotlib figure).",
]


class Source:
    """Where a run's images are: the route's URL and the run's data version (per render)."""

    def __init__(self, data, base: str):
        self.data, self.base = data, base
        self._versions: dict[str, str] = {}

    def url(self, run: str, tag: str, step: int) -> str:
        if run not in self._versions:
            try:
                token = self.data.change_token(run)
            except RUN_ERRORS:  # gone or unreadable since its images were listed
                token = None
            self._versions[run] = imd.version_of(token)
        return imd.image_url(self.base, run, tag, step, self._versions[run])


def read_runs(data, tag: str, runs: dict) -> tuple[dict, dict]:
    """``({run: (colour, [ImageInfo by step])}, problems)`` of one tag, runs by name."""
    return media_tags.read_runs(
        data, runs, lambda name: sorted(data.images(name, tag), key=lambda im: im.step)
    )


def thumbnail(url: str, run: str, tag: str, im) -> html.Img:
    """The image as shown on its card: its own size (up to the card's width), or scaled up by
    a whole factor, pixelated, when tiny; the overlay reads its data attributes."""
    scale = imd.display_scale(im.height, im.width)
    text = imd.caption(run, tag, im.step, im.height, im.width)
    return html.Img(
        src=url,
        alt=text,
        title="click to enlarge",
        className="fl-image-thumb" + (" fl-pixelated" if scale > 1 else ""),
        style={"width": f"{imd.shown_width(im.height, im.width)}px"},
        tabIndex="0",
        role="button",
        **{"data-caption": text, "data-width": str(im.width), "data-height": str(im.height)},
    )


def labels_row(meta) -> html.Div | None:
    labels, total = imd.labels_of(meta)
    if not total:
        return None
    chips = [html.Span(text, className="fl-image-label", title=text) for text in labels]
    if total > len(labels):
        chips.append(html.Span(f"+{total - len(labels)} more", className="fl-hint"))
    return html.Div([html.Span("labels", className="fl-media-detail"), *chips],
                    className="fl-image-labels")  # fmt: skip


def card(source: Source, tag: str, name: str, color: str, images: list, step: int) -> html.Div:
    im = media_tags.item_at(images, step)
    if im is None:
        head = media_tags.run_head(name, color)
        missing = media_tags.missing_note(images, step, "image")
        note = html.Div(missing, className="fl-media-missing")
        return html.Div([head, note], className="fl-card fl-image-card")
    before = f"latest before step {step}" if im.step != step else None
    size = html.Span(f"{im.height}×{im.width}", title="height × width (pixels)")
    head = media_tags.run_head(name, color, f"step {im.step}", size, before)
    frame = html.Div(thumbnail(source.url(name, tag, im.step), name, tag, im),
                     className="fl-image-frame")  # fmt: skip
    children = [head, frame]
    labels = labels_row(im.meta)
    if labels is not None:
        children.append(labels)
    return html.Div(children, className="fl-card fl-image-card")


def cards_at(source: Source, tag: str, per_run: dict, problems: dict, step: int) -> list:
    cards = [card(source, tag, n, c, images, step) for n, (c, images) in per_run.items()]
    if problems:
        cards.append(media_tags.problem_card(problems))
    return cards


def grid_style(per_run: dict) -> dict:
    """The tag's grid: columns as wide as its widest thumbnail (within CARD_MIN..CARD_MAX), so
    small images of several runs sit side by side and a figure is not shrunk to a stamp."""
    widest = max(
        (imd.shown_width(im.height, im.width) for _c, ims in per_run.values() for im in ims[-1:]),
        default=CARD_MIN,
    )
    column = min(max(widest + 26, CARD_MIN), CARD_MAX)
    return {"gridTemplateColumns": f"repeat(auto-fill, minmax(min(100%, {column}px), 1fr))"}


def tag_group(source: Source, tag: str, runs: dict, previous: int | None = None):
    """One tag's group: its step slider and a card per run at the chosen step (``previous``:
    the step the user had chosen, kept across a re-render; else the latest)."""
    per_run, problems = read_runs(source.data, tag, runs)
    summary = html.Summary([html.Span(tag), html.Span(str(len(runs)), className="fl-count")])
    steps = media_tags.union_steps([im.step for im in ims] for _c, ims in per_run.values())
    key = {"tag": tag}
    index = media_tags.initial_index(steps, previous) if steps else 0
    step = steps[index] if steps else 0
    controls = [html.Span(media_tags.step_label(steps[index] if steps else None, len(steps)),
                          id={"type": LABEL, **key}, className="fl-step-label")]  # fmt: skip
    if len(steps) > 1:
        controls.append(media_tags.step_slider({"type": STEP, **key}, steps, index))
    return html.Details(
        open=True,
        className="fl-group",
        children=[
            summary,
            html.Div(controls, className="fl-step-row"),
            dcc.Store(id={"type": STEPS, **key}, data=steps),
            html.Div(
                cards_at(source, tag, per_run, problems, step),
                id={"type": BODY, **key},
                className="fl-image-grid",
                style=grid_style(per_run),
            ),
        ],
    )


def layout(ctx):
    return html.Div(
        className="fl-view fl-images",
        children=[
            html.Div(
                className="fl-toolbar",
                children=[
                    tag_filter_input(TAG_FILTER),
                    html.Span(
                        "click an image to enlarge it · Esc closes", className="fl-hint fl-inline"
                    ),
                ],
            ),
            dcc.Store(id=VERSION),
            html.Div(id=CARDS, className="fl-chart-groups"),
        ],
    )


empty_message = media_tags.empty_message("image", NO_IMAGES)


def register(app, ctx):
    tab_gate.register(app, ctx, TAB_ID)
    base = image_route.register(app, ctx)

    @app.callback(
        Output(CARDS, "children"),
        Output(VERSION, "data"),
        Input(tab_gate.runs_info(TAB_ID), "data"),
        Input(SELECTED_RUNS, "data"),
        Input(TAG_FILTER, "value"),
        Input(TABS, "value"),
        State(VERSION, "data"),
        State({"type": STEP, "tag": ALL}, "value"),
        State({"type": STEPS, "tag": ALL}, "data"),
        prevent_initial_call=True,  # hidden while the page loads: built when the tab opens
    )
    def cards(info, selected, pattern, tab, old_version, _values, _steps):
        if tab != TAB_ID:
            return dash.no_update, dash.no_update
        source = Source(ctx.data, base)
        return media_tags.rebuild(
            ctx.data, "image", info, selected, pattern, old_version, [],
            lambda tag, runs, previous: tag_group(source, tag, runs, previous), empty_message,
        )  # fmt: skip

    def render(tag, per_run, problems, step):
        return cards_at(Source(ctx.data, base), tag, per_run, problems, step)

    media_tags.register_step_slider(
        app, ctx.data, "image", {"step": STEP, "steps": STEPS, "body": BODY, "label": LABEL},
        lambda tag, runs: read_runs(ctx.data, tag, runs), render,
    )  # fmt: skip
