"""Scalars view placeholder (being written)."""

from dash import html

TAB_ID = "scalars"
TAB_LABEL = "Scalars"


def layout(ctx):
    return html.Div("Scalars view", className="fl-view")


def register(app, ctx):
    return None
