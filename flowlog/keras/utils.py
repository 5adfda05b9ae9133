"""Small Keras helpers: reproducible seeding and one-hot labels."""

from __future__ import annotations

import numpy as np

from flowlog.keras.initializers import set_random_seed

__all__ = ["set_random_seed", "to_categorical"]


def to_categorical(y, num_classes=None, dtype="float32") -> np.ndarray:
    """Integer labels → one-hot rows (``keras.utils.to_categorical``)."""
    y = np.asarray(y, dtype=np.int64).ravel()
    num_classes = int(y.max()) + 1 if num_classes is None else int(num_classes)
    return np.eye(num_classes, dtype=dtype)[y]
