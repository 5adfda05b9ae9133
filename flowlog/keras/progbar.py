"""Keras' progress line: ``32/32 [==============================] - 0s 3ms/step - loss: 0.1234``.

On a terminal (verbose=1) the line is redrawn in place with ``\\r`` at most every 50 ms; when
stdout is not a terminal (a log file, pytest's capture) only the final line of each epoch is
written, so logs stay one line per epoch. ``verbose=2`` writes ``32/32 - 0s - loss: … -
3ms/step`` once per epoch; ``verbose=0`` writes nothing.
"""

from __future__ import annotations

import sys
import time

WIDTH = 30
INTERVAL = 0.05


def format_value(value) -> str:
    return f"{value:.4f}" if abs(value) > 1e-3 or value == 0 else f"{value:.4e}"


def format_logs(logs) -> str:
    return "".join(f" - {k}: {format_value(v)}" for k, v in logs.items())


def per_step(seconds) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def bar(current, target) -> str:
    digits = len(str(target))
    filled = int(WIDTH * current / target) if target else WIDTH
    arrow = ">" if current < target else "="
    body = ("=" * (filled - 1) + arrow if filled > 0 else "") + "." * (WIDTH - filled)
    return f"{current:{digits}d}/{target} [{body}]"


class Progbar:
    """One epoch's (or one evaluation's) progress; ``live`` when redrawn per batch."""

    def __init__(self, target: int, verbose: int = 1, stream=None):
        self.target, self.verbose = target, verbose
        self.stream = stream if stream is not None else sys.stdout
        isatty = getattr(self.stream, "isatty", None)
        self.live = verbose == 1 and bool(isatty and isatty())
        self.start = self._last = time.perf_counter()
        self._width = 0  # of the line drawn last, to blank its tail when redrawing

    def update(self, current: int, logs) -> None:
        """Redraw in place (terminals only, throttled)."""
        now = time.perf_counter()
        if not self.live or now - self._last < INTERVAL:
            return
        self._last = now
        eta = (now - self.start) / max(current, 1) * (self.target - current)
        self._draw(f"{bar(current, self.target)} - ETA: {eta:.0f}s{format_logs(logs)}")
        self.stream.flush()

    def _draw(self, line: str, end: str = "") -> None:
        pad = " " * max(self._width - len(line), 0) if self.live else ""
        self.stream.write(("\r" if self.live else "") + line + pad + end)
        self._width = len(line)

    def finish(self, logs) -> None:
        """The final line of the epoch, with time per step and every log entry."""
        if not self.verbose:
            return
        elapsed = time.perf_counter() - self.start
        step = per_step(elapsed / max(self.target, 1))
        if self.verbose == 2:
            line = f"{self.target}/{self.target} - {elapsed:.0f}s{format_logs(logs)} - {step}"
        else:
            done = bar(self.target, self.target)
            line = f"{done} - {elapsed:.0f}s {step}{format_logs(logs)}"
        self._draw(line, "\n")
        self.stream.flush()
