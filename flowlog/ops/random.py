"""Random ops: dropout (``DropoutMask`` + ``Dropout``), and ``PlaceholderWithDefault``, the
boolean training switch a model feeds only when it trains (TF's learning-phase placeholder).

Dropout is two nodes so that forward and backward agree: ``DropoutMask`` draws the scaled
keep-mask (``0`` or ``1 / (1 - rate)``, kept with probability ``1 - rate``, as
``tf.nn.dropout``) once per ``sess.run`` — a node is computed once per run, whoever needs it —
and both ``Dropout`` (``x * mask``) and its gradient (``dy * mask``) read that one value. When
its ``training`` input is false the mask is all ones, so dropout is the identity.

Random state: each session builds the mask kernel once per node, with its own
``numpy.random.Generator`` seeded from the ``seed`` attribute (fresh entropy when ``None``), so
with a seed every new session replays the same sequence of masks run after run.
"""

from __future__ import annotations

import numpy as np

from flowlog.graph import format_shape
from flowlog.ops.core import InferError, Op, is_float, make, register


def check_rate(rate) -> float:
    """``rate`` as a float in [0, 1); ``ValueError`` naming the value otherwise."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)):
        raise ValueError(f"rate must be a float in [0, 1), got {rate!r}")
    if not 0 <= rate < 1:
        raise ValueError(f"rate must be in [0, 1) (the fraction dropped), got {rate!r}")
    return float(rate)


def check_seed(seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ValueError(f"seed must be an int or None, got {seed!r}")
    if seed is not None and seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed!r}")
    return None if seed is None else int(seed)


def noise_shape_of(noise_shape, x_shape):
    """The mask's shape: ``noise_shape`` (``None`` entries take ``x``'s size) or ``x_shape``."""
    if noise_shape is None:
        return x_shape
    if x_shape is None:
        return tuple(noise_shape)
    if len(noise_shape) != len(x_shape):
        raise ValueError(
            f"noise_shape {list(noise_shape)} must have the rank of x {format_shape(x_shape)}"
        )
    out = []
    for d, n in zip(x_shape, noise_shape, strict=True):
        if n is None:
            out.append(d)
        elif n == 1 or d is None or n == d:
            out.append(int(n))
        else:
            raise ValueError(
                f"noise_shape {list(noise_shape)} does not broadcast to x {format_shape(x_shape)}"
            )
    return tuple(out)


@register
class DropoutMask(Op):
    """Inputs ``(x, training)``; attributes ``rate``, ``seed``, ``noise_shape``."""

    arity = 2

    def infer(self, inputs, attrs):
        x, training = inputs
        if not is_float(x.dtype):
            raise InferError(f"dropout needs a floating x, got {x.name!r} of dtype {x.dtype}")
        if training.dtype != np.dtype(bool) or training.shape not in (None, ()):
            raise InferError(
                f"training must be a boolean scalar, got {training.name!r} "
                f"{format_shape(training.shape)} {training.dtype}"
            )
        try:
            check_rate(attrs.get("rate"))
            check_seed(attrs.get("seed"))
            shape = noise_shape_of(attrs.get("noise_shape"), x.shape)
        except ValueError as exc:
            raise InferError(str(exc)) from None
        return shape, x.dtype

    def kernel(self, node):
        rate, noise_shape = node.attrs["rate"], node.attrs.get("noise_shape")
        rng = np.random.default_rng(node.attrs.get("seed"))
        dtype = node.dtype
        draw = np.float32 if dtype == np.float32 else np.float64
        scale = dtype.type(1.0 / (1.0 - rate))

        def dropout_mask(x, training):
            shape = noise_shape_of(noise_shape, x.shape)
            if not training:
                return np.ones(shape, dtype)
            keep = rng.random(shape, dtype=draw) >= rate
            return np.multiply(keep, scale, dtype=dtype)

        return dropout_mask


@register
class Dropout(Op):
    """``x * mask`` (the mask from ``DropoutMask``, broadcast to ``x``); gradient ``dy * mask``."""

    arity = 2

    def infer(self, inputs, attrs):
        return inputs[0].shape, inputs[0].dtype

    def kernel(self, node):
        return np.multiply

    def grad(self, node, dy, need):
        return [make("Mul", [dy, node.inputs[1]]) if need[0] else None, None]


@register
class PlaceholderWithDefault(Op):
    """A placeholder that may be left unfed: the session then uses its (read-only) value."""

    arity = 0
