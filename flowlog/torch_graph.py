"""``add_graph(model, input_to_model)`` for ``torch.nn.Module``: a contract-1 graph description.

The capture is ``torch.export`` (non-strict): it runs the model's Python on fake tensors, so it
follows shape-dependent control flow, needs no scripting, records each aten op with its
``nn_module_stack`` and static shapes, and lists parameters and buffers by their module path.
``torch.jit.trace`` (what ``torch.utils.tensorboard`` uses) loses module scopes on many models
(pytorch#30812) and ``torch.fx`` stops at any control flow inside ``nn.LSTM`` or
``nn.TransformerEncoder``. A model export cannot take whole (data-dependent control flow,
unsupported ops) is captured per module instead by :mod:`flowlog.torch_graph_modules`.

Naming (the watch statistics and numerics findings use the same names):

- module path ``layer1.0.conv1`` → scope ``layer1/0/conv1``;
- parameter/buffer ``layer1.0.conv1.weight`` → variable node ``layer1/0/conv1/weight`` (a tied
  parameter is one node, named by its first path as ``named_parameters()`` gives it);
- an op → ``<scope>/<aten op>`` (``layer1/0/conv1/conv2d``; ``_1``, ``_2`` … when repeated);
- inputs → placeholder nodes named after the ``forward`` arguments.

torch is imported lazily; nothing here is imported unless a torch module is logged.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping

from flowlog.torch_common import Names, param_names, quiet_torch, scope_of_module, tensor_meta
from flowlog.torch_graph_modules import describe_by_modules

__all__ = ["describe_module", "describe_call", "split_inputs"]


def split_inputs(input_to_model) -> tuple[tuple, dict]:
    """torch's ``input_to_model`` as ``(args, kwargs)``: a tensor, a tuple/list of positional
    inputs, or a dict of keyword inputs."""
    if input_to_model is None:
        raise ValueError(
            "add_graph: a torch.nn.Module needs input_to_model, an example input (a tensor, a "
            "tuple of positional inputs or a dict of keyword inputs) to run the model on"
        )
    if isinstance(input_to_model, Mapping):
        bad = [k for k in input_to_model if not isinstance(k, str)]
        if bad:
            raise TypeError(f"add_graph: keyword inputs need str keys, got {bad[0]!r}")
        return (), dict(input_to_model)
    if isinstance(input_to_model, (tuple, list)):
        return tuple(input_to_model), {}
    return (input_to_model,), {}


def describe_module(model, input_to_model) -> dict:
    """The graph of ``model`` run on ``input_to_model``: op level when ``torch.export`` takes
    it whole, else module level with ``desc["note"]`` saying why. Raises :class:`CaptureError`
    only when the model cannot run on the input at all. The model's parameters, buffers and
    train/eval mode are left as they were."""
    args, kwargs = split_inputs(input_to_model)
    return describe_call(model, args, kwargs)


def describe_call(model, args: tuple, kwargs: dict) -> dict:
    """:func:`describe_module` for a call ``model(*args, **kwargs)``."""
    import torch

    try:
        with quiet_torch():
            program = torch.export.export(model, tuple(args), dict(kwargs), strict=False)
        return _describe_program(model, program)
    except Exception as exc:  # noqa: BLE001 - any export failure falls back to module level
        reason = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:300]}"
    desc = describe_by_modules(model, args, kwargs)
    desc["note"] = (
        "captured per module (one node per leaf module), because torch.export could not take "
        f"the model whole: {reason}"
    )
    return desc


# --------------------------------------------------------------------------- export path
def _op_name(target) -> str:
    opname = getattr(target, "_opname", None)  # torch OpOverload: "conv2d"
    if opname:
        return str(opname)
    return getattr(target, "__name__", None) or str(target)


def _module_info(node) -> tuple[str, str | None]:
    """``(scope, module type)`` of an fx node from its innermost ``nn_module_stack`` entry."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return "", None
    path, kind = list(stack.values())[-1]
    kind = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    return scope_of_module(str(path)), kind.rsplit(".", 1)[-1]


def _scalar_attrs(node) -> dict:
    """Non-tensor arguments of an aten op by schema name (stride, padding, eps, …)."""
    schema = getattr(node.target, "_schema", None)
    if schema is None:
        return {}
    out = {}
    values = list(node.args) + [node.kwargs.get(a.name) for a in schema.arguments[len(node.args) :]]
    for arg, value in zip(schema.arguments, values, strict=False):
        if isinstance(value, (bool, int, float, str)) or (
            isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) for v in value)
        ):
            out[arg.name] = list(value) if isinstance(value, (list, tuple)) else value
    return out


def _live_nodes(graph, user_outputs: set[str]) -> set[str]:
    """Nodes a user output depends on; drops buffer bookkeeping such as BatchNorm's
    ``num_batches_tracked += 1`` that feeds no output."""
    by_name = {n.name: n for n in graph.nodes}
    live: set[str] = set()
    stack = [by_name[n] for n in user_outputs if n in by_name]
    while stack:
        n = stack.pop()
        if n.name not in live:
            live.add(n.name)
            stack.extend(n.all_input_nodes)
    return live


def _describe_program(model, program) -> dict:
    from torch.export.graph_signature import InputKind, OutputKind

    graph = program.graph
    sig = program.graph_signature
    ids = param_names(model)
    by_path = dict(model.named_parameters(remove_duplicate=False))
    by_path.update(dict(model.named_buffers(remove_duplicate=False)))
    trainable_ids = {id(p) for p in model.parameters() if p.requires_grad}
    outputs = {s.arg.name for s in sig.output_specs if s.kind == OutputKind.USER_OUTPUT
               and hasattr(s.arg, "name")}  # fmt: skip
    live = _live_nodes(graph, outputs)
    specs = {s.arg.name: s for s in sig.input_specs if hasattr(s.arg, "name")}
    names = Names()
    alias: dict[str, str] = {}  # fx node name -> description node name
    nodes: list[dict] = []
    trainable: list[str] = []
    for fx in graph.nodes:
        if fx.name not in live or fx.op == "output":
            continue
        shape, dtype, attrs = tensor_meta(fx.meta.get("val"))
        if fx.op == "placeholder":
            spec = specs.get(fx.name)
            kind = getattr(spec, "kind", InputKind.USER_INPUT)
            if kind in (InputKind.PARAMETER, InputKind.BUFFER) and spec.target in by_path:
                tensor = by_path[spec.target]
                name = ids.get(id(tensor), scope_of_module(spec.target))
                if name in names.taken:  # a tied parameter used under a second path
                    alias[fx.name] = name
                    continue
                names.taken.add(name)
                is_param = kind == InputKind.PARAMETER
                if is_param and id(tensor) in trainable_ids:
                    trainable.append(name)
                node = {"name": name, "op": "Parameter" if is_param else "Buffer",
                        "kind": "variable", "scope": name.rpartition("/")[0]}  # fmt: skip
            else:
                const = kind not in (InputKind.USER_INPUT,)
                name = names.claim(fx.name if not const else f"constants/{fx.name}")
                node = {"name": name, "op": "Constant" if const else "Placeholder",
                        "kind": "constant" if const else "placeholder",
                        "scope": name.rpartition("/")[0]}  # fmt: skip
        elif fx.op == "call_function" and fx.target is operator.getitem:
            alias[fx.name] = alias.get(fx.args[0].name, fx.args[0].name)
            continue
        else:
            scope, module_type = _module_info(fx)
            op = _op_name(fx.target)
            name = names.claim(f"{scope}/{op}" if scope else op)
            attrs.update(_scalar_attrs(fx))
            attrs["target"] = str(fx.target)
            if module_type:
                attrs["module"] = module_type
            node = {"name": name, "op": op, "kind": "op", "scope": scope}
            node["inputs"] = _unique(alias.get(i.name, i.name) for i in fx.all_input_nodes)
        alias[fx.name] = node["name"]
        node.setdefault("inputs", [])
        node.update(shape=shape, dtype=dtype, attrs=attrs)
        nodes.append(node)
    return {"nodes": nodes, "trainable": trainable, "capture": "torch.export"}


def _unique(names) -> list[str]:
    return list(dict.fromkeys(names))
