"""DOT syntax for the renderer: IDs, attribute lists and HTML-label text that render exactly as
the given string.

This is the escaping half of the SVG contract: every name, label and id must parse back (XML)
to the exact text, whatever characters it holds, and nothing from a description may become
markup. ``dot`` has quirks here, noted where they shape the code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_SAFE_ID = re.compile(r"[A-Za-z_][A-Za-z_0-9]*\Z")
_KEYWORDS = ("node", "edge", "graph", "digraph", "subgraph")


@dataclass(frozen=True)
class Raw:
    """An attribute value written as is (keywords like ``true``, pre-quoted style lists)."""

    text: str


def dot_id(s: str) -> str:
    """A DOT ID whose parsed text is exactly ``s`` (so ``<title>`` shows the full name).

    Quoted strings cannot carry a backslash before a quote/newline or at the end, and dot copies
    entity-like text (``&amp;``) into SVG unescaped, so names with a backslash or ``&`` use an
    HTML-string ID, whose content dot keeps literally (entity-escaped, as SVG needs it)."""
    if "\\" in s or "&" in s:
        return "<" + s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") + ">"
    if _SAFE_ID.match(s) and s.lower() not in _KEYWORDS:
        return s
    return '"' + s.replace('"', '\\"') + '"'


def esc(s: str, label: bool = True) -> str:
    """An escString attribute value that renders exactly as ``s``.

    ``&`` is pre-escaped because dot decodes entities in labels and passes entity-like text
    through to SVG ``id``s verbatim. Labels turn newlines into ``\\n`` line breaks; other
    attributes (``id``) get character references, since XML turns raw ones into spaces."""
    s = s.replace("&", "&amp;").replace("\\", "\\\\").replace('"', '\\"')
    if label:
        return '"' + s.replace("\r", "").replace("\n", "\\n") + '"'
    return '"' + s.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;") + '"'


def html(s: str) -> str:
    """Text for an HTML-like label (the legend table)."""
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def attrs(d: Mapping[str, object]) -> str:
    """``[k=v ...]`` in ``d``'s order: numbers bare, ``Raw`` as is, everything else escaped."""
    parts = []
    for k, v in d.items():
        if isinstance(v, Raw):
            parts.append(f"{k}={v.text}")
        elif isinstance(v, int | float) and not isinstance(v, bool):
            parts.append(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}")
        else:
            parts.append(f"{k}={esc(str(v), label=k == 'label')}")
    return "[" + " ".join(parts) + "]"
