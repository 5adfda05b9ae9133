"""What flowlog's torch modules share: names, tensor walking, quiet and side-effect-free runs.

torch is imported inside functions: importing flowlog never imports torch.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings


class CaptureError(ValueError):
    """Nothing at all could be captured of the model (it fails to run on the example input)."""


def scope_of_module(path: str) -> str:
    """``"layer1.0.conv1"`` → ``"layer1/0/conv1"`` (the root module is ``""``)."""
    return path.replace(".", "/")


def param_names(model) -> dict[int, str]:
    """``id(tensor)`` → node name for every parameter and buffer, tied ones under their first
    path (the name ``named_parameters()`` reports and ``watch`` logs under)."""
    names: dict[int, str] = {}
    for path, tensor in list(model.named_parameters()) + list(model.named_buffers()):
        names.setdefault(id(tensor), scope_of_module(path))
    return names


@contextlib.contextmanager
def quiet_torch():
    """Keep torch.export's warnings and failure dumps (it prints the partial graph to stderr)
    out of the user's training output."""
    loggers = [lg for name, lg in logging.root.manager.loggerDict.items()
               if name.split(".", 1)[0] == "torch" and isinstance(lg, logging.Logger)]  # fmt: skip
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


class Names:
    """Unique node names: ``conv2d``, ``conv2d_1``, … per scope, never a taken name."""

    def __init__(self):
        self.taken: set[str] = set()

    def claim(self, name: str) -> str:
        base, k = name, 0
        while name in self.taken:
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name


def tensor_meta(value) -> tuple[list | None, str | None, dict]:
    """``(shape, dtype, attrs)`` of a tensor (or a tuple of them) seen during capture."""
    import torch

    if isinstance(value, torch.Tensor):
        shape = [int(d) if isinstance(d, int) or hasattr(d, "__index__") else None
                 for d in value.shape]  # fmt: skip
        return shape, str(value.dtype).removeprefix("torch."), {"device": str(value.device)}
    if isinstance(value, (tuple, list)):
        parts = [tensor_meta(v) for v in value]
        outputs = [{"shape": s, "dtype": d} for s, d, _ in parts if d is not None]
        first = next(((s, d, a) for s, d, a in parts if d is not None), (None, None, {}))
        return first[0], first[1], {**first[2], "outputs": outputs} if outputs else {}
    return None, None, {}


def tensors(obj):
    """Every tensor inside nested tuples/lists/dicts (a model's inputs or outputs)."""
    import torch

    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for item in obj:
            yield from tensors(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from tensors(item)


@contextlib.contextmanager
def state_kept(model):
    """Run the model without leaving a trace: buffers (BatchNorm statistics) and RNG restored."""
    import torch

    saved = [(b, b.detach().clone()) for b in model.buffers()]
    devices = sorted({t.device.index or 0 for t in model.parameters() if t.is_cuda})
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        try:
            yield
        finally:
            for buf, value in saved:
                buf.copy_(value)


@contextlib.contextmanager
def flowlog_running(model):
    """Mark ``model`` as run by flowlog itself (a graph capture, a numerics re-run), so the
    watch and numerics hooks let those calls pass (:func:`is_flowlog_running`)."""
    model._flowlog_capturing = True
    try:
        yield
    finally:
        model._flowlog_capturing = False


def is_flowlog_running(model) -> bool:
    return getattr(model, "_flowlog_capturing", False)
