"""Two-dimensional toy distributions of the GAN papers, generated with a fixed seed: `gaussians8`.

`gaussians8` is the mixture of eight Gaussians of Gulrajani et al. 2017 (its `gan_toy.py`): modes at
radius 2 at the angles kπ/4, standard deviation 0.02, every point divided by 1.414. Each example is
{"point": float32 (2,), "mode": the mode it was drawn from}; 100,000 training and 10,000 test points.
"""

import math

import numpy as np

from keras_landmarks.datasets.builder import Source, register

MODES = 8
SCALE, SPREAD, SHRINK = 2.0, 0.02, 1.414


def gaussians8_centers():
    """The eight modes' centres, after the final division."""
    angles = np.arange(MODES) * (2 * math.pi / MODES)
    return (SCALE * np.stack([np.cos(angles), np.sin(angles)], axis=1) / SHRINK).astype(np.float32)


def gaussians8_points(count, seed):
    """(points float32 (count, 2), modes int64 (count,))."""
    rng = np.random.default_rng(seed)
    modes = rng.integers(0, MODES, count)
    points = (SCALE * np.stack([np.cos(modes * 2 * math.pi / MODES), np.sin(modes * 2 * math.pi / MODES)], 1)
              + SPREAD * rng.standard_normal((count, 2))) / SHRINK
    return points.astype(np.float32), modes.astype(np.int64)


def _features():
    import tensorflow_datasets as tfds

    return tfds.features.FeaturesDict({
        "point": tfds.features.Tensor(shape=(2,), dtype=np.float32),
        "mode": tfds.features.ClassLabel(num_classes=MODES),
    })


def _examples(arg):
    count, seed = arg
    points, modes = gaussians8_points(count, seed)
    for i in range(count):
        yield i, {"point": points[i], "mode": int(modes[i])}


register(Source(
    name="gaussians8",
    description="Eight 2-D Gaussians on a circle (Gulrajani et al. 2017's toy data), 100,000 / 10,000 points.",
    version="1.0.0",
    features=_features,
    splits=lambda manual_dir: {"train": (100_000, 0), "test": (10_000, 1)},
    examples=_examples,
    supervised_keys=("point", "mode"),
    origin="generated with a fixed seed (no file)",
    citation="Gulrajani, Ahmed, Arjovsky, Dumoulin, Courville. Improved Training of Wasserstein GANs. 2017.",
))
