"""A TensorBoard ``GraphDef`` (``Event.graph_def`` bytes) → a contract-1 graph description.

TensorBoard event files carry graphs as serialized TensorFlow ``GraphDef`` protos, whichever
program wrote them: TensorFlow itself, ``torch.utils.tensorboard`` or tensorboardX (both trace
the model with ``torch.jit.trace`` and write one NodeDef per TorchScript node). This turns those
bytes into the plain description the renderer and the Graph view draw, so a TensorBoard run
shows its name scopes like a flowlog one.

What the writers put there (measured on torch 2.x / tensorboardX 2.6, a Linear → ReLU →
Linear module):

- ``input/x`` and ``output/output.1``, op ``IO Node``: the model's inputs and outputs;
- ``Net/Linear[fc1]/weight/weight.1``, op ``prim::GetAttr``, attr ``attr`` =
  ``"{ name :  weight }"``: a parameter read; its input (the module object,
  ``Net/Linear[fc1]/weight/fc1``) is not a node of the graph;
- ``Net/Linear[fc1]/input.1``, op ``aten::linear``: an op, named after its TorchScript output
  value, shapes in ``_output_shapes``; no ``dtype``/``T`` attr (torch does not write one).

TensorFlow graphs add ``dtype``/``T`` type attrs, ``^name`` control inputs and ``name:1`` output
indices. The description has no control edges (``inputs`` are data flow the renderer draws), so
control inputs are kept in ``attrs["control_inputs"]``.

``tensorboard`` is an optional dependency, imported only when a graph is converted. The module
imports nothing of the engine: it belongs to the read side.
"""

from __future__ import annotations

import math

from flowlog import graphdesc

__all__ = ["graph_description", "INSTALL_HINT"]

INSTALL_HINT = (
    "reading TensorBoard graphs needs the tensorboard package: pip install 'flowlog[tensorboard]'"
)

#: TensorFlow ``DataType`` names numpy also knows (``np.dtype(name)`` works), so the ``dtype``
#: field stays what the rest of flowlog expects; other types (``resource``, ``string``,
#: ``bfloat16``, quantized ones) go to ``attrs["dtype"]`` instead.
_NUMPY_DTYPES = {
    "DT_FLOAT": "float32", "DT_DOUBLE": "float64", "DT_HALF": "float16",
    "DT_INT8": "int8", "DT_INT16": "int16", "DT_INT32": "int32", "DT_INT64": "int64",
    "DT_UINT8": "uint8", "DT_UINT16": "uint16", "DT_UINT32": "uint32", "DT_UINT64": "uint64",
    "DT_BOOL": "bool", "DT_COMPLEX64": "complex64", "DT_COMPLEX128": "complex128",
}  # fmt: skip
_REF_OFFSET = 100  # DT_FLOAT_REF = DT_FLOAT + 100 (TF1 reference variables)

_VARIABLE_OPS = frozenset({"VariableV2", "Variable", "VarHandleOp", "prim::GetAttr"})
_PLACEHOLDER_OPS = frozenset({"Placeholder", "PlaceholderV2", "PlaceholderWithDefault", "_Arg"})
_CONSTANT_OPS = frozenset({"Const", "HostConst", "prim::Constant", "onnx::Constant"})

MAX_STRING = 80  # attribute strings are cut here: labels and tooltips, not data
MAX_LIST = 16  # longer attribute lists are left out, as constants' values past 16 elements
_SKIP = object()  # an attribute value not worth keeping


def graph_description(graph_def: bytes) -> dict:
    """The contract-1 description of serialized ``GraphDef`` bytes (one node per NodeDef, in
    the GraphDef's order); raises ``ValueError("not a TensorBoard GraphDef: …")`` for empty or
    undecodable bytes and ``ImportError`` (:data:`INSTALL_HINT`) without ``tensorboard``.

    Every name is kept as written where it can be (unusual characters included); only empty
    names, empty path segments and duplicates are renamed, so the result always passes
    :func:`flowlog.graphdesc.validate`. Data-flow cycles (TF while loops) are kept as they are.
    """
    graph = _parse(graph_def)
    names = _claim_names(graph.node)
    nodes = [_describe_node(nd, names[i], names) for i, nd in enumerate(graph.node)]
    return graphdesc.validate({"format": graphdesc.FORMAT, "nodes": nodes})


def _parse(graph_def):
    """Decode the bytes, telling garbage (which protobuf may read as unknown fields and no
    node) from a graph."""
    try:
        from google.protobuf.message import DecodeError
        from tensorboard.compat.proto import graph_pb2
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    if isinstance(graph_def, bytearray | memoryview):
        graph_def = bytes(graph_def)
    if not isinstance(graph_def, bytes):
        raise TypeError(f"graph_def must be bytes (a serialized GraphDef), got "
                        f"{type(graph_def).__name__}")  # fmt: skip
    if not graph_def:
        raise ValueError("not a TensorBoard GraphDef: the bytes are empty")
    graph = graph_pb2.GraphDef()
    try:
        graph.ParseFromString(graph_def)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"not a TensorBoard GraphDef: {exc or 'the bytes do not decode'} "
                         f"({len(graph_def)} bytes)") from None  # fmt: skip
    if not graph.node:
        known = graph_pb2.GraphDef()
        known.CopyFrom(graph)
        known.DiscardUnknownFields()
        if len(known.SerializeToString()) < len(graph_def):
            raise ValueError(
                f"not a TensorBoard GraphDef: {len(graph_def)} bytes that decode to no node, only "
                "fields a GraphDef does not have"
            )
    return graph


# --------------------------------------------------------------------------- names
def _clean(name: str) -> str:
    """``name`` without empty path segments (``a//b``, ``/a``, ``a/``), which would break
    ``name == scope + "/" + short name``."""
    return "/".join(p for p in name.split("/") if p)


def _claim_names(node_defs) -> dict:
    """Description name for each NodeDef (by index) and for each name inputs may use (the
    NodeDef names as written; the first node wins a duplicated one)."""
    taken: set[str] = set()
    out: dict = {}
    for i, nd in enumerate(node_defs):
        base = _clean(nd.name) or f"node_{i}"
        name, k = base, 0
        while name in taken:
            k += 1
            name = f"{base}_{k}"
        taken.add(name)
        out[i] = name
        out.setdefault(nd.name, name)
    return out


def _resolve_input(ref: str, names: dict) -> tuple[str | None, bool]:
    """``(node name or None, is_control)`` for a NodeDef input: ``^name`` is a control input,
    ``name:1`` names output 1 of ``name``; a reference to no node of the graph gives None."""
    control = ref.startswith("^")
    if control:
        ref = ref[1:]
    if ref in names:
        return names[ref], control
    base, sep, index = ref.rpartition(":")
    if sep and index.isdigit() and base in names:
        return names[base], control
    return None, control


# --------------------------------------------------------------------------- nodes
def _kind(op: str, name: str) -> str:
    if op in _PLACEHOLDER_OPS or (op == "IO Node" and name.split("/", 1)[0] == "input"):
        return "placeholder"
    if op in _VARIABLE_OPS:
        return "variable"
    if op in _CONSTANT_OPS:
        return "constant"
    return "op"


def _describe_node(nd, name: str, names: dict) -> dict:
    inputs: list[str] = []
    control: list[str] = []
    for ref in nd.input:
        src, is_control = _resolve_input(ref, names)
        if src is not None:
            (control if is_control else inputs).append(src)
    op = nd.op or "Unknown"
    shape, dtype, attrs = _attrs(nd.attr)
    if op in _CONSTANT_OPS and "value" in nd.attr:
        value = _small_tensor(nd.attr["value"])
        if value is not _SKIP:
            attrs["value"] = value
    if control:
        attrs["control_inputs"] = _unique(control)
    if nd.device:
        attrs["device"] = _text(nd.device)
    return {
        "name": name,
        "op": op,
        "inputs": _unique(inputs),
        "scope": name.rpartition("/")[0],
        "shape": shape,
        "dtype": dtype,
        "kind": _kind(op, name),
        "attrs": dict(sorted(attrs.items())),
    }


def _attrs(attr_map) -> tuple[list | None, str | None, dict]:
    """``(shape, dtype, attrs)`` from a NodeDef's attributes: the shape from
    ``_output_shapes`` (first output) or ``shape``, the dtype from ``dtype`` or ``T``, small
    values of the others. torch writes its node attributes as one string attr ``attr``
    (``"{ name :  weight }"``, ``"{}"`` when there are none)."""
    shape = None
    dtype = None
    attrs: dict = {}
    outputs = attr_map["_output_shapes"].list.shape if "_output_shapes" in attr_map else []
    if outputs:
        shape = _shape(outputs[0])
        if len(outputs) > 1 and len(outputs) <= MAX_LIST:
            attrs["output_shapes"] = [_shape(s) for s in outputs]
    elif "shape" in attr_map and attr_map["shape"].WhichOneof("value") == "shape":
        shape = _shape(attr_map["shape"].shape)
    for key in ("dtype", "T"):
        if key in attr_map and attr_map[key].WhichOneof("value") == "type":
            numpy_name, tf_name = _dtype(attr_map[key].type)
            dtype = numpy_name
            if numpy_name is None:
                attrs["dtype"] = tf_name
            break
    for key, av in attr_map.items():
        if key in ("_output_shapes", "shape", "value") or (key in ("dtype", "T") and dtype):
            continue
        value = _value(av)
        if value is _SKIP or (key == "attr" and value in ("", "{}")):
            continue
        attrs.setdefault(key, value)
    return shape, dtype, attrs


def _shape(proto) -> list | None:
    """TensorShapeProto → list with None for unknown (-1) dimensions; None for unknown rank."""
    if proto.unknown_rank:
        return None
    return [int(d.size) if d.size >= 0 else None for d in proto.dim]


def _dtype(enum: int) -> tuple[str | None, str]:
    """``(numpy name or None, TF name)`` of a DataType value (``_REF`` types as their base)."""
    from tensorboard.compat.proto import types_pb2

    if enum > _REF_OFFSET:
        enum -= _REF_OFFSET
    try:
        tf_name = types_pb2.DataType.Name(enum)
    except ValueError:
        return None, f"DataType {enum}"
    return _NUMPY_DTYPES.get(tf_name), tf_name.removeprefix("DT_").lower()


def _text(raw: bytes | str) -> str:
    """A string attribute for display: decoded leniently, cut at :data:`MAX_STRING`."""
    s = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return s if len(s) <= MAX_STRING else s[: MAX_STRING - 1] + "…"


def _number(x: float):
    if math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def _value(av):
    """A JSON-able small value of an AttrValue, or ``_SKIP`` (tensors, long lists)."""
    which = av.WhichOneof("value")
    if which == "s":
        return _text(av.s)
    if which == "i":
        return int(av.i)
    if which == "f":
        return _number(av.f)
    if which == "b":
        return bool(av.b)
    if which == "type":
        numpy_name, tf_name = _dtype(av.type)
        return numpy_name or tf_name
    if which == "shape":
        return _shape(av.shape)
    if which == "func":
        return _text(av.func.name)
    if which == "placeholder":
        return _text(av.placeholder)
    if which == "list":
        return _list_value(av.list)
    return _SKIP  # tensor, or nothing set


def _list_value(lv):
    items: list = []
    items += [_text(s) for s in lv.s]
    items += [int(i) for i in lv.i]
    items += [_number(f) for f in lv.f]
    items += [bool(b) for b in lv.b]
    items += [_dtype(t)[0] or _dtype(t)[1] for t in lv.type]
    items += [_shape(s) for s in lv.shape]
    items += [_text(f.name) for f in lv.func]
    if len(items) > MAX_LIST or lv.tensor:
        return _SKIP
    return items


def _small_tensor(av):
    """A Const's value as (nested) lists when it has at most 16 elements, else ``_SKIP``."""
    if av.WhichOneof("value") != "tensor":
        return _SKIP
    dims = [d.size for d in av.tensor.tensor_shape.dim]
    if any(d < 0 for d in dims) or math.prod(dims) > MAX_LIST:
        return _SKIP
    from tensorboard.util import tensor_util

    try:
        array = tensor_util.make_ndarray(av.tensor)
    except Exception:  # noqa: BLE001 - an odd tensor only loses its displayed value
        return _SKIP
    return _plain(array.tolist())


def _plain(value):
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return _text(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, complex):
        return str(value)
    return value


def _unique(names) -> list[str]:
    return list(dict.fromkeys(names))
