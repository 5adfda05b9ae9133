"""``Session``: runs the part of a graph that some fetches need.

For each distinct (fetch structure, feed keys) a plan is compiled once and cached:

* the needed nodes in execution order (creation order, with variable updates moved last so
  every gradient sees the values from before the step);
* a flat list of ``(kernel, input slots, output slot)`` steps, used when values must be inspected
  (``check_numerics``, run hooks);
* the same steps as one generated Python function whose locals are the slots, used otherwise.
  A step costs one call of a kernel bound as a local; no per-run objects or reference cycles.

Variables live in the session as numpy arrays that optimizer ops update in place; fetched
values that could share memory with a variable or constant are copied when they are computed.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from flowlog.errors import FeedError, GraphError, NumericsError, OpError
from flowlog.graph import Graph, Tensor, format_shape, get_default_graph

_ndarray = np.ndarray
_plan_ids = itertools.count()


@dataclasses.dataclass(frozen=True)
class NumericsFinding:
    """The first node of a run that produced NaN or Inf (contract 2).

    ``inputs`` describes the node's inputs in that run: one dict per input with ``name``,
    ``shape``, ``min``/``max`` (over finite values, ``None`` if there are none) and ``nan``/``inf``
    counts. For optimizer updates the "output" checked is the updated variable.
    """

    node: str
    op: str
    phase: str  # "forward" | "backward"
    run_index: int
    kind: str  # "nan" | "inf"
    inputs: list

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _summary(name, value) -> dict:
    arr = np.asarray(value) if value is not None else None
    if arr is None or arr.dtype.kind not in "biufc":
        return {
            "name": name,
            "shape": None if arr is None else list(arr.shape),
            "min": None,
            "max": None,
            "nan": 0,
            "inf": 0,
        }
    if arr.dtype.kind in "fc":
        finite = arr[np.isfinite(arr)]
        nan, inf = int(np.isnan(arr).sum()), int(np.isinf(arr).sum())
    else:
        finite, nan, inf = arr.ravel(), 0, 0
    return {
        "name": name,
        "shape": list(arr.shape),
        "min": float(finite.min()) if finite.size else None,
        "max": float(finite.max()) if finite.size else None,
        "nan": nan,
        "inf": inf,
    }


def _nonfinite(value) -> str | None:
    dtype = getattr(value, "dtype", None)
    if dtype is None or dtype.kind not in "fc" or np.isfinite(value).all():
        return None
    return "nan" if np.isnan(value).any() else "inf"


def _shape_check(shape):
    """A fast predicate on a fed array's shape tuple, generated for one placeholder."""
    if shape is None:
        return lambda s: True
    terms = [f"len(s) == {len(shape)}"] + [
        f"s[{i}] == {d}" for i, d in enumerate(shape) if d is not None
    ]
    return eval("lambda s: " + " and ".join(terms))  # noqa: S307 - only integers are formatted


class _Plan:
    __slots__ = (
        "fn",
        "code",
        "feeds",
        "extra_feeds",
        "entries",
        "slot_of",
        "rebuild",
        "lines",
        "bound",
        "n_slots",
        "copy_slots",
        "__weakref__",
    )


class _HookValues:
    """``values(node)`` passed to ``hook.after_run``: what the run computed, else ``None``.

    Variables give their current value (after this run's updates). Arrays are live: copy what
    you keep. Subclasses say where a run's other values are (``_computed``).
    """

    __slots__ = ("_sess",)

    def __call__(self, node):
        if isinstance(node, str):
            node = self._sess.graph.get_tensor_by_name(node)
        if node.kind == "variable":
            value = self._sess._storage.get(node)
            if value is not None:
                return value
        return self._computed(node)


class _RunValues(_HookValues):
    """Values of an interpreted run: every node the run computed."""

    __slots__ = ("_plan", "_vals")

    def __init__(self, sess, plan, vals):
        self._sess, self._plan, self._vals = sess, plan, vals

    def _computed(self, node):
        slot = self._plan.slot_of.get(node)
        return None if slot is None else self._vals[slot]


class _CapturedValues(_HookValues):
    """Values of a compiled run: the nodes the hooks asked for."""

    __slots__ = ("_captured",)

    def __init__(self, sess, captured):
        self._sess, self._captured = sess, captured

    def _computed(self, node):
        return self._captured.get(node)


class Session:
    """Runs fetches of one graph; owns that graph's variable values.

    ``check_numerics``: ``False`` (off), ``True`` (record the first NaN/Inf node of each run in
    ``last_numerics``/``numerics_findings``) or ``"raise"`` (also raise :class:`NumericsError`).
    Checking never changes what a run does: the run completes (including updates that write
    NaN into variables, as it would unchecked), then the finding is recorded or raised.
    """

    def __init__(self, graph: Graph | None = None, check_numerics=False):
        if graph is None:
            graph = get_default_graph()
        if not isinstance(graph, Graph):
            raise TypeError(f"Session(graph=...) needs a flowlog Graph, got {type(graph).__name__}")
        if graph.display_only:
            raise GraphError("cannot run a graph rebuilt from a description: it is display-only")
        if check_numerics not in (False, True, "raise"):
            raise ValueError(
                f"check_numerics must be False, True or 'raise', not {check_numerics!r}"
            )
        self.graph = graph
        self.check_numerics = check_numerics
        self.last_numerics: NumericsFinding | None = None
        self.numerics_findings: list[NumericsFinding] = []
        self.run_count = 0
        self._storage: dict[Tensor, np.ndarray] = {}
        self._kernels: dict[Tensor, object] = {}
        self._plans: dict | None = {}
        self._hooks: list = []

    # ----------------------------------------------------------------- lifecycle
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        """Drop plans and variable values; later runs raise."""
        self._plans = None
        self._storage = {}
        self._kernels = {}

    @property
    def closed(self) -> bool:
        return self._plans is None

    def _check_open(self):
        if self._plans is None:
            raise RuntimeError("this Session is closed")

    # ----------------------------------------------------------------- hooks and state
    def add_hook(self, hook) -> None:
        """Call ``hook.before_run(sess)`` / ``hook.after_run(sess, values)`` around each run."""
        if not (hasattr(hook, "before_run") or hasattr(hook, "after_run")):
            raise TypeError("a hook needs a before_run(sess) and/or after_run(sess, values) method")
        self._hooks.append(hook)

    def remove_hook(self, hook) -> None:
        self._hooks.remove(hook)

    def _var(self, var) -> np.ndarray:
        if isinstance(var, str):
            var = self.graph.get_tensor_by_name(var)
        if not isinstance(var, Tensor) or var.kind != "variable":
            what = var.name if isinstance(var, Tensor) else repr(var)
            raise TypeError(f"{what} is not a variable; use run() for computed nodes")
        if var.graph is not self.graph:
            raise GraphError(
                f"variable {var.name!r} belongs to a different graph than this session's graph"
            )
        self._check_open()
        arr = self._storage.get(var)
        if arr is None:
            arr = self._storage[var] = np.array(var.value, copy=True, order="C")
        return arr

    def value(self, var) -> np.ndarray:
        """A copy of the variable's current value."""
        return self._var(var).copy()

    def assign(self, var, value) -> None:
        """Set a variable's value (same shape; cast to its dtype)."""
        arr = self._var(var)
        new = np.asarray(value)
        if new.shape != arr.shape:
            raise ValueError(
                f"assign to {var.name!r}: shape {new.shape} does not match the "
                f"variable's shape {arr.shape}"
            )
        np.copyto(arr, new, casting="same_kind")

    # ----------------------------------------------------------------- run
    def run(self, fetches, feed_dict=None):
        """Compute ``fetches`` (a node or name, or a list/tuple/dict nesting them).

        Returns the same structure with numpy values; optimizer ops give ``None``.
        """
        t = type(fetches)
        try:
            if t is list:
                key = (tuple(fetches), t, frozenset(feed_dict) if feed_dict else None)
            elif t is dict:
                key = (tuple(fetches.items()), t, frozenset(feed_dict) if feed_dict else None)
            else:
                key = (fetches, t, frozenset(feed_dict) if feed_dict else None)
            plan = self._plans[key]
        except (KeyError, TypeError):
            plan = self._lookup(fetches, feed_dict)
        if plan.feeds or plan.extra_feeds:
            args = self._feed_values(plan, feed_dict)
        else:
            args = ()
        if self._hooks or self.check_numerics:
            return self._run_with_hooks(plan, args, fetches, feed_dict)
        self.run_count += 1
        return self._call(plan, args)

    def _call(self, plan, args):
        try:
            return plan.fn(*args)
        except Exception as exc:
            err = self._explain(plan, exc)
            if err is None:
                raise
            raise err from exc

    def _run_with_hooks(self, plan, args, fetches, feed_dict):
        """Call ``before_run`` hooks, run, call ``after_run`` hooks.

        A hook's ``before_run`` may return the nodes (or names) it wants to see; when every hook
        does so and numerics are not checked, the run stays compiled with those nodes as extra
        fetches. A ``None`` return means "everything": the run is interpreted and keeps all
        values.
        """
        wanted: list = []
        capture_all = bool(self.check_numerics)
        for hook in self._hooks:
            before = getattr(hook, "before_run", None)
            asked = before(self) if before is not None else ()
            if asked is None:
                capture_all = True
            elif not capture_all:
                wanted.extend([asked] if isinstance(asked, (Tensor, str)) else asked)
        if capture_all:
            return self._run_inspected(plan, args)
        self.run_count += 1
        if wanted:
            both = self._lookup((fetches, wanted), feed_dict)
            result, extra = self._call(
                both, self._feed_values(both, feed_dict) if feed_dict else ()
            )
            captured = {
                self._resolve(n, "hook node"): v for n, v in zip(wanted, extra, strict=True)
            }
        else:
            result, captured = self._call(plan, args), {}
        values = _CapturedValues(self, captured)
        for hook in self._hooks:
            after = getattr(hook, "after_run", None)
            if after is not None:
                after(self, values)
        return result

    def _feed_values(self, plan, feed_dict):
        args = []
        for key, ph, dtype, ok in plan.feeds:
            v = feed_dict[key]
            if v.__class__ is not _ndarray or v.dtype is not dtype or not ok(v.shape):
                v = _convert_feed(ph, v)
            args.append(v)
        for key, ph, dtype, ok in plan.extra_feeds:
            v = feed_dict[key]
            if v.__class__ is not _ndarray or v.dtype is not dtype or not ok(v.shape):
                _convert_feed(ph, v)
        return args

    def _run_inspected(self, plan, args):
        """The step-list interpreter: keeps every value for hooks and checks numerics."""
        run_index = self.run_count
        self.run_count += 1
        vals = [None] * plan.n_slots
        for slot, value in plan.bound:
            vals[slot] = value
        for (_, ph, _, _), value in zip(plan.feeds, args, strict=False):
            vals[plan.slot_of[ph]] = value
        check = self.check_numerics
        finding = None
        copies = {}
        copy_slots = plan.copy_slots
        errstate = np.errstate(all="ignore") if check else _nullcontext
        with errstate:
            for slot, kernel, in_slots, node, written in plan.entries:
                if kernel is not None:
                    try:
                        vals[slot] = kernel(*[vals[i] for i in in_slots])
                    except Exception as exc:
                        raise _op_error(node, exc, [vals[i] for i in in_slots]) from exc
                if slot in copy_slots:  # fetched, and a later update could change it
                    copies[slot] = vals[slot].copy()
                if check and finding is None:
                    kind = _nonfinite(vals[slot])
                    if kind is None:
                        for w in written:
                            kind = _nonfinite(vals[w])
                            if kind is not None:
                                break
                    if kind is not None:
                        finding = NumericsFinding(
                            node=node.name,
                            op=node.op,
                            phase="backward"
                            if node.kind in ("gradient", "optimizer")
                            else "forward",
                            run_index=run_index,
                            kind=kind,
                            inputs=[
                                _summary(i.name, vals[j])
                                for i, j in zip(node.inputs, in_slots, strict=False)
                            ],
                        )
        for slot, value in copies.items():
            vals[slot] = value
        result = plan.rebuild(vals)
        if check:
            self.last_numerics = finding
            if finding is not None:
                self.numerics_findings.append(finding)
        if self._hooks:
            values = _RunValues(self, plan, vals)
            for hook in self._hooks:
                after = getattr(hook, "after_run", None)
                if after is not None:
                    after(self, values)
        if finding is not None and check == "raise":
            raise NumericsError(finding)
        return result

    def _explain(self, plan, exc):
        """Name the node whose kernel raised, using the generated function's line numbers."""
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code is not plan.code:
            tb = tb.tb_next
        if tb is None:
            return None
        node = plan.lines.get(tb.tb_lineno)
        if node is None:
            return None
        local = tb.tb_frame.f_locals
        inputs = [local.get(f"n{plan.slot_of[i]}") for i in node.inputs]
        return _op_error(node, exc, inputs)

    # ----------------------------------------------------------------- planning
    def _lookup(self, fetches, feed_dict):
        self._check_open()
        feed_key = frozenset(feed_dict) if feed_dict else None
        key = (_freeze(fetches), "frozen", feed_key)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._compile(fetches, feed_dict or {})
            self._plans[key] = plan
        t = type(fetches)
        try:  # also cache under the fast key so the next run skips freezing
            if t is list:
                fast = (tuple(fetches), t, feed_key)
            elif t is dict:
                fast = (tuple(fetches.items()), t, feed_key)
            else:
                fast = (fetches, t, feed_key)
            self._plans[fast] = plan
        except TypeError:
            pass
        return plan

    def _resolve(self, item, what) -> Tensor:
        if isinstance(item, str):
            try:
                return self.graph.get_tensor_by_name(item)
            except GraphError:
                raise GraphError(
                    f"{what} {item!r}: no node of that name in this session's graph"
                ) from None
        if not isinstance(item, Tensor):
            raise TypeError(
                f"{what} must be a graph node or a node name, got {type(item).__name__}: {item!r}"
            )
        if item.graph is not self.graph:
            raise GraphError(
                f"{what} {item.name!r} is not in this session's graph (it belongs to another Graph)"
            )
        return item

    def _compile(self, fetches, feed_dict) -> _Plan:
        flat: list[Tensor] = []
        keys: list = []
        template = _template(fetches, flat, keys, self._resolve)
        fed = self._fed(feed_dict)
        needed = _needed(flat, fed)
        if self.graph.display_only:
            raise GraphError("cannot run a graph rebuilt from a description")
        order = _execution_order(needed)
        slot_of = {node: s for s, node in enumerate(order)}
        fetched = set(flat)
        buffers = _buffers(order, fetched)
        alias = _aliases(order, buffers)

        plan = _Plan()
        plan.slot_of = slot_of
        plan.feeds = [
            (fed[n], n, n.dtype, _shape_check(n.shape))
            for n in order
            if n.kind == "placeholder" and n in fed  # unfed: a placeholder_with_default
        ]
        plan.extra_feeds = [
            (key, n, n.dtype, _shape_check(n.shape)) for n, key in fed.items() if n not in needed
        ]
        plan.n_slots = len(order)
        plan.copy_slots = frozenset(slot_of[n] for n in fetched if n in alias)
        self._generate(plan, order, buffers, keys, template, flat)
        rebuild_src = "lambda V, " + ", ".join(f"key{i}=key{i}" for i in range(len(keys)))
        rebuild_src = (
            rebuild_src.rstrip(", ") + ": " + template.format(*[f"V[{slot_of[n]}]" for n in flat])
        )
        plan.rebuild = eval(rebuild_src, {f"key{i}": k for i, k in enumerate(keys)})  # noqa: S307
        return plan

    def _fed(self, feed_dict) -> dict[Tensor, object]:
        """Placeholder -> its feed_dict key (a node or a name)."""
        fed: dict[Tensor, object] = {}
        for key in feed_dict:
            node = self._resolve(key, "feed_dict key")
            if node.kind != "placeholder":
                raise FeedError(
                    f"cannot feed {node.name!r} ({node.op}): only placeholders can "
                    "be fed; use sess.assign() to set a variable"
                )
            if node in fed:
                raise FeedError(f"placeholder {node.name!r} is fed twice in feed_dict")
            fed[node] = key
        return fed

    def _generate(self, plan, order, buffers, keys, template, flat) -> None:
        """The plan's step list and its generated function (``plan.fn``): one line per step.

        Kernels, variables and constants are keyword-only defaults of the function, so a run
        reads them as locals; fetched values that may alias state (``plan.copy_slots``) are
        copied when computed. The function's parameters are ``plan.feeds``, in order.
        """
        slot_of, copy_slots = plan.slot_of, plan.copy_slots
        params = [f"n{slot_of[ph]}" for _, ph, _, _ in plan.feeds]
        fed = {ph for _, ph, _, _ in plan.feeds}
        kw: dict[str, object] = {}
        body: list[str] = []
        lines: dict[int, Tensor] = {}
        ref: dict[Tensor, str] = {}
        entries = []
        bound = []
        for node in order:
            s = slot_of[node]
            name = f"n{s}"
            ref[node] = name
            in_slots = tuple(slot_of[i] for i in node.inputs)
            kernel = None
            if node.kind == "variable":
                kw[name] = self._var(node)
                bound.append((s, kw[name]))
            elif node.op == "Const" or (node.kind == "placeholder" and node not in fed):
                kw[name] = node.value  # a constant's value, or an unfed placeholder's default
                bound.append((s, node.value))
            elif node.kind != "placeholder":
                if node in buffers:
                    kernel = node.opdef.kernel_into(node, buffers[node])
                else:
                    kernel = self._kernels.get(node)
                    if kernel is None:
                        kernel = self._kernels[node] = node.opdef.kernel(node)
                if node.op == "Identity":
                    body.append(f"{name} = n{in_slots[0]}")
                elif node.op == "NoOp":  # only orders its inputs before it
                    body.append(f"{name} = None")
                else:
                    kw[f"k{s}"] = kernel
                    body.append(f"{name} = k{s}({', '.join(f'n{i}' for i in in_slots)})")
                lines[len(body) + 1] = node
            written = tuple(slot_of[w] for w in node.opdef.written(node)) if kernel else ()
            entries.append((s, kernel, in_slots, node, written))
            if s in copy_slots:
                body.append(f"c{s} = {name}.copy()")
                ref[node] = f"c{s}"
        for i, key in enumerate(keys):
            kw[f"key{i}"] = key
        result = template.format(*[ref[n] for n in flat])
        body.append(f"return {result}")
        sig = ", ".join(params + (["*"] + sorted(kw) if kw else []))
        src = f"def _plan({sig}):\n" + "".join(f"    {line}\n" for line in body)
        code = compile(src, f"<flowlog plan {next(_plan_ids)}>", "exec")
        namespace: dict = {}
        exec(code, namespace)  # noqa: S102 - source built above from slot numbers only
        fn = namespace["_plan"]
        fn.__kwdefaults__ = kw or None
        plan.fn = fn
        plan.code = fn.__code__
        plan.entries = entries
        plan.lines = lines
        plan.bound = bound


def _needed(flat, fed) -> set[Tensor]:
    """The nodes the fetches depend on; an unfed placeholder among them is an error."""
    needed: set[Tensor] = set()
    stack = list(flat)
    while stack:
        node = stack.pop()
        if node in needed:
            continue
        needed.add(node)
        if node.kind == "placeholder" and node not in fed and node.value is None:
            users = [f.name for f in flat if _depends(f, node)]
            raise FeedError(
                f"placeholder {node.name!r} (shape {format_shape(node.shape)}, "
                f"{node.dtype}) must be fed a value: {', '.join(map(repr, users))} "
                "depends on it"
            )
        stack.extend(node.inputs)
    return needed


def _execution_order(needed) -> list[Tensor]:
    """Creation order, with variable updates (and whatever depends on them) moved last."""
    late: set[Tensor] = set()
    for node in sorted(needed, key=lambda n: n.index):
        if node.opdef.stateful or any(i in late for i in node.inputs):
            late.add(node)
    return sorted(needed, key=lambda n: (n in late, n.index))


def _buffers(order, fetched) -> dict[Tensor, np.ndarray]:
    """Statically shaped results that no fetch returns go to buffers reused by every run of
    the plan (fresh large arrays cost page faults each step)."""
    buffers: dict[Tensor, np.ndarray] = {}
    for node in order:
        if (
            node.opdef.kernel_into is not None
            and node not in fetched
            and node.dtype is not None
            and node.shape is not None
            and all(d is not None for d in node.shape)
        ):
            buffers[node] = np.empty(node.shape, node.dtype)
    return buffers


def _aliases(order, buffers) -> set[Tensor]:
    """Nodes that may share memory with a variable, constant or buffer (copied when fetched)."""
    alias: set[Tensor] = set()
    for node in order:
        if (
            node.kind in ("variable", "constant")
            or node.op == "PlaceholderWithDefault"
            or node in buffers
            or (node.opdef.view and any(i in alias for i in node.inputs))
        ):
            alias.add(node)
    return alias


class _NullContext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


_nullcontext = _NullContext()


def _op_error(node, exc, inputs) -> OpError:
    shapes = ", ".join(
        f"{i.name!r} {getattr(v, 'shape', None)}" for i, v in zip(node.inputs, inputs, strict=False)
    )
    return OpError(
        f"{node.op} node {node.name!r} failed: {type(exc).__name__}: {exc} "
        f"(inputs: {shapes or 'none'})",
        node,
    )


def _depends(node: Tensor, target: Tensor) -> bool:
    seen, stack = set(), [node]
    while stack:
        n = stack.pop()
        if n is target:
            return True
        if n not in seen:
            seen.add(n)
            stack.extend(n.inputs)
    return False


def _freeze(fetches):
    """A hashable key that captures the fetch structure (types, dict keys, nodes)."""
    if isinstance(fetches, dict):
        return ("dict", tuple((k, _freeze(v)) for k, v in fetches.items()))
    if isinstance(fetches, (list, tuple)):
        return (type(fetches).__name__, tuple(_freeze(v) for v in fetches))
    return fetches if isinstance(fetches, (Tensor, str)) else ("other", id(fetches))


def _template(fetches, flat, keys, resolve) -> str:
    """A ``str.format`` template of the result expression: ``{0}`` … stand for fetched nodes."""
    if isinstance(fetches, dict):
        parts = []
        for k, v in fetches.items():
            keys.append(k)
            parts.append(f"key{len(keys) - 1}: {_template(v, flat, keys, resolve)}")
        return "{{" + ", ".join(parts) + "}}"
    if isinstance(fetches, list):
        return "[" + ", ".join(_template(v, flat, keys, resolve) for v in fetches) + "]"
    if isinstance(fetches, tuple):
        inner = [_template(v, flat, keys, resolve) for v in fetches]
        return "(" + ", ".join(inner) + ("," if len(inner) == 1 else "") + ")"
    node = resolve(fetches, "fetch")
    flat.append(node)
    return "{" + str(len(flat) - 1) + "}"


def cast_feed(arr: np.ndarray, dtype) -> np.ndarray | None:
    """``arr`` as ``dtype`` when that loses no kind (a numeric array cast within its kind or
    up, e.g. int -> float32); None when it would (complex, strings, float -> int)."""
    if arr.dtype == dtype:
        return arr
    if arr.dtype.kind not in "biuf" or not np.can_cast(arr.dtype, dtype, "same_kind"):
        return None
    return arr.astype(dtype)


def fits_shape(shape: tuple, static) -> bool:
    """Whether a value of ``shape`` fits the static shape ``static`` (None dims: any)."""
    if static is None:
        return True
    return len(shape) == len(static) and all(
        d is None or d == a for d, a in zip(static, shape, strict=True)
    )


def _convert_feed(ph: Tensor, value) -> np.ndarray:
    """Check (and if harmless, convert) a fed value; errors name the placeholder."""
    if isinstance(value, Tensor):
        raise FeedError(
            f"the value fed to placeholder {ph.name!r} is the graph node "
            f"{value.name!r}; feed numpy arrays or numbers"
        )
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise FeedError(f"cannot convert the value fed to {ph.name!r} to an array: {exc}") from None
    cast = cast_feed(arr, ph.dtype)
    if cast is None:
        raise FeedError(
            f"placeholder {ph.name!r} has dtype {ph.dtype} but was fed an array "
            f"of dtype {arr.dtype}"
        )
    arr = cast
    if not fits_shape(arr.shape, ph.shape):
        raise FeedError(
            f"placeholder {ph.name!r} expects shape {format_shape(ph.shape)} but was "
            f"fed shape {format_shape(arr.shape)}"
        )
    return arr
