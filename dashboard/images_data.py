"""The Images view's work, as plain functions (no Dash callbacks): image URLs and how the
image route reads them back, the size a thumbnail is shown at, the labels of
``add_image_with_boxes``, and what a card says when a run has no image at a step.

Images travel by URL (:mod:`flowlog.dashboard.image_route`), never inlined in a callback's
JSON: the browser fetches each PNG once and caches it. The URL carries ``v``, a short hash of
the run's change token when the card was drawn, so a re-logged step gets a new URL.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode

ROUTE = "_flowlog/image"  # under the app's routes prefix: GET ?run=&tag=&step=&v=
# a thumbnail smaller than this (longest side, CSS pixels) is scaled up by a whole factor,
# pixelated: a 28x28 digit shows as 140x140 sharp pixels instead of a blur
MIN_SHOWN = 160
MAX_SCALE = 8
MAX_LABELS = 50  # of one image's add_image_with_boxes labels shown
MAX_LABEL_CHARS = 80
_INT = re.compile(r"-?[0-9]{1,19}")
INT64 = (-(2**63), 2**63 - 1)


def version_of(token) -> str:
    """A short, stable hash of a run's change token (12 hex digits)."""
    return hashlib.sha1(repr(token).encode("utf-8", "backslashreplace")).hexdigest()[:12]


def image_url(base: str, run: str, tag: str, step: int, version: str) -> str:
    """``base?run=…&tag=…&step=…&v=…``: every name percent-encoded (a name that is not valid
    UTF-8, from a file name, as its bytes)."""
    query = {"run": run, "tag": tag, "step": str(int(step)), "v": version}
    return f"{base}?{urlencode(query, errors='surrogateescape')}"


def parse_query(raw: bytes) -> dict[str, str]:
    """The image route's query string as ``{name: first value}`` (percent-escapes decoded as
    UTF-8, bytes that are not as surrogate escapes, so they find the run :func:`image_url`
    encoded). Raises ValueError for a query of more than 8 fields."""
    text = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
    out: dict[str, str] = {}
    pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="surrogateescape",
                      max_num_fields=8)  # fmt: skip
    for key, value in pairs:
        out.setdefault(key, value)
    return out


def parse_step(text) -> int | None:
    """A step from a request: a decimal int64, nothing else (no '+', spaces or '1_0')."""
    if not isinstance(text, str) or not _INT.fullmatch(text):
        return None
    step = int(text)
    return step if INT64[0] <= step <= INT64[1] else None


def etag_of(png: bytes) -> str:
    return hashlib.sha1(png).hexdigest()


def display_scale(height: int, width: int) -> int:
    """The whole factor a thumbnail is scaled up by (1: shown at its own size, or smaller to
    fit its card)."""
    longest = max(int(height), int(width), 1)
    return max(1, min(MAX_SCALE, MIN_SHOWN // longest))


def shown_width(height: int, width: int) -> int:
    return max(int(width), 1) * display_scale(height, width)


def labels_of(meta) -> tuple[list[str], int]:
    """``(labels, total)``: the labels ``add_image_with_boxes`` kept in the image's meta, as
    short texts (at most ``MAX_LABELS``), and how many there are; ([], 0) for none."""
    labels = meta.get("labels") if isinstance(meta, dict) else None
    if not isinstance(labels, list):
        return [], 0
    out = []
    for label in labels[:MAX_LABELS]:
        text = label if isinstance(label, str) else str(label)
        out.append(text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "…")
    return out, len(labels)


def caption(run: str, tag: str, step: int, height: int, width: int) -> str:
    """The enlarged image's caption (and the thumbnail's alt text)."""
    return f"{run} · {tag} · step {step} · {height}×{width}"


def short(name: str, limit: int = 80) -> str:
    """A name for a message: its repr, cut to ``limit`` characters."""
    text = repr(name)
    return text if len(text) <= limit else text[: limit - 1] + "…"
