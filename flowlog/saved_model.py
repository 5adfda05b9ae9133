"""``fl.saved_model``: export a model's inference subgraph to a directory and load it back.

An export directory holds

* ``graph.json``: a ``flowlog.graph/1`` description (:func:`flowlog.describe_graph` node
  format) of the **inference subgraph only**: the nodes the outputs need given the inputs. No
  gradient, optimizer, loss or metric nodes; an unfed ``placeholder_with_default`` (Keras'
  learning phase) is frozen into a ``Const`` of its default, and a ``Dropout`` whose switch is
  then a constant ``False`` becomes an ``Identity`` (its mask node is dropped);
* ``variables.npz``: the session's current value of every variable in that subgraph (by name);
* ``constants.npz``: the exact value of every ``Const`` (and input ``PlaceholderWithDefault``
  default) in the subgraph, by name (descriptions keep only small values);
* ``signature.json``: ``{"format": "flowlog.saved_model/1", "inputs": {key: spec},
  "outputs": {key: spec}}`` with ``spec = {"name": node, "dtype": "float32", "shape": [None, 3]}``.

Atomic layout rule (what a server watching ``models/<name>/`` relies on): :func:`save` writes
into a temporary sibling directory (``.<name>.tmp-<random>``), fsyncs every file and the
directory, then ``os.rename``\\ s it into place and fsyncs the parent, so a version directory
appears complete or not at all. An existing ``export_dir`` is never overwritten.
:func:`versions` lists the integer-named complete versions under a base path.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
import zipfile
from pathlib import Path

import numpy as np

from flowlog.api import constant, placeholder, placeholder_with_default
from flowlog.describe import FORMAT as GRAPH_FORMAT
from flowlog.describe import describe_node
from flowlog.graph import Graph, Tensor, format_shape
from flowlog.ops import OPS, Variable, make
from flowlog.session import Session, cast_feed, fits_shape

__all__ = ["FORMAT", "Loaded", "SavedModelError", "load", "save", "versions"]

FORMAT = "flowlog.saved_model/1"
FILES = ("graph.json", "variables.npz", "constants.npz", "signature.json")
_EXCLUDED_KINDS = ("gradient", "optimizer")


class SavedModelError(ValueError):
    """An export that cannot be written, or a damaged/inconsistent export directory."""


# ====================================================================== pruning
def _frozen_false(node: Tensor, inputs: set) -> bool:
    """True when ``node`` is a constant-valued ``False`` switch in the exported graph."""
    if node in inputs or node.op not in ("Const", "PlaceholderWithDefault"):
        return False
    return node.value is not None and node.value.shape == () and not bool(node.value)


def _rewrite(node: Tensor, inputs: set) -> tuple[str, list[Tensor]]:
    """The op ``node`` is exported as, and its exported inputs."""
    if node in inputs:
        return node.op, []
    if node.op == "PlaceholderWithDefault":
        return "Const", []
    mask = node.inputs[1] if node.op == "Dropout" else None
    if mask is not None and mask.op == "DropoutMask" and _frozen_false(mask.inputs[1], inputs):
        return "Identity", [node.inputs[0]]
    return node.op, list(node.inputs)


def _subgraph(inputs: set, outputs: list[Tensor]) -> dict[Tensor, tuple[str, list]]:
    """``{node: (exported op, exported inputs)}`` for every node the outputs need."""
    found: dict[Tensor, tuple[str, list]] = {}
    stack = list(outputs)
    while stack:
        node = stack.pop()
        if node in found:
            continue
        op, ins = found[node] = _rewrite(node, inputs)
        if node.kind in _EXCLUDED_KINDS or (node.opdef is not None and node.opdef.stateful):
            raise SavedModelError(
                f"the outputs depend on {node.kind} node {node.name!r} ({node.op}); only an "
                "inference subgraph (no gradients or updates) can be exported"
            )
        if op == "Placeholder" and node not in inputs:
            raise SavedModelError(
                f"the outputs depend on placeholder {node.name!r}, which is not among the inputs"
            )
        stack.extend(ins)
    return found


def _describe(found) -> tuple[dict, dict, dict]:
    """The graph description plus the variable and constant values, by node name."""
    nodes, variables, constants = [], {}, {}
    for node in sorted(found, key=lambda n: n.index):
        op, ins = found[node]
        item = describe_node(node)
        item["op"], item["inputs"] = op, [i.name for i in ins]
        if op == "Const":
            item["kind"] = "constant"
            item["attrs"].pop("default", None)
            constants[node.name] = np.asarray(node.value)
        elif op == "PlaceholderWithDefault":
            constants[node.name] = np.asarray(node.value)
        elif op == "Identity" and node.op == "Dropout":
            item["attrs"] = {}
        if node.kind == "variable":
            variables[node.name] = None  # filled from the session
        nodes.append(item)
    desc = {"format": GRAPH_FORMAT, "nodes": nodes, "gradient_of": {}}
    desc["trainable"] = [n["name"] for n in nodes if (n["attrs"] or {}).get("trainable")]
    return desc, variables, constants


def _spec(node: Tensor) -> dict:
    shape = None if node.shape is None else [None if d is None else int(d) for d in node.shape]
    dtype = None if node.dtype is None else node.dtype.name
    return {"name": node.name, "dtype": dtype, "shape": shape}


# ====================================================================== save
def _keras_defaults(model, inputs, outputs):
    """A Keras model's session and its inputs/outputs keyed by Keras names."""
    if not getattr(model, "built", True) or not getattr(model, "outputs", None):
        raise SavedModelError("the Keras model is not built yet: call it, fit it or build() it")
    if inputs is None:
        inputs = {t.name: t for t in model.inputs}
    if outputs is None:
        from flowlog.keras.engine import HISTORY

        outputs = {}
        for t in model.outputs:
            entry = HISTORY.get(t)
            outputs[entry[0].name if entry is not None else t.name] = t
    return model.session, inputs, outputs


def _check_specs(sess: Session, inputs, outputs):
    if not isinstance(inputs, dict) or not isinstance(outputs, dict) or not outputs:
        raise TypeError("inputs and outputs must be dicts {key: tensor} (at least one output)")
    for what, mapping in (("input", inputs), ("output", outputs)):
        for key, t in mapping.items():
            if not isinstance(key, str) or not key.isidentifier():
                raise ValueError(f"{what} key {key!r} must be a Python identifier string")
            if not isinstance(t, Tensor) or t.graph is not sess.graph:
                raise ValueError(f"{what} {key!r} must be a tensor of the session's graph")
            if t.dtype is None:
                raise ValueError(f"{what} {key!r} ({t.name!r}) has no value (an op?)")
    for key, t in inputs.items():
        if t.kind != "placeholder":
            raise ValueError(f"input {key!r} ({t.name!r}) must be a placeholder, not a {t.kind}")


def save(session_or_model, export_dir, inputs=None, outputs=None) -> Path:
    """Export the inference subgraph for ``outputs`` given ``inputs`` into ``export_dir``.

    ``session_or_model``: a :class:`flowlog.Session` (then ``inputs={"x": placeholder}`` and
    ``outputs={"y": tensor}`` are required) or a built Keras model (they default to the
    model's inputs keyed by their names, e.g. ``input_1``, and its outputs keyed by the name of
    the layer making them, e.g. ``dense_1``). Writes atomically (see the module docstring);
    raises :class:`FileExistsError` when ``export_dir`` exists. Returns the export path.
    """
    if isinstance(session_or_model, Session):
        sess = session_or_model
        if inputs is None or outputs is None:
            raise TypeError("save(session, ...) needs inputs={...} and outputs={...}")
    elif isinstance(getattr(session_or_model, "session", None), Session):
        sess, inputs, outputs = _keras_defaults(session_or_model, inputs, outputs)
    else:
        raise TypeError(
            "save() needs a flowlog Session or a Keras model, "
            f"got {type(session_or_model).__name__}"
        )
    _check_specs(sess, inputs, outputs)
    found = _subgraph(set(inputs.values()), list(outputs.values()))
    desc, variables, constants = _describe(found)
    desc = json.loads(json.dumps(desc, allow_nan=False))  # exactly what load() will read
    for name in variables:
        variables[name] = sess.value(name)
    signature = {
        "format": FORMAT,
        "inputs": {k: _spec(t) for k, t in inputs.items()},
        "outputs": {k: _spec(t) for k, t in outputs.items()},
    }
    _rebuild(desc, variables, constants, "the export")  # never write what cannot be loaded
    return _write_atomically(Path(export_dir), desc, variables, constants, signature)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(target: Path, desc, variables, constants, signature) -> Path:
    if target.exists():
        raise FileExistsError(f"export directory {str(target)!r} already exists; not overwritten")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}"
    tmp.mkdir()
    try:
        (tmp / "graph.json").write_text(json.dumps(desc, allow_nan=False), encoding="utf-8")
        (tmp / "signature.json").write_text(json.dumps(signature, indent=1), encoding="utf-8")
        np.savez(tmp / "variables.npz", **variables)
        np.savez(tmp / "constants.npz", **constants)
        for name in FILES:
            _fsync(tmp / name)
        _fsync(tmp)
        if target.exists():  # appeared meanwhile
            raise FileExistsError(f"export directory {str(target)!r} already exists")
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync(target.parent)
    return target


# ====================================================================== load
def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing (not a complete flowlog saved model)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SavedModelError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise SavedModelError(f"{path}: expected a JSON object")
    return data


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing (not a complete flowlog saved model)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise SavedModelError(f"{path}: damaged npz file ({type(exc).__name__}: {exc})") from None


def _build_node(item: dict, inputs, variables, constants, where: str) -> Tensor:
    name, op = item["name"], item["op"]
    verbatim = name + "/"
    if op == "Placeholder":
        return placeholder(item["dtype"], item["shape"], name=verbatim)
    if op in ("Const", "PlaceholderWithDefault"):
        if name not in constants:
            raise SavedModelError(f"{where}: constants.npz has no value for {op} {name!r}")
        if op == "Const":
            return constant(constants[name], name=verbatim)
        return placeholder_with_default(constants[name], item["shape"], name=verbatim)
    if op == "Variable":
        if name not in variables:
            raise SavedModelError(f"{where}: variables.npz has no value for variable {name!r}")
        trainable = bool((item.get("attrs") or {}).get("trainable", True))
        return Variable(variables[name], name=verbatim, trainable=trainable)
    opdef = OPS.get(op)
    if opdef is None or opdef.stateful or item.get("kind") in _EXCLUDED_KINDS:
        raise SavedModelError(f"{where}: node {name!r} has an op {op!r} that cannot be served")
    return make(op, inputs, dict(item.get("attrs") or {}), verbatim)


def _rebuild(desc: dict, variables, constants, where: str) -> Graph:
    """A runnable graph from a description; checks every node's shape and dtype."""
    if desc.get("format") != GRAPH_FORMAT or not isinstance(desc.get("nodes"), list):
        raise SavedModelError(f"{where}: not a {GRAPH_FORMAT!r} description with a node list")
    graph, by_name = Graph(), {}
    with graph.as_default():
        for i, item in enumerate(desc["nodes"]):
            try:
                name, ins = item["name"], [by_name[n] for n in item["inputs"]]
            except (KeyError, TypeError) as exc:
                raise SavedModelError(
                    f"{where}: node #{i} is malformed or has an input not defined before it "
                    f"({type(exc).__name__}: {exc})"
                ) from None
            if name in by_name:
                raise SavedModelError(f"{where}: node {name!r} appears twice")
            try:
                node = _build_node(item, ins, variables, constants, where)
            except SavedModelError:
                raise
            except Exception as exc:
                raise SavedModelError(f"{where}: cannot rebuild node {name!r}: {exc}") from None
            _check_node(node, item, where)
            by_name[name] = node
    return graph


def _check_node(node: Tensor, item: dict, where: str) -> None:
    spec = _spec(node)
    if node.name != item["name"] or spec["shape"] != item.get("shape"):
        raise SavedModelError(
            f"{where}: node {item['name']!r} rebuilt with shape {format_shape(node.shape)}, "
            f"described as {item.get('shape')}"
        )
    if spec["dtype"] != item.get("dtype"):
        raise SavedModelError(
            f"{where}: node {item['name']!r} rebuilt with dtype {spec['dtype']}, "
            f"described as {item.get('dtype')}"
        )


def _signature_nodes(graph: Graph, signature: dict, path: Path):
    if signature.get("format") != FORMAT:
        raise SavedModelError(f"{path}: format {signature.get('format')!r}, expected {FORMAT!r}")
    nodes = {}
    for side in ("inputs", "outputs"):
        specs = signature.get(side)
        if not isinstance(specs, dict) or (side == "outputs" and not specs):
            raise SavedModelError(f"{path}: {side!r} must be a non-empty object")
        for key, spec in specs.items():
            name = spec.get("name") if isinstance(spec, dict) else None
            if name not in graph:
                raise SavedModelError(f"{path}: {side[:-1]} {key!r} names unknown node {name!r}")
            node = graph.get_tensor_by_name(name)
            if _spec(node) != spec:
                raise SavedModelError(
                    f"{path}: {side[:-1]} {key!r} is {spec}, but the graph's node is {_spec(node)}"
                )
            if side == "inputs" and node.kind != "placeholder":
                raise SavedModelError(f"{path}: input {key!r} names {name!r}, not a placeholder")
            nodes[side, key] = node
    return nodes


class Loaded:
    """A loaded export: ``loaded(x=array)`` (or ``loaded(array)`` for one input) returns
    ``{output key: numpy array}``.

    Thread safety: a flowlog :class:`~flowlog.Session` is **not** safe to run from several
    threads at once (compiled plans write intermediate results into buffers reused by every
    run, and plans are cached in a plain dict), so each call borrows a session of its own from
    a pool that grows to the number of concurrent callers (each session compiles its plan once
    and keeps its own copy of the variables; serving never writes them). Calls run in parallel
    as far as numpy releases the GIL, and each call gets fresh output arrays.
    """

    def __init__(self, export_dir: Path, graph: Graph, signature: dict, nodes: dict):
        self.export_dir = export_dir
        self.graph = graph
        self.signature = signature
        self._inputs = {k: n for (side, k), n in nodes.items() if side == "inputs"}
        self._outputs = {k: n for (side, k), n in nodes.items() if side == "outputs"}
        self._idle: list[Session] = [Session(graph)]
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        ins, outs = ", ".join(self._inputs), ", ".join(self._outputs)
        return f"<flowlog.saved_model.Loaded {str(self.export_dir)!r} ({ins}) -> ({outs})>"

    def __call__(self, *args, **kwargs) -> dict[str, np.ndarray]:
        if args:
            if len(args) != 1 or kwargs or len(self._inputs) != 1:
                raise TypeError(
                    "pass inputs by keyword "
                    f"({', '.join(self._inputs)}); one positional value only for one input"
                )
            kwargs = {next(iter(self._inputs)): args[0]}
        return self.run_checked(self.check_inputs(kwargs))

    def run_checked(self, feed: dict) -> dict[str, np.ndarray]:
        """Run a feed already checked by :meth:`check_inputs` (``{input key: array}``)."""
        feed = {self._inputs[k]: v for k, v in feed.items()}
        with self._lock:
            session = self._idle.pop() if self._idle else Session(self.graph)
        try:
            return session.run(self._outputs, feed)
        finally:
            with self._lock:
                self._idle.append(session)

    def warm_up(self, feed: dict, sessions: int = 1) -> None:
        """Run a checked feed on ``sessions`` sessions, so that many concurrent first calls
        find their plans compiled (an exception here means the export cannot serve)."""
        with self._lock:
            while len(self._idle) < sessions:
                self._idle.append(Session(self.graph))
            ready = list(self._idle)
        feed = {self._inputs[k]: v for k, v in feed.items()}
        for session in ready:
            session.run(self._outputs, feed)

    def check_inputs(self, given: dict) -> dict[str, np.ndarray]:
        """``given`` as ``{input key: array}`` of the signature's dtypes and shapes; a
        ``ValueError`` names the first input that does not fit."""
        missing = [k for k in self._inputs if k not in given]
        extra = [k for k in given if k not in self._inputs]
        if missing or extra:
            expected = ", ".join(f"{k} {self._describe_input(k)}" for k in self._inputs)
            raise ValueError(
                f"missing inputs {missing} / unexpected inputs {extra}; expected: {expected}"
            )
        return {k: self._convert(k, v) for k, v in given.items()}

    def _describe_input(self, key: str) -> str:
        spec = self.signature["inputs"][key]
        return f"{spec['dtype']} {format_shape(spec['shape'])}"

    def _convert(self, key: str, value) -> np.ndarray:
        spec, node = self.signature["inputs"][key], self._inputs[key]
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"input {key!r}: cannot convert to an array: {exc}") from None
        cast = cast_feed(arr, node.dtype)
        if cast is None:
            raise ValueError(
                f"input {key!r} expects dtype {spec['dtype']} "
                f"{format_shape(spec['shape'])}, got dtype {arr.dtype}"
            )
        arr, shape = cast, node.shape
        if not fits_shape(arr.shape, shape):
            raise ValueError(
                f"input {key!r} expects shape {format_shape(shape)} ({spec['dtype']}), "
                f"got shape {format_shape(arr.shape)}"
            )
        return arr


def load(export_dir) -> Loaded:
    """Load an export written by :func:`save` into its own graph and session.

    Missing files raise :class:`FileNotFoundError`; damaged or inconsistent ones
    :class:`SavedModelError` (a ``ValueError``) naming the file. Nothing is half-loaded.
    """
    root = Path(export_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such export directory")
    signature = _read_json(root / "signature.json")
    desc = _read_json(root / "graph.json")
    variables = _read_npz(root / "variables.npz")
    constants = _read_npz(root / "constants.npz")
    graph = _rebuild(desc, variables, constants, str(root / "graph.json"))
    used = {n.name for n in graph.nodes if n.kind == "variable"}
    unused = sorted(set(variables) - used)
    if unused:
        raise SavedModelError(f"{root / 'variables.npz'}: values for unknown variables {unused}")
    nodes = _signature_nodes(graph, signature, root / "signature.json")
    return Loaded(root, graph, signature, nodes)


# ====================================================================== versions
def versions(base_path) -> list[int]:
    """The complete integer versions under ``base_path`` (``models/<name>/<version>/``), sorted.

    Names that are not plain decimal integers (temporary ``.N.tmp-*`` directories, ``latest``…)
    and directories missing one of the export files are ignored.
    """
    base = Path(base_path)
    if not base.is_dir():
        raise FileNotFoundError(f"{base}: no such model base directory")
    found = []
    for entry in base.iterdir():
        name = entry.name
        if name.isascii() and name.isdigit() and entry.is_dir():
            if all((entry / f).is_file() for f in FILES):
                found.append(int(name))
    return sorted(found)
