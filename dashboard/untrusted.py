"""What every view does with values from a request and with runs that fail to read.

Callback inputs come from the browser, so a crafted request can send anything (a number for a
run list, a dict for a name); the views read them through these checks instead of trusting
their types. A run can fail on its own — a damaged file (``ReadError``), a run that vanished or
a tag it lacks (``KeyError``), a tag of another kind (``ValueError``): the views catch those per
run, draw every other run, and show :func:`problem` for the one that failed.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Hashable

from flowlog.provider import ReadError

# what reading one run can raise (flowlog.provider's contract); anything else is a bug
RUN_ERRORS = (KeyError, ReadError, ValueError)
MAX_REASON = 160  # characters of a reason shown on a card (the full text is in its tooltip)


def is_name(value) -> bool:
    """Only a non-empty string can name a run, a tag or a node."""
    return isinstance(value, str) and bool(value)


def names(value) -> list[str]:
    """The names in a list from the browser (SELECTED_RUNS, checklist values), others dropped."""
    return [v for v in value if is_name(v)] if isinstance(value, list) else []


def runs_info(value) -> list[dict]:
    """RUNS_INFO's entries that are dicts with a name (a colour defaults to grey)."""
    if not isinstance(value, list):
        return []
    out = []
    for r in value:
        if isinstance(r, dict) and is_name(r.get("name")):
            color = r.get("color")
            out.append(r if isinstance(color, str) else {**r, "color": "#888888"})
    return out


def number(value, default: float) -> float:
    """A finite number from the browser (bools are not numbers), else ``default``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return value
    return default


def choice(value, allowed, default):
    """``value`` when it is one of ``allowed`` (hashable values only), else ``default``."""
    try:
        return value if value in allowed else default
    except TypeError:  # a list or dict from the request
        return default


def reason(exc: BaseException) -> str:
    """Why a read failed, in words: a KeyError's message without its quotes."""
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc) or type(exc).__name__


class ReadProblems:
    """Runs a view failed to read (``ReadError``), each under the change token it failed at:
    the runs panel marks them damaged with the reason until the run's file changes. One per
    provider (:func:`read_problems`), shared by the views and the panel."""

    def __init__(self):
        self._lock = threading.Lock()
        self._found: dict[str, tuple[Hashable, str]] = {}  # run -> (token, reason)

    def note(self, data, run: str, text: str) -> None:
        change_token = getattr(data, "change_token", None)
        try:
            token = change_token(run) if change_token is not None else None
        except RUN_ERRORS:
            token = None
        if token is None:
            return  # cannot tell when it would be stale: the view's own message is enough
        with self._lock:
            self._found[run] = (token, text)

    def current(self, data) -> dict[str, str]:
        """``{run: reason}`` of the problems still true (the run's token unchanged)."""
        with self._lock:
            found = dict(self._found)
        out = {}
        for run, (token, text) in found.items():
            try:
                same = data.change_token(run) == token
            except ReadError:
                same = True  # still cannot be read
            except (KeyError, ValueError):
                same = False  # gone
            if same:
                out[run] = text
            else:
                with self._lock:
                    if self._found.get(run, (None,))[0] == token:
                        del self._found[run]
        return out


_REGISTRIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_REGISTRIES_LOCK = threading.Lock()


def read_problems(data) -> ReadProblems:
    """The :class:`ReadProblems` of the provider ``data`` (the app's CachedProvider)."""
    with _REGISTRIES_LOCK:
        found = _REGISTRIES.get(data)
        if found is None:
            found = _REGISTRIES[data] = ReadProblems()
        return found


def problem(run: str, exc: BaseException, data=None) -> str:
    """``"run 'x' cannot be read: database disk image is malformed"``: the run's name and why,
    without the file's path (the runs panel's tooltip has it) and short enough for a card.
    With ``data`` (the provider), a ``ReadError`` is also noted for the runs panel."""
    text = _problem_text(run, exc)
    if data is not None and isinstance(exc, ReadError):
        read_problems(data).note(data, run, text)
    return text


def _problem_text(run: str, exc: BaseException) -> str:
    text = reason(exc)
    quoted = f"run {run!r}"
    if text.startswith(quoted):
        rest = text[len(quoted) :].lstrip()
        if rest.startswith("("):  # "run 'x' (/path/to/file) cannot be read: ..."
            close = rest.find(") ")
            rest = rest[close + 2 :] if close >= 0 else rest
        text = f"{quoted} {rest}"
    elif run not in text:
        text = f"{quoted}: {text}"
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"
