"""Small controls shared by several views, so they look and behave the same everywhere."""

from dash import dcc


def tag_filter_input(component_id: str) -> dcc.Input:
    """The tag regex filter at the start of a view's toolbar."""
    return dcc.Input(
        id=component_id,
        type="text",
        placeholder="filter tags (regex)",
        debounce=0.3,
        className="fl-input fl-tag-filter",
    )
