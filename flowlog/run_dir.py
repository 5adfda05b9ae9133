"""Where a ``SummaryWriter`` writes: torch's run-directory rules, the database file in the run
directory, and the torch.distributed rank that names that file.

A run is a directory, as in TensorBoard. One process writes ``<run>/flowlog.db``; under
``torchrun``/``torch.distributed`` (``WORLD_SIZE`` > 1 in the environment) rank R writes
``<run>/flowlog.rank<R>.db``, so no file ever has two writers and no lock spans processes or
hosts. The reader shows the rank files of one directory as one run.

torch is never imported here: when the caller's process has imported it and initialised a
process group, the group gives the rank and rank 0's default run name is shared through the
group's store.
"""

from __future__ import annotations

import datetime
import itertools
import logging
import os
import socket
import sys

from flowlog import schema

log = logging.getLogger(__name__)

DEFAULT_LOGDIR = "runs"
#: how long a rank > 0 waits for rank 0 to publish the default run name
AGREE_TIMEOUT_SECS = 120.0
_default_names = itertools.count()  # the n-th default-named writer of this process


def default_run_name(comment: str = "") -> str:
    """torch's default: ``<Mon><DD>_<HH>-<MM>-<SS>_<host><comment>``."""
    stamp = datetime.datetime.now().strftime("%b%d_%H-%M-%S")
    return f"{stamp}_{socket.gethostname()}{comment}"


def distributed_rank() -> tuple[int, int] | None:
    """``(rank, world_size)`` when this process is one of several torch.distributed ranks, else
    None: the initialised default process group's, else ``RANK``/``WORLD_SIZE`` from the
    environment (set by torchrun, or by the user before ``init_process_group``)."""
    group = _process_group_rank()
    if group is not None:
        return group if group[1] > 1 else None
    env = os.environ
    if "WORLD_SIZE" not in env:
        return None
    try:
        world = int(env["WORLD_SIZE"])
        rank = int(env.get("RANK", "0"))
    except ValueError:
        log.warning("flowlog: ignoring non-integer RANK/WORLD_SIZE in the environment")
        return None
    if world <= 1 or not 0 <= rank < world:
        return None
    return rank, world


def database_file(run_dir: str, rank: tuple[int, int] | None) -> str:
    """The database this process writes in ``run_dir``.

    A run written with the single-file layout (``<run>.flowlog.db`` beside an absent or
    database-less directory) keeps being appended to, so resuming an old run needs no
    migration.
    """
    legacy = run_dir.rstrip("/\\") + schema.RUN_SUFFIX
    name = schema.RUN_FILE if rank is None else schema.RANK_FILE.format(rank=rank[0])
    path = os.path.join(run_dir, name)
    if rank is None and os.path.isfile(legacy) and not os.path.exists(path):
        return legacy
    return path


def claim_default_run_dir(logdir: str, comment: str) -> str:
    """Create a fresh run directory with torch's default name (``_2``, ``_3``… appended when
    another process took the name in the same second) and return its path."""
    os.makedirs(logdir, exist_ok=True)
    base = default_run_name(comment)
    for i in range(1, 1000):
        path = os.path.join(logdir, base if i == 1 else f"{base}_{i}")
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"cannot find a free run name like {base!r} in {logdir}")


def default_run_dir(logdir: str, comment: str, rank: tuple[int, int] | None) -> str:
    """The default run directory; every rank of a distributed job gets rank 0's.

    Rules, in order: (1) a torch.distributed process group is initialised: rank 0 claims the
    directory and publishes it in the group's store without waiting for anyone (a writer on
    rank 0 only is fine); the n-th default-named writer of a rank > 0 waits up to
    ``AGREE_TIMEOUT_SECS`` for rank 0's n-th, then raises; (2) ``TORCHELASTIC_RUN_ID`` is set
    and not ``"none"`` (``torchrun --rdzv-id``, ``--standalone``): the run is
    ``<logdir>/<run id><comment>``; (3) otherwise each rank makes its own default run, with a
    warning saying how to join them.
    """
    if rank is None:
        return claim_default_run_dir(logdir, comment)
    store = _process_group_store()
    key = f"flowlog/default_run_dir/{next(_default_names)}"
    if store is not None:
        if rank[0] == 0:
            path = claim_default_run_dir(logdir, comment)
            store.set(key, path)
            return path
        return _wait_for(store, key)
    run_id = _elastic_run_id()
    if run_id is not None:
        path = os.path.join(logdir, f"{run_id}{comment}")
        os.makedirs(path, exist_ok=True)
        return path
    log.warning(
        "flowlog: rank %d of %d has no process group and no TORCHELASTIC_RUN_ID: it writes a "
        "run of its own; call torch.distributed.init_process_group() before SummaryWriter(), "
        "or pass log_dir, to write all ranks into one run",
        *rank,
    )
    return claim_default_run_dir(logdir, comment)


def _elastic_run_id() -> str | None:
    """torchrun's job id (``--rdzv-id``; a fresh uuid with ``--standalone``) made one safe path
    component, or None when unset or ``"none"`` (plain ``torchrun``, static rendezvous)."""
    run_id = os.environ.get("TORCHELASTIC_RUN_ID", "").strip()
    if not run_id or run_id == "none":
        return None
    run_id = run_id.replace("/", "_").replace("\\", "_").replace("\0", "_")
    return "_" + run_id if run_id in (".", "..") else run_id


def _distributed():
    """``torch.distributed`` when the caller has imported torch and initialised the default
    process group, else None."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        dist = torch.distributed
        return dist if dist.is_available() and dist.is_initialized() else None
    except (AttributeError, RuntimeError):
        return None


def _process_group_rank() -> tuple[int, int] | None:
    dist = _distributed()
    if dist is None:
        return None
    try:
        return dist.get_rank(), dist.get_world_size()
    except (AttributeError, RuntimeError, ValueError):
        return None


def _process_group_store():
    """The default process group's key-value store, or None (torch not imported by the
    caller, no group initialised, or a torch without the store accessor)."""
    dist = _distributed()
    if dist is None:
        return None
    try:
        return dist.distributed_c10d._get_default_store()
    except (AttributeError, RuntimeError, ValueError):
        return None


def _wait_for(store, key: str) -> str:
    import datetime as dt

    try:
        store.wait([key], dt.timedelta(seconds=AGREE_TIMEOUT_SECS))
    except RuntimeError as exc:
        raise RuntimeError(
            f"flowlog: rank 0 did not publish the default run directory within "
            f"{AGREE_TIMEOUT_SECS:.0f} s ({exc}); create a SummaryWriter on every rank, or "
            "pass the same log_dir on every rank"
        ) from None
    return store.get(key).decode()
