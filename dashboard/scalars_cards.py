"""A Scalars card's own buttons: full screen, pin to the top, ignore outliers in the y scaling
(all three in the browser: assets/scalars_cards.js) and this chart's data as CSV or JSON (a
callback in views/scalars.py, the same export as the toolbar's for one chart).
"""

from __future__ import annotations

from dash import html

CARD_EXPORT = "sc-card-export"  # pattern id type: {"type", "tag", "fmt"} of a card's download


def card_tools(tag: str) -> html.Div:
    """A card's own buttons: full screen, pin to the top, ignore outliers in the y scaling
    (assets/scalars_cards.js, in the browser) and this chart's data as CSV or JSON."""

    def tool(label, title, action=None, fmt=None):
        extra = {"data-action": action} if action else {"id": {"type": CARD_EXPORT, "tag": tag,
                                                                "fmt": fmt}}  # fmt: skip
        return html.Button(label, title=title, className="fl-card-tool", **extra)

    return html.Div(
        className="fl-card-tools",
        children=[
            tool("⤢", "full screen (Esc to leave)", "full"),
            tool("pin", "pin this chart to the top", "pin"),
            tool("⇕", "ignore outliers in the y scaling (5th–95th percentile)", "outliers"),
            tool("CSV", "download this chart's data as CSV", fmt="csv"),
            tool("JSON", "download this chart's data as JSON", fmt="json"),
        ],
    )


def card_export(trigger, triggered) -> tuple[str, str] | None:
    """``(tag, "csv" | "json")`` of a click on a card's download button, else None."""
    clicked = bool(triggered) and bool(triggered[0].get("value"))
    if not (clicked and isinstance(trigger, dict) and isinstance(trigger.get("tag"), str)):
        return None
    fmt = trigger.get("fmt")
    return (trigger["tag"], fmt) if fmt in ("csv", "json") else None
