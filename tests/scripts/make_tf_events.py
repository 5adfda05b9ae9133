"""Writes tests/data/tf2_summary/: event files written by TensorFlow's own tf.summary (TF 2.x),
the tensor-summary form of every kind flowlog reads. Run with a Python that has TensorFlow:

    python tests/scripts/make_tf_events.py tests/data/tf2_summary

The values are a function of the step, so tests/test_tensorboard_backend.py checks them
without TensorFlow installed (see EXPECTED there).
"""

import os
import sys

import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import api as hp
from tensorboard.plugins.pr_curve import summary as pr_summary

out = sys.argv[1]
writer = tf.summary.create_file_writer(os.path.join(out, "train"))
with writer.as_default():
    for step in range(5):
        tf.summary.scalar("loss", 1.0 / (step + 1), step=step)
        tf.summary.histogram("weights", np.linspace(-1, 1, 101) * (step + 1), step=step, buckets=10)
        image = np.full((1, 4, 6, 3), step * 50, dtype=np.uint8)
        image[0, :, :, 1] = np.arange(6, dtype=np.uint8) * 40
        tf.summary.image("sample", image, step=step)
        note = f"step **{step}**\n\n| a | b |\n|---|---|\n| {step} | x |"
        tf.summary.text("notes", note, step=step)
    labels = np.array([0, 1, 1, 0], dtype=bool)
    preds = np.array([0.1, 0.9, 0.6, 0.4], dtype=np.float32)
    tf.summary.experimental.write_raw_pb(
        pr_summary.pb("pr", labels, preds, num_thresholds=5).SerializeToString(), step=3
    )
    hp.hparams({"lr": 0.01, "optimizer": "adam"}, trial_id="trial-1")

    @tf.function
    def model(x):
        with tf.name_scope("dense"):
            return tf.nn.relu(tf.matmul(x, tf.ones((3, 2))) + 1.0)

    tf.summary.trace_on(graph=True)
    model(tf.zeros((1, 3)))
    tf.summary.trace_export("model", step=0)
writer.close()
