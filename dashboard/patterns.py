"""Every regex a user types into the dashboard (run, tag and group filters) compiles here.

Python's ``re`` backtracks: ``(.|.)*!`` against a 25-character run name takes seconds and
doubles per character, and a callback stuck in it holds a server thread (and the GIL) for
minutes. RE2 (``google-re2``) matches in time linear in the text, whatever the pattern, so no
filter can stall the server. The price is RE2's syntax: no backreferences and no lookaround;
such a pattern gets a message saying so instead of a match.

API differences from ``re`` that callers rely on: flags are RE2 options (case-insensitivity is
``ignore_case=True`` here), errors carry the reason as bytes (turned into text here), and a
``str`` is matched as UTF-8 (a name with unpaired surrogates, from a non-UTF-8 file name, is
matched as its surrogate-escaped bytes).
"""

from __future__ import annotations

import re2

MAX_PATTERN = 1000  # characters: a filter, not a program (RE2's compile cost grows with size)
SYNTAX_NOTE = "filters use RE2 syntax: no backreferences or lookaround"

# (prefix, what it is) of the constructs RE2 rejects that users bring from Python/PCRE
_UNSUPPORTED = (
    ("(?<=", "lookbehind"),
    ("(?<!", "negative lookbehind"),
    ("(?=", "lookahead"),
    ("(?!", "negative lookahead"),
    ("(?P=", "named backreference"),
    ("(?>", "atomic group"),
    ("(?(", "conditional group"),
)


class PatternError(ValueError):
    """A pattern that cannot be used; the message says why, for the filter's error line."""


class Pattern:
    """A compiled filter: ``search(text)`` is a match object or None, as with ``re``."""

    __slots__ = ("source", "_rx")

    def __init__(self, source: str, rx):
        self.source = source
        self._rx = rx

    @property
    def groups(self) -> int:
        return self._rx.groups

    def search(self, text: str):
        try:
            return self._rx.search(text)
        except UnicodeEncodeError:  # lone surrogates (a non-UTF-8 file name): match the bytes
            return self._rx.search(text.encode("utf-8", "surrogateescape"))


def first_group(match) -> str:
    """The first capture group of a match (the whole match when there is none or it did not
    take part), as text."""
    got = match.group(1) if match.groups() else None
    if got is None:
        got = match.group(0)
    return got if isinstance(got, str) else got.decode("utf-8", "replace")


def unsupported(pattern: str) -> str | None:
    """The first construct of ``pattern`` that RE2 does not support, in words (``\\1
    backreference``), or None. Escapes and character classes are skipped."""
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if not in_class and nxt in "123456789":
                return f"\\{nxt} backreference"
            if not in_class and nxt == "Z":
                return "\\Z (RE2 writes the end of the text as \\z)"
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":  # "[]...]": a leading ] is literal
                i += 1
        else:
            for prefix, what in _UNSUPPORTED:
                if pattern.startswith(prefix, i):
                    return f"{prefix} {what}"
            if c in "*+?}" and pattern[i + 1 : i + 2] == "+" and i > 0:
                return f"{c}+ possessive repetition"
        i += 1
    return None


def _reason(exc: Exception) -> str:
    arg = exc.args[0] if exc.args else exc
    return arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)


def compile_pattern(pattern, what: str = "filter", ignore_case: bool = False) -> Pattern | None:
    """The RE2 regex of a filter (None for an empty one). Raises :class:`PatternError`, a
    ``ValueError``, with a message naming ``what`` for a pattern that cannot be used."""
    if pattern is None or pattern == "":
        return None
    if not isinstance(pattern, str):
        raise PatternError(f"bad {what} regex: expected text, got {type(pattern).__name__}")
    shown = pattern if len(pattern) <= 60 else pattern[:57] + "..."
    if len(pattern) > MAX_PATTERN:
        raise PatternError(
            f"{what} regex too long: {len(pattern)} characters (at most {MAX_PATTERN})"
        )
    options = re2.Options()
    options.log_errors = False  # RE2 would print every rejected pattern to stderr
    options.case_sensitive = not ignore_case
    try:
        return Pattern(pattern, re2.compile(pattern, options))
    except re2.error as exc:
        construct = unsupported(pattern)
        if construct is not None:
            raise PatternError(
                f"{what} regex '{shown}': pattern not supported: {construct} ({SYNTAX_NOTE})"
            ) from None
        raise PatternError(f"bad {what} regex '{shown}': {_reason(exc)}") from None
    except UnicodeEncodeError:
        raise PatternError(f"bad {what} regex '{shown}': not valid Unicode text") from None
