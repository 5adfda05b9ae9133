"""HParams view placeholder (being written)."""

from dash import html

TAB_ID = "hparams"
TAB_LABEL = "HParams"


def layout(ctx):
    return html.Div("HParams view", className="fl-view")


def register(app, ctx):
    return None
