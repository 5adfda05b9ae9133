"""Histograms view placeholder (being written)."""

from dash import html

TAB_ID = "histograms"
TAB_LABEL = "Histograms"


def layout(ctx):
    return html.Div("Histograms view", className="fl-view")


def register(app, ctx):
    return None
