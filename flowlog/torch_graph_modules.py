"""The module-level graph of a model ``torch.export`` cannot take whole: one node per leaf
module call, edges from the tensors that flow between them.

The model runs once, eagerly, on the example input: forward hooks on the leaf modules make the
nodes, and a ``TorchFunctionMode`` carries each tensor's producers through the functional code
between modules (``torch.relu(x)``, ``x + residual``), so a leaf's inputs point at the leaves
that made them. Data-dependent control flow is no obstacle: the branch the input takes is the
graph. Names follow :mod:`flowlog.torch_graph`: the call of leaf ``layer1.0.conv1`` is node
``layer1/0/conv1/Conv2d`` in scope ``layer1/0/conv1``, beside its ``weight`` variable node.
"""

from __future__ import annotations

import functools
import inspect

from flowlog.torch_common import (
    CaptureError,
    Names,
    param_names,
    scope_of_module,
    state_kept,
    tensor_meta,
    tensors,
)


class _Tracer:
    def __init__(self, model):
        self.names = Names()
        self.var_names = param_names(model)
        self.names.taken.update(self.var_names.values())  # a forward arg ``x`` beside param x
        self.added: set[str] = set()  # variable nodes made so far
        self.trainable = {id(p) for p in model.parameters() if p.requires_grad}
        self.trainable_names: list[str] = []  # in the order their nodes are added
        self.nodes: list[dict] = []
        self.prov: dict[int, tuple[str, ...]] = {}
        self.keep: list = []  # tensors seen, held so their ids are not reused mid-capture
        self.stack: list = []  # one entry per leaf call in progress (None: nested, ignored)

    # ---------------------------------------------------------------- provenance
    def sources(self, obj) -> list[str]:
        out: dict[str, None] = {}
        for t in tensors(obj):
            if id(t) in self.var_names:
                out[self.variable(t)] = None
            for src in self.prov.get(id(t), ()):
                out[src] = None
        return list(out)

    def mark(self, obj, producers) -> None:
        producers = tuple(producers)
        for t in tensors(obj):
            if id(t) not in self.var_names:
                self.prov[id(t)] = producers
                self.keep.append(t)

    def variable(self, tensor) -> str:
        name = self.var_names[id(tensor)]
        if name not in self.added:
            self.added.add(name)
            shape, dtype, attrs = tensor_meta(tensor)
            is_param = id(tensor) in self.trainable or tensor.__class__.__name__ == "Parameter"
            if id(tensor) in self.trainable:
                self.trainable_names.append(name)
            self.nodes.append({
                "name": name, "op": "Parameter" if is_param else "Buffer", "inputs": [],
                "kind": "variable", "scope": name.rpartition("/")[0], "shape": shape,
                "dtype": dtype, "attrs": attrs,
            })  # fmt: skip
        return name

    def placeholders(self, model, args, kwargs) -> None:
        try:
            bound = inspect.signature(model.forward).bind(*args, **kwargs).arguments
        except (TypeError, ValueError):
            bound = {f"input_{i}": a for i, a in enumerate(args)} | dict(kwargs)
        for arg_name, value in bound.items():
            for i, t in enumerate(tensors(value)):
                name = self.names.claim(arg_name if i == 0 else f"{arg_name}_{i}")
                shape, dtype, attrs = tensor_meta(t)
                self.nodes.append({
                    "name": name, "op": "Placeholder", "inputs": [], "kind": "placeholder",
                    "scope": "", "shape": shape, "dtype": dtype, "attrs": attrs,
                })  # fmt: skip
                self.mark(t, [name])

    # ---------------------------------------------------------------- leaf hooks
    def enter(self, path, module, args, kwargs):
        if self.stack:
            self.stack.append(None)
            return
        own = list(module.parameters(recurse=False)) + list(module.buffers(recurse=False))
        inputs = self.sources((args, kwargs)) + [self.variable(t) for t in own]
        self.stack.append((path, list(dict.fromkeys(inputs))))

    def leave(self, module, output):
        entry = self.stack.pop()
        if entry is None:
            return
        path, inputs = entry
        scope = scope_of_module(path)
        kind = type(module).__name__
        name = self.names.claim(f"{scope}/{kind}" if scope else kind)
        shape, dtype, attrs = tensor_meta(output)
        attrs["module"] = kind
        node = {"name": name, "op": kind, "inputs": inputs, "kind": "op", "scope": scope}
        self.nodes.append({**node, "shape": shape, "dtype": dtype, "attrs": attrs})
        self.mark(output, [name])

    def description(self) -> dict:
        return {"nodes": self.nodes, "trainable": self.trainable_names, "capture": "modules"}


def _provenance_mode(tracer):
    from torch.overrides import TorchFunctionMode

    class Provenance(TorchFunctionMode):
        """Outside leaf modules, an op's outputs inherit its inputs' producers."""

        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            if not tracer.stack:
                tracer.mark(out, tracer.sources((args, kwargs)))
            return out

    return Provenance()


def describe_by_modules(model, args: tuple, kwargs: dict) -> dict:
    """Run ``model(*args, **kwargs)`` once and describe it at leaf-module granularity."""
    tracer = _Tracer(model)
    handles = []
    for path, module in model.named_modules():
        if next(module.children(), None) is None:
            handles.append(module.register_forward_pre_hook(
                functools.partial(_pre, tracer, path), with_kwargs=True))  # fmt: skip
            handles.append(module.register_forward_hook(functools.partial(_post, tracer)))
    try:
        with state_kept(model):
            tracer.placeholders(model, args, kwargs)
            with _provenance_mode(tracer):
                model(*args, **kwargs)
    except Exception as exc:
        raise CaptureError(
            f"add_graph: {type(model).__name__} could not run on the example input "
            f"({type(exc).__name__}: {exc}); no graph was logged"
        ) from exc
    finally:
        for handle in handles:
            handle.remove()
    return tracer.description()


def _pre(tracer, path, module, args, kwargs):
    tracer.enter(path, module, args, kwargs)


def _post(tracer, module, args, output):
    tracer.leave(module, output)
