"""``watch(model, check_numerics=True)``: the first module — and op — that went non-finite.

Every module's forward output, every leaf module's input gradient and every parameter's
gradient gets one device-side check, its ``aminmax`` (NaN-propagating; an Inf shows as the
min or the max), appended in execution order: forward outputs as modules return (a child before its
parent), gradients as backward produces them. At the end of a step the flags are copied to the
host together — one sync per step, not one per module — and the first non-finite one is the
finding. For a forward finding the module is run again, op by op, on the inputs it had, to
name the first op that went non-finite; that op is placed on the logged graph's op node of the
same aten name in the module's scope (the module's last op when no name matches, its node when
the graph is per module). Findings go to the same table, in the same format, as the engine's.

The inputs of each module call are kept (by reference) until the step ends, for that re-run.
"""

from __future__ import annotations

import inspect

import numpy as np

from flowlog.torch_common import (
    flowlog_running,
    is_flowlog_running,
    param_names,
    scope_of_module,
    state_kept,
    tensors,
)

MAX_FLAGS = 4096  # a step with more checks (long eval loops) is resolved early
# Tensor operators as the graph names their aten op. The Python-level ones (``__rdiv__``,
# ``__rpow__``, …) are looked into where torch can (redispatch_function); these names serve
# torch versions without it.
_DUNDER = {"truediv": "div", "iadd": "add_", "isub": "sub_", "imul": "mul_", "itruediv": "div_",
           "radd": "add", "rmul": "mul", "rtruediv": "reciprocal", "rdiv": "reciprocal",
           "rpow": "pow", "floordiv": "floor_divide", "rfloordiv": "floor_divide",
           "rmod": "remainder"}  # fmt: skip


def _extremes(t):
    """``(min, max)`` of ``t`` as one device op (``aminmax`` propagates NaN; an Inf shows in
    one of the two); None for what is not a non-empty floating tensor. ``vector_norm(inf)``
    would say the same in one tensor but runs ~15x slower on CPU."""
    import torch

    if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.numel() == 0:
        return None
    return torch.aminmax(t.detach())


def summary(name: str, t) -> dict:
    """The engine's input summary: shape, min/max over finite values, NaN and Inf counts."""
    arr = t.detach().cpu().double().numpy()
    finite = arr[np.isfinite(arr)]
    return {
        "name": name,
        "shape": list(arr.shape),
        "min": float(finite.min()) if finite.size else None,
        "max": float(finite.max()) if finite.size else None,
        "nan": int(np.isnan(arr).sum()),
        "inf": int(np.isinf(arr).sum()),
    }


class NumericsCheck:
    def __init__(self, writer, model, grads_at_step_end: bool = False):
        """``grads_at_step_end``: check parameter gradients once, when the step ends (before
        ``optimizer.step()``, when they are final), instead of in a hook per parameter."""
        self.writer, self.model = writer, model
        self.grads_at_step_end = grads_at_step_end
        self.params = []
        self.step = 0
        self.flags: list = []
        self.events: list[tuple] = []  # (phase, module path or param node, call index)
        self.calls: list[tuple] = []  # (path, module, args, kwargs) per module call
        self._open: list[int] = []
        self.param_nodes = param_names(model)

    def install(self) -> list:
        handles = []
        import torch

        for path, module in self.model.named_modules():
            if type(module) is torch.nn.Sequential:
                continue  # no code of its own: its output is its last child's, checked there
            leaf = next(module.children(), None) is None
            handles.append(module.register_forward_pre_hook(self._pre(path, leaf),
                                                            with_kwargs=True))  # fmt: skip
            handles.append(module.register_forward_hook(self._post(path), with_kwargs=True))
        seen = set()
        for p in self.model.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                self.params.append((self.param_nodes[id(p)], p))
        if not self.grads_at_step_end:
            for node, p in self.params:
                handles.append(p.register_post_accumulate_grad_hook(self._param(node)))
        return handles

    def _busy(self) -> bool:
        return is_flowlog_running(self.model)

    def _flag(self, tensor, event) -> None:
        flag = _extremes(tensor)
        if flag is not None:
            self.flags.extend(flag)
            self.events.append(event)
            if len(self.flags) >= 2 * MAX_FLAGS:
                self.finish_step()

    # ---------------------------------------------------------------- hooks
    def _pre(self, path, leaf):
        def hook(module, args, kwargs):
            if self._busy():
                return
            index = len(self.calls)
            self.calls.append((path, module, args, kwargs))  # replaced by what forward got
            self._open.append(index)
            if leaf:
                for t in tensors((args, kwargs)):
                    if getattr(t, "requires_grad", False):
                        t.register_hook(self._input_grad(path, index))

        return hook

    def _post(self, path):
        def hook(module, args, kwargs, output):
            if self._busy() or not self._open:
                return
            index = self._open.pop()
            # the inputs forward received, after any user pre-hooks: what a re-run must get
            self.calls[index] = (path, module, args, kwargs)
            for t in tensors(output):
                self._flag(t, ("forward", path, index))

        return hook

    def _input_grad(self, path, index):
        def hook(grad):
            self._flag(grad, ("backward", path, index))

        return hook

    def _param(self, node):
        def hook(param):
            if param.grad is not None and not self._busy():
                self._flag(param.grad, ("backward", node, None))

        return hook

    # ---------------------------------------------------------------- resolution
    def finish_step(self) -> None:
        """One host copy of the step's flags; record the first non-finite one, if any."""
        import torch

        if self.grads_at_step_end:  # backward order: the last module's parameters first
            for node, p in reversed(self.params):
                flag = _extremes(p.grad) if self.flags and p.grad is not None else None
                if flag is not None:
                    self.flags.extend(flag)
                    self.events.append(("backward", node, None))
        flags, events, calls = self.flags, self.events, self.calls
        self.flags, self.events, self.calls, self._open = [], [], [], []
        if not flags:
            return
        device = flags[0].device
        host = torch.stack([f.to(device, torch.float32) for f in flags]).cpu().numpy()
        host = host.reshape(-1, 2)  # (min, max) per check, in execution order
        bad = np.flatnonzero(~np.isfinite(host).all(axis=1))
        if bad.size == 0 or self.writer.closed:
            return
        i = int(bad[0])
        kind = "nan" if np.isnan(host[i]).any() else "inf"
        phase, where, index = events[i]
        node, op, inputs = self._place(phase, where, calls[index] if index is not None else None)
        self.writer._add_numerics(self.step, self.step, node, op, phase, kind, inputs)

    def _place(self, phase, where, call) -> tuple[str, str, list]:
        """``(node, op, input summaries)`` of a finding on the logged graph."""
        graph = self.writer._last_graph or {"nodes": []}
        if call is None:  # a parameter's gradient: its variable node
            return where, "Parameter", []
        path, module, args, kwargs = call
        scope = scope_of_module(path)
        ops = [n for n in graph["nodes"] if n.get("scope") == scope and n.get("kind") == "op"]
        first = first_bad_op(self.model, module, args, kwargs) if phase == "forward" else None
        if first is not None:
            name, k, inputs = first
            matches = [n for n in ops if n["op"] in (name, name + "_")]
            if matches:
                node = matches[min(k, len(matches) - 1)]
                return node["name"], node["op"], inputs
        else:
            inputs = [summary(f"input_{j}", t) for j, t in enumerate(tensors((args, kwargs)))
                      if t.is_floating_point()]  # fmt: skip
        if ops:
            return ops[-1]["name"], ops[-1]["op"], inputs
        return scope or type(module).__name__, type(module).__name__, inputs


def _op_key(func) -> str:
    name = getattr(func, "__name__", str(func))
    if name.startswith("__") and name.endswith("__"):
        name = name[2:-2]
        name = _DUNDER.get(name, name)
    return name


def first_bad_op(model, module, args, kwargs):
    """Re-run ``module`` on its inputs and return ``(op name, k, input summaries)`` of the
    first op of its own code (not its children's) whose output is non-finite: the k-th call
    of that op in the module. None when the re-run stays finite."""
    import torch
    from torch.overrides import TorchFunctionMode

    depth = [0]
    counts: dict[str, int] = {}
    found: list = []
    redispatch = getattr(torch.overrides, "redispatch_function", None)  # not in older torch
    inside: list = []  # the Python-level functions being looked into

    class FirstBad(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            if redispatch is not None and inspect.isfunction(func) and func not in inside:
                # a Python-level function (F.multi_head_attention_forward, Tensor.__rdiv__):
                # the graph holds the ops inside it, so those are the ones to watch (one that
                # comes back to itself, as Tensor.unflatten's super() call does, is an op)
                inside.append(func)
                try:
                    with self:
                        return redispatch(func, types, args, kwargs or {})
                finally:
                    inside.pop()
            out = func(*args, **(kwargs or {}))
            if found or depth[0]:
                return out
            key = _op_key(func)
            k = counts.get(key, 0)
            counts[key] = k + 1
            outs = [t for t in tensors(out) if t.is_floating_point()]
            if any(not torch.isfinite(t).all() for t in outs):
                given = [t for t in tensors((args, kwargs)) if isinstance(t, torch.Tensor)]
                found.append((key, k, [summary(f"input_{j}", t) for j, t in enumerate(given)]))
            return out

    def enter(mod, inputs):
        if mod is not module:
            depth[0] += 1

    def leave(mod, inputs, output):
        if mod is not module:
            depth[0] -= 1

    from torch.nn.modules import module as module_mod

    hooks = [module_mod.register_module_forward_pre_hook(enter),
             module_mod.register_module_forward_hook(leave)]  # fmt: skip
    try:
        with flowlog_running(model), state_kept(model), FirstBad():
            module.forward(*args, **kwargs)
    except Exception:  # noqa: BLE001 - the finding stands at module level
        return None
    finally:
        for h in hooks:
            h.remove()
    return found[0] if found else None
