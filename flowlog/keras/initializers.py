"""Weight initializers (Keras names and defaults); they return numpy arrays that become the
variables' initial values, so a session starts every weight without an init op.

Unseeded initializers draw from one shared generator, which :func:`set_random_seed` reseeds
(Keras' ``keras.utils.set_random_seed``); a ``seed`` makes an initializer repeat its values.
"""

from __future__ import annotations

import math

import numpy as np

_state = {"rng": np.random.default_rng()}


def set_random_seed(seed: int) -> None:
    """Reseed the generator behind unseeded initializers, shuffling and dropout seeds."""
    _state["rng"] = np.random.default_rng(int(seed))


def shared_rng() -> np.random.Generator:
    return _state["rng"]


def _fans(shape) -> tuple[float, float]:
    """Keras' fan-in / fan-out: dense ``(in, out)``; conv ``(kh*kw*in, kh*kw*out)``."""
    if len(shape) < 1:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    receptive = math.prod(shape[:-2])
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


class Initializer:
    """Base: ``init(shape, dtype)`` gives an array; ``get_config`` what saving stores."""

    def __init__(self, seed=None):
        self.seed = seed

    def _rng(self):
        return np.random.default_rng(self.seed) if self.seed is not None else shared_rng()

    def __call__(self, shape, dtype="float32"):
        return np.asarray(self._draw(tuple(int(d) for d in shape)), dtype=dtype)

    def get_config(self) -> dict:
        return {"seed": self.seed} if self.seed is not None else {}


class Zeros(Initializer):
    def _draw(self, shape):
        return np.zeros(shape)


class Ones(Initializer):
    def _draw(self, shape):
        return np.ones(shape)


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def _draw(self, shape):
        return self._rng().normal(self.mean, self.stddev, size=shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class GlorotUniform(Initializer):
    """Uniform in ±sqrt(6 / (fan_in + fan_out)): Keras' default for kernels."""

    def _draw(self, shape):
        fan_in, fan_out = _fans(shape)
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return self._rng().uniform(-limit, limit, size=shape)


class HeNormal(Initializer):
    """Truncated normal (within 2 std) of std sqrt(2 / fan_in), for ReLU layers."""

    def _draw(self, shape):
        fan_in, _ = _fans(shape)
        stddev = math.sqrt(2.0 / fan_in) / 0.87962566103423978  # undo truncation's shrink
        rng = self._rng()
        out = rng.normal(0.0, stddev, size=shape)
        bad = np.abs(out) > 2 * stddev
        while bad.any():
            out[bad] = rng.normal(0.0, stddev, size=int(bad.sum()))
            bad = np.abs(out) > 2 * stddev
        return out


INITIALIZERS = {
    "zeros": Zeros,
    "ones": Ones,
    "random_normal": RandomNormal,
    "glorot_uniform": GlorotUniform,
    "he_normal": HeNormal,
}
_NAME_OF = {cls: name for name, cls in INITIALIZERS.items()}


def get(identifier) -> Initializer:
    """An initializer from a name, a saved ``{"class_name", "config"}`` dict or an instance."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, dict):
        return get(identifier["class_name"]).__class__(**identifier.get("config", {}))
    if isinstance(identifier, str) and identifier in INITIALIZERS:
        return INITIALIZERS[identifier]()
    valid = ", ".join(repr(n) for n in INITIALIZERS)
    raise ValueError(f"unknown initializer {identifier!r}; valid names: {valid}")


def serialize(init: Initializer):
    name = _NAME_OF.get(type(init))
    if name is None:
        raise ValueError(f"cannot save the custom initializer {type(init).__name__}")
    config = init.get_config()
    return {"class_name": name, "config": config} if config else name
