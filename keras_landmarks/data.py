"""Real data that ships with installed packages, for calibration and evaluation (nothing is downloaded).

`digits()` is scikit-learn's copy of the UCI optical handwritten digits (1,797 images of 8×8, 10
classes), scaled to [0, 1] and enlarged to LeNet-5's 32×32 by repeating each pixel 4×4.
"""

import numpy as np


def digits(image_size=32):
    """(images (N, image_size, image_size, 1) float32 in [0, 1], labels (N,) int32)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    if image_size % 8:
        raise ValueError(f"image_size must be a multiple of 8. Received: image_size={image_size}")
    scale = image_size // 8
    images = np.kron(bunch.images / 16.0, np.ones((scale, scale)))  # (N, 32, 32)
    return images[..., None].astype("float32"), bunch.target.astype("int32")
