"""The Scalars toolbar: its controls' component ids and defaults, and their layout.

The smoothing weight has a slider and a number box kept equal (assets/scalars.js), up to
TensorBoard's 0.999; its help text says how smoothing every point differs from TensorBoard's
smoothing of a ~1,000-point sample.
"""

from __future__ import annotations

from dash import dcc, html

from flowlog.dashboard.controls import tag_filter_input
from flowlog.dashboard.scalars_data import ranks_of

TAG_FILTER = "sc-tag-filter"
SMOOTHING = "sc-smoothing"
SMOOTHING_BOX = "sc-smoothing-box"  # the weight as a number (typed), kept equal to the slider
XAXIS = "sc-xaxis"
LOGSCALE = "sc-log"
GROUP_MODE = "sc-group-mode"
GROUP_KEY = "sc-group-key"
RANK_MODE = "sc-rank-mode"  # "each" rank its own line | "mean" ± range across ranks
RANK_BOX = "sc-rank-box"  # the control's box: shown while some run has several ranks
EXPORT_CSV = "sc-export-csv"
EXPORT_JSON = "sc-export-json"
DOWNLOAD = "sc-download"
DEFAULT_SMOOTHING = 0.6
MAX_SMOOTHING = 0.999  # TensorBoard's slider's end
DEFAULT_XAXIS = "step"
DEFAULT_RANK_MODE = "each"


SMOOTHING_HELP = (
    "Exponential moving average weight, TensorBoard's formula (0 = raw, up to 0.999). flowlog "
    "smooths every logged point; TensorBoard smooths a sample of about 1,000 points, so on a "
    "series of n points the same weight averages about n/1000 times fewer steps here. To match "
    "TensorBoard's look on a 100,000-step run, use a weight closer to 1 (0.9 there ≈ 0.999 here)."
)


def smoothing_control() -> html.Label:
    """Slider (0..0.999 in steps of 0.001) and a number box showing the same weight; the
    help text says how it differs from TensorBoard's smoothing of its point sample."""
    return html.Label(
        className="fl-control fl-smoothing",
        title=SMOOTHING_HELP,
        children=[
            html.Span("Smoothing"),
            dcc.Slider(
                id=SMOOTHING, min=0, max=MAX_SMOOTHING, step=0.001, value=DEFAULT_SMOOTHING,
                marks={0: "0", 0.5: "0.5", MAX_SMOOTHING: "0.999"},
                tooltip={"placement": "bottom", "always_visible": False},
                updatemode="mouseup", allow_direct_input=False,  # (the box below instead)
            ),
            dcc.Input(
                # no min/max: the browser would hold back an out-of-range value, which the
                # callback clamps into range instead (assets/scalars.js smoothing)
                id=SMOOTHING_BOX, type="number", step=0.001,
                value=DEFAULT_SMOOTHING, debounce=True, className="fl-input fl-smoothing-box",
            ),
            html.Span("?", className="fl-help", title=SMOOTHING_HELP),
        ],
    )  # fmt: skip


def toolbar(info) -> html.Div:
    """The view's controls: tag filter, smoothing, x axis, log scales, grouping, ranks, export."""
    return html.Div(
        className="fl-toolbar",
        children=[
            tag_filter_input(TAG_FILTER),
            smoothing_control(),
            dcc.RadioItems(
                id=XAXIS,
                options=[
                    {"label": "Step", "value": "step"},
                    {"label": "Relative", "value": "relative"},
                    {"label": "Wall", "value": "wall"},
                ],
                value=DEFAULT_XAXIS,
                inline=True,
                className="fl-segmented",
            ),
            dcc.Checklist(
                id=LOGSCALE,
                options=[
                    {"label": "log x", "value": "logx"},
                    {"label": "log y", "value": "logy"},
                ],
                value=[],
                inline=True,
                className="fl-segmented",
            ),
            dcc.Dropdown(
                id=GROUP_MODE,
                options=[
                    {"label": "No grouping", "value": "none"},
                    {"label": "Group by name regex", "value": "regex"},
                    {"label": "Group by hparam", "value": "hparam"},
                ],
                value="none",
                clearable=False,
                searchable=False,
                className="fl-dropdown",
            ),
            dcc.Input(
                id=GROUP_KEY,
                type="text",
                placeholder="e.g. (.*)-seed\\d+  or  lr",
                debounce=0.3,
                className="fl-input fl-group-key",
            ),
            rank_control(info),
            html.Div(
                className="fl-actions",
                children=[
                    html.Button("Export CSV", id=EXPORT_CSV, className="fl-button"),
                    html.Button("Export JSON", id=EXPORT_JSON, className="fl-button"),
                    dcc.Download(id=DOWNLOAD),
                ],
            ),
        ],
    )


def rank_control(info) -> html.Div:
    """ "Ranks: each rank | mean ± range", shown while a run has several ranks."""
    return html.Div(
        id=RANK_BOX,
        className="fl-control fl-rank-mode",
        style=rank_box_style(info),
        title="runs written by several torch.distributed ranks: a line per rank, or the mean "
        "across ranks with a band from the lowest to the highest rank",
        children=[
            html.Span("Ranks"),
            dcc.RadioItems(
                id=RANK_MODE,
                options=[
                    {"label": "each rank", "value": "each"},
                    {"label": "mean ± range", "value": "mean"},
                ],
                value=DEFAULT_RANK_MODE,
                inline=True,
                className="fl-segmented",
            ),
        ],
    )


def rank_box_style(info) -> dict:
    return {} if ranks_of(info) else {"display": "none"}
