"""Runs panel placeholder (being written)."""

from dash import html


def layout(ctx):
    return html.Aside("runs", className="fl-runs")


def register(app, ctx):
    return None
