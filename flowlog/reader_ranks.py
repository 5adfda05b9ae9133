"""A run written by several torch.distributed ranks, one database file each, read as one run.

The run's metadata combines its ranks' (status: crashed if any rank crashed, else running if
any runs, else finished, so one dead rank shows); every read takes a ``rank`` and, without
one, reads the first rank that has the tag. The change token is the tuple of the ranks'
tokens, so a commit to any rank refreshes the run's cached answers.
"""

from __future__ import annotations

import dataclasses

from flowlog.provider import RankInfo, RunInfo, TagInfo

_STATUS_ORDER = ("crashed", "running", "finished")  # the first one present wins


class RankedRun:
    """One run directory holding ``flowlog.rank<R>.db`` files (and maybe a ``flowlog.db``)."""

    def __init__(self, name: str, path: str, parts: list[tuple[int | None, object]]):
        self.name = name
        self.path = path  # the run directory
        self.parts = parts  # [(rank, reader.Run)], flowlog.db first, then by rank

    def __repr__(self) -> str:
        return f"RankedRun({self.name!r}, ranks={[r for r, _ in self.parts]})"

    def token(self) -> tuple:
        return tuple(run.token() for _, run in self.parts)

    @property
    def info(self) -> RunInfo:
        infos = [(rank, run.info) for rank, run in self.parts]
        ranks = tuple(
            RankInfo(rank, i.path, i.status, i.host, i.pid, i.heartbeat, i.last_step)
            for rank, i in infos
        )
        first = infos[0][1]
        statuses = {i.status for _, i in infos}
        ends = [i.end_time for _, i in infos]
        dropped: dict[str, int] = {}  # what any rank's writer had to drop, summed per tag
        kinds: dict[str, int] = {}  # each kind's highest step over the ranks
        for _, i in infos:
            for tag, count in (i.dropped or {}).items():
                dropped[tag] = dropped.get(tag, 0) + count
            for kind, step in (i.last_steps or {}).items():
                kinds[kind] = max(step, kinds.get(kind, step))
        return dataclasses.replace(
            first,
            name=self.name,
            path=self.path,
            start_time=min(i.start_time for _, i in infos),
            end_time=None if None in ends else max(ends),
            status=next(s for s in _STATUS_ORDER if s in statuses),
            last_step=max(kinds.values(), default=None),
            heartbeat=max(i.heartbeat for _, i in infos),
            token=tuple(i.token for _, i in infos),
            ranks=ranks,
            dropped=dropped,
            last_steps=kinds,
        )

    def part(self, rank: int | None = None, tag: str | None = None):
        """The rank's reader; without a rank, the first one that has ``tag`` (or the first)."""
        if rank is not None:
            for r, run in self.parts:
                if r == rank:
                    return run
            raise KeyError(f"run {self.name!r} has no rank {rank}")
        if tag is not None:
            for _, run in self.parts:
                if run.has_tag(tag):
                    return run
        return self.parts[0][1]

    def tags(self, kind: str | None = None) -> list[TagInfo]:
        """The union of the ranks' tags; each described by the first rank that has it."""
        seen: dict[str, TagInfo] = {}
        for _, run in self.parts:
            for info in run.tags(kind):
                seen.setdefault(info.tag, info)
        return list(seen.values())

    # run-level records come from the first rank (rank 0 logs them in a DDP script)
    def trials(self):
        return self.parts[0][1].trials()

    def hparams(self):
        return self.parts[0][1].hparams()

    def graph(self):
        return self.parts[0][1].graph()

    def custom_scalars(self):
        return self.parts[0][1].custom_scalars()

    def watched_nodes(self):
        return sorted({n for _, run in self.parts for n in run.watched_nodes()})

    def watch_stats(self, node: str):
        for _, run in self.parts:
            if node in run.watched_nodes():
                return run.watch_stats(node)
        raise KeyError(f"run {self.name!r} has no statistics for node {node!r}")

    def numerics(self):
        return [finding for _, run in self.parts for finding in run.numerics()]

    def close(self) -> None:
        for _, run in self.parts:
            run.close()
