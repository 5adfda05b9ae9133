"""Small controls shared by several views, so they look and behave the same everywhere."""

import re

from dash import dcc


def image_config(name: str, **extra) -> dict:
    """dcc.Graph config of every chart: downloads as SVG and PNG named after ``name`` (the two
    buttons are made by assets/plotly_hooks.js from toImageButtonOptions), and no "Share chart"
    button, which would offer to upload the run's data to a chart server. No box or lasso
    select either: no chart here does anything with a selection."""
    filename = re.sub(r"[^\w.=-]+", "_", name).strip("_") or "chart"
    return {
        "displaylogo": False,
        "showSendToCloud": False,
        "toImageButtonOptions": {"format": "svg", "filename": filename},
        "modeBarButtonsToRemove": list(NO_SELECT_BUTTONS),
        **extra,
    }


NO_SELECT_BUTTONS = ("select2d", "lasso2d")


def tag_filter_input(component_id: str) -> dcc.Input:
    """The tag regex filter at the start of a view's toolbar."""
    return dcc.Input(
        id=component_id,
        type="text",
        placeholder="filter tags (regex)",
        debounce=0.3,
        className="fl-input fl-tag-filter",
    )
