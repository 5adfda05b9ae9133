"""Which runs are selected by default, what a run appearing live does to the selection, and the
"showing N of M runs" note of the runs panel (plain functions on RUNS_INFO entries, no Dash).

A logdir of many runs (a sweep of hundreds) starts with only the ``MAX_DEFAULT_RUNS`` most
recent runs selected, so the first charts are small and quick; one click on "show all" selects
every run (each chart then stays small through its payload budget, ``chart_budget``).

``MAX_DEFAULT_RUNS = 20``: up to 20 lines a chart keeps today's full resolution within its
payload budget (``chart_budget.FULL_RES_LINES``), so the default view looks exactly as it did;
20 lines are about what a chart and its legend can still tell apart (the palette has 20
colours); and it lies between W&B's default of 10 runs per chart and TensorBoard's 40.
"""

from __future__ import annotations

MAX_DEFAULT_RUNS = 20


def most_recent(info: list[dict], n: int = MAX_DEFAULT_RUNS) -> list[str]:
    """The names of the ``n`` runs of ``info`` that started last (a run without a start time
    counts as the oldest; ties go by name), in ``info``'s order."""
    if n <= 0:
        return []
    order = sorted(info, key=lambda r: (r.get("start_time") or 0.0, r["name"]), reverse=True)
    keep = {r["name"] for r in order[:n]}
    return [r["name"] for r in info if r["name"] in keep]


def default_selection(info: list[dict], cap: int = MAX_DEFAULT_RUNS) -> list[str]:
    """What a new page selects: every run when there are at most ``cap``, else the ``cap``
    most recent."""
    return most_recent(info, cap)


def with_new_runs(
    checked: set[str], info: list[dict], known: set[str], cap: int = MAX_DEFAULT_RUNS
) -> set[str]:
    """The checked runs once the runs of ``info`` not in ``known`` (new since the page drew its
    list) are taken in.

    * The selection is still the default one (``cap`` most recent of the known runs, i.e. all
      of them under the cap): it stays the default of all runs now, as a reload would show;
      under the cap that checks every new run (as before there was a cap), above it the new
      runs push out the oldest.
    * The user asked for every run (all known runs checked, more than ``cap``): new runs are
      checked too.
    * A selection of the user's own: new runs are checked, most recent first, while fewer than
      ``cap`` runs are checked; the others stay unchecked and the note's count tells of them.
    """
    names = [r["name"] for r in info]
    new = [n for n in names if n not in known]
    if not new:
        return set(checked)
    old_info = [r for r in info if r["name"] in known]
    old = {r["name"] for r in old_info}
    mine = set(checked) & set(names)
    if mine == set(most_recent(old_info, cap)):
        return (set(checked) - old) | set(default_selection(info, cap))
    if len(old) > cap and old <= mine:
        return set(checked) | set(new)
    room = max(cap - len(mine), 0)
    return set(checked) | set(most_recent([r for r in info if r["name"] in set(new)], room))


def selection_note(shown: int, checked: int, total: int, cap: int = MAX_DEFAULT_RUNS):
    """``(text, mode)`` of the note under the panel's head: ``mode`` "capped" offers "show
    all", "all" offers going back to the ``cap`` most recent, "" hides the note (a logdir of at
    most ``cap`` runs, where everything is shown by default). ``shown``: runs the charts draw
    (checked and matching the filter), ``checked``: runs checked."""
    if total <= cap:
        return "", ""
    hidden = checked - shown
    extra = f" ({hidden} more checked, hidden by the filter)" if hidden > 0 else ""
    if checked >= total:
        return f"showing all {total} runs{extra}", "all"
    return f"showing {shown} of {total} runs{extra}", "capped"
