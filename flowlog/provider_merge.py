"""Several providers seen as one: the runs of each, routed by name (the logdir's flowlog runs
beside its TensorBoard runs). A name two providers share gets the later one's label appended."""

from __future__ import annotations

import threading
from dataclasses import replace

from flowlog.provider import DataProvider, RunInfo, Unreadable

#: the read methods that take a run name first; each is routed to the provider that has it
RUN_METHODS = (
    "run_info", "change_token", "tags", "scalars", "scalars_downsampled", "scalars_since",
    "histograms", "texts", "hparams", "trials", "images", "image_png", "pr_curves",
    "custom_scalars", "graph", "watched_nodes", "watch_stats", "numerics",
)  # fmt: skip


class Router:
    """Routes :data:`RUN_METHODS` through ``self._route(run) -> (provider, its name)``."""

    def _route(self, run: str) -> tuple[DataProvider, str]:  # pragma: no cover
        raise NotImplementedError


def _routed(method: str):
    def call(self, run, *args, **kwargs):
        provider, inner = self._route(run)
        return getattr(provider, method)(inner, *args, **kwargs)

    call.__name__ = method
    call.__doc__ = f"DataProvider.{method}, on the provider that holds ``run``."
    return call


for _method in RUN_METHODS:
    setattr(Router, _method, _routed(_method))


class MergedProvider(Router):
    """``parts``: ``(provider, label)`` pairs; the first provider's names are kept as they are."""

    def __init__(self, parts: list[tuple[DataProvider, str]]):
        self.parts = parts
        self._names: dict[str, tuple[DataProvider, str]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MergedProvider({[p for p, _ in self.parts]!r})"

    @property
    def location(self) -> str:
        return self.parts[0][0].location

    def runs(self) -> list[RunInfo]:
        names: dict[str, tuple[DataProvider, str]] = {}
        out = []
        for provider, label in self.parts:
            for info in provider.runs():
                name = info.name
                if name in names:
                    name = f"{name} ({label})"
                names[name] = (provider, info.name)
                out.append(info if name == info.name else replace(info, name=name))
        with self._lock:
            self._names = names
        return sorted(out, key=lambda r: r.name)

    def warnings(self) -> list[str]:
        return [w for provider, _ in self.parts for w in provider.warnings()]

    def unreadable(self) -> list[Unreadable]:
        found = [u for provider, _ in self.parts for u in provider.unreadable()]
        return sorted(found, key=lambda u: u.name)

    def _route(self, run: str) -> tuple[DataProvider, str]:
        if not isinstance(run, str):
            raise TypeError(f"run name must be a str, got {type(run).__name__}")
        with self._lock:
            hit = self._names.get(run)
        if hit is None:
            self.runs()  # a run that appeared since the last discovery
            with self._lock:
                hit = self._names.get(run)
        if hit is None:
            # the first provider's own message (it knows unreadable runs) or a plain miss
            provider = self.parts[0][0]
            return provider, run
        return hit

    def close(self) -> None:
        for provider, _ in self.parts:
            close = getattr(provider, "close", None)
            if close is not None:
                close()
