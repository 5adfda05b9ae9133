"""Graph view placeholder (being written)."""

from dash import html

TAB_ID = "graph"
TAB_LABEL = "Graph"


def layout(ctx):
    return html.Div("Graph view", className="fl-view")


def register(app, ctx):
    return None
