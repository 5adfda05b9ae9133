"""``model.save`` / ``load_model``: one zip file holding ``config.json`` (model class, layer
classes and arguments, compile settings, weight names) and ``weights.npz`` (the arrays, in
``model.weights`` order). Files are written to a temporary name and renamed, so a checkpoint
is never half-written; a damaged or foreign file fails with an error naming it.
"""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np

FORMAT = "flowlog.keras"
VERSION = 1


def _weights_bytes(model) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, *model.get_weights())
    return buf.getvalue()


def _atomic_write(path: str, write) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_model(model, filepath) -> None:
    model.ensure_built()
    path = os.fspath(filepath)
    config = {
        "format": FORMAT,
        "version": VERSION,
        "class_name": "Sequential" if type(model).__name__ == "Sequential" else "Functional",
        "config": model.get_config(),
        "compile": model.compile_config(),
        "weights": [v.name for v in model.weights],
    }
    text, weights = json.dumps(config, indent=1), _weights_bytes(model)

    def write(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("config.json", text)
            z.writestr("weights.npz", weights)

    _atomic_write(path, write)


def _read_npz(data: bytes, path: str) -> list[np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return [npz[f"arr_{i}"] for i in range(len(npz.files))]


def _read(path: str) -> tuple[dict, list[np.ndarray]]:
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_model: no such file: {path!r}")
    try:
        with zipfile.ZipFile(path) as z:
            config = json.loads(z.read("config.json").decode("utf-8"))
            weights = _read_npz(z.read("weights.npz"), path)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as exc:
        raise ValueError(
            f"load_model: {path!r} is not a readable flowlog.keras model file "
            f"({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"load_model: {path!r} is not a flowlog.keras model file")
    return config, weights


def load_model(filepath, compile, model_from_config):  # noqa: A002
    path = os.fspath(filepath)
    config, weights = _read(path)
    try:
        model = model_from_config(config["class_name"], config["config"])
        model.set_weights(weights)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"load_model: {path!r} has a damaged model config: {exc}") from None
    settings = config.get("compile")
    if compile and settings:
        model.compile(**settings)
    return model


def save_weights(model, filepath) -> None:
    """The weights alone, as an ``.npz`` file (arrays in ``model.weights`` order)."""
    model.ensure_built()
    data = _weights_bytes(model)
    _atomic_write(os.fspath(filepath), lambda f: f.write(data))


def load_weights(model, filepath) -> None:
    path = os.fspath(filepath)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_weights: no such file: {path!r}")
    try:
        with open(path, "rb") as f:
            weights = _read_npz(f.read(), path)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"load_weights: {path!r} is not a weights file ({exc})") from None
    try:
        model.set_weights(weights)
    except ValueError as exc:
        raise ValueError(f"load_weights: {path!r} does not fit the model: {exc}") from None
