"""TensorFlow Serving's REST wire format, as plain functions: routes, request decoding and
response encoding for ``flowlog serve`` (no HTTP server and no model loading here).

What matches TF Serving (``model_servers/http_rest_api_util.cc``, ``util/json_tensor.cc``):

* the URL table (case-insensitive; ``/versions/{v}`` and ``/labels/{l}``; ``:predict``),
  the plain 404 outside ``/v1/`` and the 400 ``Malformed request: METHOD PATH`` inside it;
* Predict's row (``instances``) and columnar (``inputs``) formats, with TF's messages for the
  request errors it has one for (missing keys, empty ``instances``, ragged lists, wrong
  object keys, a value of the wrong JSON type, an unknown signature name);
* the response encoding: ``predictions`` / ``outputs``, floats written ``%g`` when that
  round-trips at the tensor's dtype and with 9 (float32) / 17 (float64) digits otherwise,
  ``.0`` on whole numbers, bare ``NaN`` / ``Infinity`` / ``-Infinity``;
* the model status and metadata JSON (``signature_def`` nested twice, dims as strings).

Not implemented: ``:classify`` and ``:regress`` (they need tf.Example inputs; 501 here),
string tensors and ``{"b64": ...}`` values (the engine has no string dtype; 400 naming the
input), signatures other than ``serving_default``, gzip bodies (the HTTP layer's job) and TF's
pretty-printed whitespace (replies are compact JSON). Deliberate differences: a verb or
``metadata`` in any case is accepted (TF compares those case-sensitively), every integer
dtype is accepted (TF rejects uint16 and half with 501), a float input takes any integer
(float32 rounding, as TF's docs say), and error messages that dump a JSON value use compact
JSON, truncated, where TF pretty-prints the whole document.
"""

from __future__ import annotations

import json
import math
import re
import struct
from dataclasses import dataclass
from urllib.parse import unquote

import numpy as np

from flowlog.serving.errors import ServingError

__all__ = [
    "PredictRequest",
    "Route",
    "error_body",
    "format_metadata",
    "format_predict",
    "format_status",
    "parse_predict",
    "parse_route",
]

DEFAULT_SIGNATURE = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"
UNIMPLEMENTED_VERBS = (
    "flowlog serve implements :predict only; :classify and :regress need tf.Example inputs"
)
_SEP = (",", ":")


# ====================================================================== routes
@dataclass(frozen=True)
class Route:
    """One REST endpoint: ``kind`` is ``"status"``, ``"metadata"`` or ``"predict"``."""

    kind: str
    model: str
    version: int | None = None
    label: str | None = None


_V1 = re.compile(r"/v1/", re.IGNORECASE)
_PREDICT_URL = re.compile(
    r"/v1/models/([^/:]+)(?:/versions/(\d+)|/labels/([^/:]+))?:(classify|regress|predict)",
    re.IGNORECASE,
)
_STATUS_URL = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:/versions/(\d+)|/labels/([^/:]+))?(?:/(metadata))?",
    re.IGNORECASE,
)
_INT64_MAX = 2**63 - 1


def parse_route(method: str, path: str) -> Route:
    """The endpoint ``method path`` names, or the ServingError TF Serving answers it with."""
    if not _V1.match(path):
        raise ServingError(404, "Not Found", plain=True)
    found = None
    if method == "POST":
        found = _PREDICT_URL.fullmatch(path)
    elif method == "GET":
        found = _STATUS_URL.fullmatch(path)
    if found is None:
        raise ServingError(400, f"Malformed request: {method} {path}")
    name, version, label, tail = found.groups()
    if name is None:
        raise ServingError(400, "Missing model name in request.")
    if method == "POST":
        if tail.lower() != "predict":
            raise ServingError(501, UNIMPLEMENTED_VERBS)
        kind = "predict"
    else:
        kind = "metadata" if tail else "status"
    number = None
    if version is not None:
        number = int(version)
        if number > _INT64_MAX:
            raise ServingError(400, f"Failed to convert version: {version} to numeric.")
    return Route(kind, unquote(name), number, None if label is None else unquote(label))


# ====================================================================== values in messages
def _float_text(x: float, single: bool) -> str:
    """TF's ``WriteDecimal``: ``%g`` if it reads back as ``x`` at the dtype, else 9 / 17
    digits; ``.0`` on numbers written with neither point nor exponent."""
    if x != x:
        return "NaN"
    if x in (math.inf, -math.inf):
        return "Infinity" if x > 0 else "-Infinity"
    text = format(x, "g")
    back = float(text)
    if (_F32.unpack(_F32.pack(back))[0] if single else back) != x:
        text = ("%.9g" if single else "%.17g") % x
    if "." not in text and "e" not in text:
        text += ".0"
    return text


_F32 = struct.Struct("<f")


def _dump(value, limit: int = 200) -> str:
    """A JSON value as TF's messages show it (floats in TF's encoding), cut at ``limit``."""
    if isinstance(value, float):
        text = _float_text(value, False)
    else:
        text = json.dumps(value, separators=_SEP, allow_nan=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_type(value) -> str:
    """rapidjson's type name of a decoded JSON value, as TF's messages print it."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, str):
        return "String"
    return "Number"


# ====================================================================== signature specs
_TF_DTYPES = {
    "float16": "DT_HALF", "float32": "DT_FLOAT", "float64": "DT_DOUBLE",
    "int8": "DT_INT8", "int16": "DT_INT16", "int32": "DT_INT32", "int64": "DT_INT64",
    "uint8": "DT_UINT8", "uint16": "DT_UINT16", "uint32": "DT_UINT32", "uint64": "DT_UINT64",
    "bool": "DT_BOOL", "complex64": "DT_COMPLEX64", "complex128": "DT_COMPLEX128",
    "bfloat16": "DT_BFLOAT16", "str": "DT_STRING", "string": "DT_STRING",
}  # fmt: skip


def _tf_name(dtype: np.dtype) -> str:
    """TF's ``DataTypeString``: ``float`` for float32, ``int32`` for int32, …"""
    return {"float32": "float", "float64": "double", "float16": "half"}.get(dtype.name, dtype.name)


def _shape_text(shape) -> str:
    """``[?, 3]``; ``<unknown rank>`` for a null shape."""
    if shape is None:
        return "<unknown rank>"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _expects(name: str, spec: dict) -> str:
    return f"input '{name}' expects {spec['dtype']} {_shape_text(spec.get('shape'))}"


def _fits(shape: tuple, static) -> bool:
    if static is None:
        return True
    return len(shape) == len(static) and all(
        d is None or d == a for d, a in zip(static, shape, strict=True)
    )


# ====================================================================== request values
class _BadValue(Exception):
    """A JSON value that cannot become the input tensor; the message is TF's."""


def _check_leaf(value, dtype: np.dtype) -> None:
    """TF's ``AddValueToTensor`` type rules for one scalar."""
    kind = dtype.kind
    if kind == "f":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and not (isinstance(value, float) and not math.isfinite(value)):
            if abs(value) > float(np.finfo(dtype).max):  # also ints past float64
                raise _BadValue(
                    f"Cannot convert JSON value: {_dump(value)} to {_tf_name(dtype)}"
                    " without loss of precision."
                )
    elif kind in "iu":
        info = np.iinfo(dtype)
        ok = type(value) is int and info.min <= value <= info.max
    else:
        ok = isinstance(value, bool)
    if not ok:
        raise _BadValue(
            f"JSON Value: {_dump(value)} Type: {_json_type(value)}"
            f" is not of expected type: {_tf_name(dtype)}"
        )


def _dense_shape(value) -> list[int]:
    """TF's ``GetDenseTensorShape``: sizes along the first element of each level."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _fill(value, level: int, shape: list, dtype: np.dtype, out: list) -> None:
    """TF's ``FillTensorProto``: check ``value`` is dense with ``shape``, collect its leaves."""
    rank = len(shape)
    if not isinstance(value, list):
        if level != rank:
            raise _BadValue(
                f"JSON Value: {_dump(value)} found at incorrect level: {level + 1}"
                f" in the JSON DOM. Expected at level: {rank}"
            )
        _check_leaf(value, dtype)
        out.append(value)
        return
    if level >= rank:
        raise _BadValue(f"Encountered list at unexpected level: {level} expected < {rank}")
    if len(value) != shape[level]:
        raise _BadValue(
            f"Encountered list at unexpected size: {len(value)} at level: {level}"
            f" expected size: {shape[level]}"
        )
    for item in value:
        _fill(item, level + 1, shape, dtype, out)


def _walk(value, dtype: np.dtype) -> np.ndarray:
    """The slow, exact path: TF's checks element by element, then the array."""
    shape = _dense_shape(value)
    flat: list = []
    _fill(value, 0, shape, dtype, flat)
    return np.array(flat, dtype=dtype).reshape(shape)


def _fast(value, dtype: np.dtype, has_bool: bool) -> np.ndarray | None:
    """numpy's own conversion when its inferred kind proves TF's type rules hold, else None.

    ``has_bool``: the body holds a ``true``/``false`` token, which numpy would silently
    turn into a number inside a numeric list."""
    try:
        arr = np.array(value)
    except (ValueError, TypeError, OverflowError):
        return None
    kind, want = arr.dtype.kind, dtype.kind
    if want == "b":
        return arr if kind == "b" else None
    if has_bool or kind not in "iuf" or (want in "iu" and kind == "f"):
        return None
    if want in "iu":
        if arr.size and (arr.min() < np.iinfo(dtype).min or arr.max() > np.iinfo(dtype).max):
            return None
        return arr.astype(dtype, copy=False)
    if dtype.itemsize == 8:
        return arr.astype(dtype, copy=False)
    with np.errstate(over="ignore"):
        out = arr.astype(dtype)
    finite = np.isfinite(out)
    if finite.all() or np.array_equal(finite, np.isfinite(arr)):
        return out
    return None  # a finite value beyond the dtype's range: the walk words the error


def _walk_rows(rows: list, dtype: np.dtype, where: str) -> np.ndarray:
    """TF's row checks: every element dense, all of the first element's shape."""
    arrays = []
    for i, row in enumerate(rows):
        try:
            arr = _walk(row, dtype)
            if arrays and arr.size != arrays[0].size:
                raise _BadValue(f"Expecting tensor size: {arrays[0].size} but got: {arr.size}")
            if arrays and arr.shape != arrays[0].shape:
                raise _BadValue(
                    f"Expecting shape {_tf_shape(arrays[0].shape)} but got: {_tf_shape(arr.shape)}"
                )
        except _BadValue as exc:
            raise _BadValue(
                f"Failed to process element: {i}{where} of 'instances' list. Error: {exc}"
            ) from None
        arrays.append(arr)
    return np.stack(arrays)


def _tf_shape(shape: tuple) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _tensor(value, name: str, spec: dict, has_bool: bool, rows: str | None = None):
    """The input ``name``'s array from its JSON value, checked against its spec. ``rows``:
    None for a columnar value, else the element's key text for a list of rows (TF checks
    rows one by one)."""
    dtype = np.dtype(spec["dtype"])
    arr = _fast(value, dtype, has_bool)
    if arr is None:
        if rows == "":  # plain rows: an object among them is TF's first complaint
            at = next((i for i, item in enumerate(value) if _is_object(item)), None)
            if at is not None:
                message = f"Expecting value/list but got object at item {at} of input list"
                raise ServingError(400, message)
        try:
            arr = _walk(value, dtype) if rows is None else _walk_rows(value, dtype, rows)
        except _BadValue as exc:
            raise ServingError(400, f"{exc} ({_expects(name, spec)})") from None
        except (ValueError, RecursionError):
            raise ServingError(400, f"{_expects(name, spec)}: nested too deeply") from None
    if not _fits(arr.shape, spec.get("shape")):
        raise ServingError(400, f"{_expects(name, spec)}, got shape {_shape_text(arr.shape)}")
    return arr


# ====================================================================== predict requests
@dataclass
class PredictRequest:
    """A decoded Predict body: one array per signature input, in the signature's dtype."""

    feeds: dict[str, np.ndarray]
    row_format: bool
    signature_name: str


_RAPIDJSON = {
    "Expecting value": "Invalid value.",
    "Expecting property name enclosed in double quotes": "Missing a name for object member.",
    "Illegal trailing comma before end of object": "Missing a name for object member.",
    "Illegal trailing comma before end of array": "Invalid value.",
    "Expecting ':' delimiter": "Missing a colon after a name of object member.",
    "Extra data": "The document root must not be followed by other values.",
    "Unterminated string starting at": "Missing a closing quotation mark in string.",
    "Invalid control character at": "Invalid encoding in string.",
    "Invalid \\escape": "Invalid escape character in string.",
    "Invalid \\uXXXX escape": "Incorrect hex digit after \\u escape in string.",
}


def _innermost(text: str, pos: int) -> str:
    """``[`` or ``{``: the container open at ``pos`` (strings skipped)."""
    stack, in_string, escaped = [], False, False
    for ch in text[:pos]:
        if in_string:
            escaped, in_string = (False, True) if escaped else (ch == "\\", ch != '"')
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            stack.append(ch)
        elif ch in "]}" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def _parse_message(exc: json.JSONDecodeError) -> str:
    """rapidjson's words (what TF Serving prints) for Python's JSON error."""
    if not exc.doc.strip():
        return "The document is empty."
    if exc.msg == "Expecting ',' delimiter":
        if _innermost(exc.doc, exc.pos) == "{":
            return "Missing a comma or '}' after an object member."
        return "Missing a comma or ']' after an array element."
    return _RAPIDJSON.get(exc.msg, exc.msg)


def _load(body: bytes) -> dict:
    """The body's JSON object (Python's ``json``: bare NaN / Infinity / -Infinity allowed)."""
    if not body:
        raise ServingError(400, "JSON Parse error: The document is empty")
    try:
        doc = json.loads(body)
    except json.JSONDecodeError as exc:
        message = f"JSON Parse error: {_parse_message(exc)} at offset: {exc.pos}"
        raise ServingError(400, message) from None
    except UnicodeDecodeError as exc:
        message = f"JSON Parse error: Invalid encoding in string. at offset: {exc.start}"
        raise ServingError(400, message) from None
    except RecursionError:
        raise ServingError(400, "JSON Parse error: the document is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer past Python's 4300-digit limit
        raise ServingError(400, f"JSON Parse error: {exc}") from None
    if not isinstance(doc, dict):
        raise ServingError(400, f"JSON Value: {_dump(doc)} Is not object")
    return doc


def _is_object(value) -> bool:
    """A JSON object that is not a ``{"b64": "..."}`` value (TF's ``IsElementObject``)."""
    if not isinstance(value, dict):
        return False
    return not (len(value) == 1 and isinstance(value.get("b64"), str))


def _row_feeds(instances: list, inputs: dict, has_bool: bool) -> dict[str, np.ndarray]:
    """``instances``: plain rows for one input, or objects keyed by every input name."""
    names = sorted(inputs)
    if not _is_object(instances[0]):
        if len(names) > 1:
            raise ServingError(
                400,
                "instances is a plain list, but expecting list of objects as multiple "
                "input tensors required as per tensorinfo_map",
            )
        name = names[0]
        return {name: _tensor(instances, name, inputs[name], has_bool, rows="")}
    columns: dict[str, list] = {name: [] for name in names}
    for i, item in enumerate(instances):
        if not _is_object(item):
            raise ServingError(400, f"Expecting object but got list at item {i} of input list")
        if len(item) != len(names) or any(key not in columns for key in item):
            _bad_keys(i, item, names)
        for name in names:
            columns[name].append(item[name])
    return {
        name: _tensor(columns[name], name, inputs[name], has_bool, rows=f" key: {name}")
        for name in names
    }


def _bad_keys(i: int, item: dict, names: list[str]) -> None:
    """TF's errors for a row object whose keys are not the input names."""
    extra = next((key for key in item if key not in names), None)
    if extra is not None:
        raise ServingError(
            400,
            f"Failed to process element: {i} key: {extra} of 'instances' list. "
            f"Error: JSON object: does not have named input: {extra}",
        )
    raise ServingError(
        400,
        f"Failed to process element: {i} of 'instances' list. JSON object: {_dump(item)}"
        f" keys must be equal to: {','.join(names)}",
    )


def _column_feeds(value, inputs: dict, has_bool: bool) -> dict[str, np.ndarray]:
    """``inputs``: the one input's tensor, or an object ``{name: tensor}`` (dim 0 free)."""
    names = sorted(inputs)
    if not _is_object(value):
        if len(names) > 1:
            raise ServingError(
                400,
                "inputs is a plain value/list, but expecting an object as multiple input "
                "tensors required as per tensorinfo_map",
            )
        return {names[0]: _tensor(value, names[0], inputs[names[0]], has_bool)}
    missing = [name for name in names if name not in value]
    if missing:
        wanted = "; ".join(_expects(name, inputs[name]) for name in names)
        plural = "s" if len(missing) > 1 else ""
        raise ServingError(
            400,
            f"Missing named input{plural}: {', '.join(missing)} in 'inputs' object. "
            f"The signature's inputs: {wanted}",
        )
    return {name: _tensor(value[name], name, inputs[name], has_bool) for name in names}


def _signature_name(doc: dict) -> str:
    """``signature_name`` (default ``serving_default``; no other signature exists)."""
    name = doc.get("signature_name", "")
    if not isinstance(name, str):
        raise ServingError(
            400,
            f"JSON Value: {_dump(doc)} not formatted correctly. "
            "'signature_name' key must be a string value.",
        )
    name = name or DEFAULT_SIGNATURE
    if name != DEFAULT_SIGNATURE:
        raise ServingError(400, f'Serving signature name: "{name}" not found in signature def')
    return name


def parse_predict(body: bytes, signature: dict) -> PredictRequest:
    """Decode a ``:predict`` body against ``signature`` (a ``signature.json`` dict)."""
    doc = _load(body)
    name = _signature_name(doc)
    inputs = signature["inputs"]
    if not inputs:
        raise ServingError(400, f"Failed to get input map for signature: {name}")
    raw = body if isinstance(body, (bytes, bytearray)) else str(body).encode()
    has_bool = b"true" in raw or b"false" in raw
    if "instances" in doc:
        if "inputs" in doc:
            raise ServingError(
                400,
                "Not formatted correctly expecting only one of 'inputs' or 'instances' keys"
                " to exist",
            )
        instances = doc["instances"]
        if not isinstance(instances, list):
            raise ServingError(400, "Excepting 'instances' to be an list/array")  # TF's words
        if not instances:
            raise ServingError(400, "No values in 'instances' array")
        return PredictRequest(_row_feeds(instances, inputs, has_bool), True, name)
    if "inputs" in doc:
        return PredictRequest(_column_feeds(doc["inputs"], inputs, has_bool), False, name)
    raise ServingError(400, "Missing 'inputs' or 'instances' key")


# ====================================================================== predict responses
_SMALL = 16


def _float_tokens(flat: np.ndarray) -> list[str]:
    """Every value of a 1-D float array in TF's encoding (vectorised past a few values)."""
    single = flat.dtype.itemsize < 8
    if flat.dtype.itemsize < 4:
        flat = flat.astype(np.float32)  # TF writes half through float
    if flat.size <= _SMALL:
        return [_float_text(x, single) for x in flat.tolist()]
    short, exact = _short_mask(flat, single)
    out = np.empty(flat.size, dtype=object)
    for mask, spec in ((short, "%g,"), (~short & ~exact, "%.9g," if single else "%.17g,")):
        where = np.flatnonzero(mask)
        chosen = flat[where].tolist()
        out[where] = ((spec * len(chosen)) % tuple(chosen)).split(",")[:-1]
    for i in np.flatnonzero(exact).tolist():
        out[i] = _float_text(float(flat[i]), single)
    # a whole number written without exponent gets ".0": below 1e6 with %g, below 1e9 / 1e17
    # with the long form (the only ones whose text has neither "." nor "e")
    magnitude = np.where(exact, np.inf, np.abs(flat))
    limit = np.where(short, 1e6, 1e9 if single else 1e17)
    dots = np.flatnonzero((magnitude < limit) & (np.trunc(flat) == flat))
    out[dots] = out[dots] + ".0"
    return out.tolist()


def _short_mask(flat: np.ndarray, single: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(short, exact)``: values whose ``%g`` text reads back as themselves, and values the
    scalar rule must decide (non-finite, near a rounding tie of the 6th digit, outside
    1e-17..1e27, at a power of ten).

    ``%g`` keeps 6 significant digits: ``m = rint(x * 10**(5 - e))`` with exact powers of
    ten, so ``m / 10**(5 - e)`` is the double that ``%g``'s text parses to."""
    x = flat.astype(np.float64)
    finite = np.isfinite(x)
    zero = x == 0
    size = np.abs(np.where(finite & ~zero, x, 1.0))
    k = 5 - np.floor(np.log10(size))
    exact = ~finite | (np.abs(k) > 22)
    k = np.where(exact, 0, k)
    power = 10.0 ** np.abs(k)
    scaled = np.where(k >= 0, size * power, size / power)
    m = np.rint(scaled)
    exact |= (np.abs(scaled - m) > 0.5 - 1e-6) | (m < 1e5) | (m >= 1e6)
    back = np.where(k >= 0, m / power, m * power)
    back = np.where(x < 0, -back, back)
    same = (back.astype(np.float32) == flat) if single else (back == x)
    exact &= ~zero
    return (same | zero) & ~exact, exact


def _tokens(arr: np.ndarray, name: str) -> list[str]:
    """The values of ``arr`` (any shape) as JSON tokens, in C order."""
    flat = arr.reshape(-1)
    kind = flat.dtype.kind
    if kind == "f":
        return _float_tokens(flat)
    if kind in "iu":
        return list(map(str, flat.tolist()))
    if kind == "b":
        return ["true" if v else "false" for v in flat.tolist()]
    raise ServingError(500, f"Failed to write JSON value for tensor type: {flat.dtype} ({name})")


def _skeleton(shape: tuple) -> str:
    """A ``%s`` template of a nested JSON list of ``shape``."""
    text = "%s"
    for size in reversed(shape):
        text = "[" + ",".join([text] * size) + "]"
    return text


def _tensor_json(arr: np.ndarray, name: str) -> str:
    return _skeleton(arr.shape) % tuple(_tokens(arr, name))


def _rows_json(outputs: dict[str, np.ndarray]) -> str:
    """``[{"o1": v, "o2": v}, ...]``: one object per dim-0 slice of every output."""
    names = sorted(outputs)
    batch = None
    for name in names:
        shape = outputs[name].shape
        if not shape:
            raise ServingError(400, f"Tensor name: {name} has no shape information")
        if batch is not None and shape[0] != batch:
            raise ServingError(
                400,
                f"Tensor name: {name} has inconsistent batch size: {shape[0]} expecting: {batch}",
            )
        batch = shape[0]
    fields, columns = [], []
    for name in names:
        arr = outputs[name]
        fields.append(json.dumps(name) + ":" + _skeleton(arr.shape[1:]))
        tokens = np.empty(arr.size, dtype=object)
        tokens[:] = _tokens(arr, name)
        columns.append(tokens.reshape(batch, int(np.prod(arr.shape[1:], dtype=np.int64))))
    row = "{" + ",".join(fields) + "}"
    # one template for all rows, filled with every row's tokens in order (no per-row loop)
    values = np.concatenate(columns, axis=1).reshape(-1).tolist() if batch else []
    return ("[" + ",".join([row] * batch) + "]") % tuple(values)


def format_predict(outputs: dict[str, np.ndarray], row_format: bool) -> bytes:
    """The Predict reply: ``predictions`` (row format) or ``outputs`` (columnar)."""
    outputs = {name: np.asarray(value) for name, value in outputs.items()}
    if not outputs:
        raise ServingError(500, "Cannot convert empty tensor map to JSON")
    if len(outputs) == 1:
        ((name, arr),) = outputs.items()
        if row_format and not arr.shape:
            raise ServingError(400, f"Tensor name: {name} has no shape information")
        body = _tensor_json(arr, name)
    elif row_format:
        body = _rows_json(outputs)
    else:
        fields = [json.dumps(n) + ":" + _tensor_json(outputs[n], n) for n in sorted(outputs)]
        body = "{" + ",".join(fields) + "}"
    key = "predictions" if row_format else "outputs"
    return ('{"' + key + '":' + body + "}").encode()


# ====================================================================== status, metadata, errors
def format_status(entries) -> bytes:
    """``GetModelStatusResponse`` as TF prints it: versions as strings, newest first."""
    statuses = [
        {
            "version": str(version),
            "state": state,
            "status": {"error_code": code, "error_message": message},
        }
        for version, state, code, message in sorted(entries, key=lambda e: -e[0])
    ]
    return json.dumps({"model_version_status": statuses}, separators=_SEP).encode()


def _tensor_info(spec: dict) -> dict:
    """One ``TensorInfo``: TF dtype name, ``node:0``, dims as strings (unknown ``"-1"``)."""
    shape = spec.get("shape")
    if shape is None:
        tensor_shape = {"unknown_rank": True}
    else:
        dims = [{"size": "-1" if d is None else str(d), "name": ""} for d in shape]
        tensor_shape = {"dim": dims, "unknown_rank": False}
    return {
        "dtype": _TF_DTYPES.get(spec["dtype"], "DT_INVALID"),
        "name": f"{spec['name']}:0",
        "tensor_shape": tensor_shape,
    }


def format_metadata(model: str, version: int, signature: dict) -> bytes:
    """``GetModelMetadataResponse``: the one ``serving_default`` signature, nested as TF."""
    definition = {
        "inputs": {k: _tensor_info(v) for k, v in signature["inputs"].items()},
        "outputs": {k: _tensor_info(v) for k, v in signature["outputs"].items()},
        "method_name": PREDICT_METHOD,
        "defaults": {},
    }
    reply = {
        "model_spec": {"name": model, "signature_name": "", "version": str(version)},
        "metadata": {"signature_def": {"signature_def": {DEFAULT_SIGNATURE: definition}}},
    }
    return json.dumps(reply, separators=_SEP).encode()


def error_body(message: str) -> bytes:
    """``{"error": message}``: TF Serving's error reply (no code field)."""
    return json.dumps({"error": message}, separators=_SEP).encode()
