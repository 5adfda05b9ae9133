"""Plotly figures as plain dicts: numpy arrays in Plotly's binary form, no validation pass.

plotly.py validates every property of every trace (~40 % of a 10-run chart's build time) and
sends arrays as JSON lists; charts built here skip both. Dash serialises any object with
``to_plotly_json``.
"""

from __future__ import annotations

import base64

import numpy as np

# plotly_white's look without its cost: the stock template turns on axis automargin, which makes
# plotly.js lay every chart out twice (margins are pushed after the first pass), about half of
# a 10-run chart's draw time. Margins are fixed instead (the chart builder sizes the bottom one).
LEAN_TEMPLATE = {
    "layout": {
        "font": {"color": "#2a3f5f"},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "hoverlabel": {"align": "left"},
        "xaxis": {"linecolor": "#EBF0F8", "zerolinecolor": "#EBF0F8", "ticks": ""},
        "yaxis": {"linecolor": "#EBF0F8", "zerolinecolor": "#EBF0F8", "ticks": ""},
        "margin": {"autoexpand": False},
    }
}


def encode(v):
    """numpy -> Plotly's binary array spec ({dtype, bdata}), the compact, fast way to ship it.

    Integers go as int32 when they fit (plotly.js has no int64 arrays); other non-numeric
    arrays (marker symbols) as lists. Dicts are encoded one level down (marker, line).
    """
    if isinstance(v, np.ndarray):
        if v.dtype.kind in "iu":
            if v.size == 0 or (v.min() >= -(2**31) and v.max() < 2**31):
                v = v.astype("<i4")
                dtype = "i4"
            else:
                v, dtype = v.astype("<f8"), "f8"
        elif v.dtype.kind == "f":
            v, dtype = v.astype("<f8"), "f8"
        else:
            return v.tolist()
        spec = {"dtype": dtype, "bdata": base64.b64encode(np.ascontiguousarray(v).tobytes())}
        spec["bdata"] = spec["bdata"].decode("ascii")
        if v.ndim == 2:
            spec["shape"] = f"{v.shape[0]}, {v.shape[1]}"
        return spec
    if isinstance(v, dict):
        return {k: encode(x) for k, x in v.items()}
    return v


def scatter(**kw) -> dict:
    """A scatter trace as a plain dict: skips plotly.py's per-property validation (~40 % of a
    10-run chart's build time); arrays are sent in binary form."""
    return {"type": "scatter", **{k: encode(v) for k, v in kw.items()}}


class Fig:
    """The few ``go.Figure`` methods the chart builder uses, on plain dicts (Dash serialises
    anything with ``to_plotly_json``)."""

    def __init__(self):
        self.data: list[dict] = []
        self.layout: dict = {"template": LEAN_TEMPLATE}

    def add_trace(self, trace: dict) -> None:
        self.data.append(trace)

    def add_shape(self, **shape) -> None:
        self.layout.setdefault("shapes", []).append(encode(shape))

    def add_annotation(self, **annotation) -> None:
        self.layout.setdefault("annotations", []).append(annotation)

    def update_layout(self, **kw) -> None:
        kw.pop("template", None)
        self.layout.update(kw)

    def to_plotly_json(self) -> dict:
        return {"data": self.data, "layout": self.layout}
