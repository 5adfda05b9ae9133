"""A small Keras CNN (Conv2D, MaxPooling2D, Flatten, Dropout, Dense) on generated "digits",
logged with ``FlowLog``: train and validation runs, the graph, per-layer statistics, hparams.

The data are 16x16 images of the ten seven-segment digits, each shifted by up to 3 pixels
either way, with one-pixel strokes at a random brightness (0.7-1) in Gaussian noise (sigma
0.25); several digits differ by one segment (8/0/9/6): learnable, but not trivially.
With the defaults (3000 training images, 10 epochs, Adam lr 0.01, batch 64) the validation
accuracy on 1000 fresh images is above 0.9 (0.94 on the author's run; 0.92 after 5 epochs) in
about 3 s of fit on two cores. Usage:
python examples/keras_mnist_like.py [--epochs 10] [--lr 0.01] [--batch 64] [--logdir runs]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import flowlog as fl

keras = fl.keras
L = keras.layers
SIZE = 16
# seven segments as (row slice, col slice) in a 9x5 glyph: a b c d e f g
SEGMENTS = {
    "a": (slice(0, 1), slice(0, 5)),
    "b": (slice(0, 5), slice(4, 5)),
    "c": (slice(4, 9), slice(4, 5)),
    "d": (slice(8, 9), slice(0, 5)),
    "e": (slice(4, 9), slice(0, 1)),
    "f": (slice(0, 5), slice(0, 1)),
    "g": (slice(4, 5), slice(0, 5)),
}
DIGITS = ("abcdef", "bc", "abged", "abgcd", "fgbc", "afgcd", "afgedc", "abc", "abcdefg", "abcdfg")


def glyphs() -> np.ndarray:
    """The ten 9x5 digit glyphs, 1 on the strokes."""
    out = np.zeros((10, 9, 5))
    for digit, segments in enumerate(DIGITS):
        for s in segments:
            out[digit][SEGMENTS[s]] = 1.0
    return out


def make_data(n, seed, noise=0.25, shift=3):
    """``n`` noisy, shifted digit images ``(n, 16, 16, 1)`` float32 and their labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    x = noise * rng.normal(size=(n, SIZE, SIZE))
    shapes = glyphs()
    dy, dx = rng.integers(-shift, shift + 1, (2, n))
    brightness = rng.uniform(0.7, 1.0, n)
    for i in range(n):
        r, c = 3 + dy[i], 5 + dx[i]
        x[i, r : r + 9, c : c + 5] += brightness[i] * shapes[labels[i]]
    return x[..., None].astype(np.float32), labels


def build(lr) -> keras.Model:
    model = keras.Sequential(
        [
            L.Conv2D(8, 3, padding="same", activation="relu", input_shape=(SIZE, SIZE, 1)),
            L.MaxPooling2D(2),
            L.Conv2D(16, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dropout(0.25),
            L.Dense(10, activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy", ["accuracy"])
    return model


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--train-size", type=int, default=3000)
    parser.add_argument("--logdir", default="runs", help="event log directory")
    parser.add_argument("--run-name", default=None, help="default: keras_mnist_like/lr=LR")
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(0)
    x, y = make_data(args.train_size, seed=1)
    x_val, y_val = make_data(1000, seed=2)
    model = build(args.lr)
    run_name = args.run_name or f"keras_mnist_like/lr={args.lr:g}"
    log = keras.callbacks.FlowLog(args.logdir, run_name=run_name, update_freq=10)
    start = time.perf_counter()
    hist = model.fit(x, y, batch_size=args.batch, epochs=args.epochs,
                     validation_data=(x_val, y_val), callbacks=[log], verbose=0)  # fmt: skip
    seconds = time.perf_counter() - start
    h = hist.history
    for e in hist.epoch:
        shown = "  ".join(f"{k} {v[e]:.4f}" for k, v in h.items())
        print(f"epoch {e + 1}: {shown}")
    print(f"validation accuracy {h['val_accuracy'][-1]:.3f} after {seconds:.1f} s of fit")
    print(f"wrote runs {log.run_dir('train')!r} and {log.run_dir('validation')!r}")
    return {
        "accuracy": h["accuracy"][-1],
        "val_accuracy": h["val_accuracy"][-1],
        "history": h,
        "seconds": seconds,
        "model": model,
    }


if __name__ == "__main__":
    main()
