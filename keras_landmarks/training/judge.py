"""A classifier trained by `train` as the judge of generated images.

Generated images have no labels to score them against, so they are judged by a classifier trained on
the real data, as Heusel et al.'s Fréchet Inception Distance is: the Fréchet distance between Gaussians
fitted to the classifier's penultimate features of two image sets,

$$d^2 = \\|\\mu_a - \\mu_b\\|^2 + \\mathrm{Tr}\\big(\\Sigma_a + \\Sigma_b - 2 (\\Sigma_a \\Sigma_b)^{1/2}\\big),$$

and its softmax confidence on them. Here the classifier is the package's own run (a LeNet-5 trained on
the generator's dataset), not Inception, so the distances compare runs and artifacts with each other and
with real data, not with published FIDs.

    judge = Judge("runs/lenet5")        # a finished classification run of `keras-landmarks train`
    features, probabilities = judge(images_0_255)
    frechet_distance(features, judge(judge.real_images("test"))[0])
"""

import json
import pathlib

import numpy as np

from keras_landmarks.errors import ConfigError


def frechet_distance(a, b):
    """‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½) between two sets of feature vectors (rows)."""
    from scipy import linalg

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root, _ = linalg.sqrtm(cov_a @ cov_b, disp=False)
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2.0 * root.real))


def image_range(generator):
    """The pixel range of a generator's images: (0, 1) after a sigmoid, else (−1, 1) (a tanh, or a
    linear output trained on images in [−1, 1] as StyleGAN's)."""
    for layer in reversed(generator.layers):
        activation = getattr(getattr(layer, "activation", None), "__name__", None)
        if activation in ("sigmoid", "tanh"):
            return (0.0, 1.0) if activation == "sigmoid" else (-1.0, 1.0)
    return (-1.0, 1.0)


def to_pixels(images, value_range):
    """Generated images in `value_range` → [0, 255], clipped, as the real images are stored."""
    low, high = value_range
    return np.clip((np.asarray(images, np.float32) - low) / (high - low), 0.0, 1.0) * 255.0


class Judge:
    """A classifier run (`folder`: what `keras-landmarks train` wrote, with its `train.json`): its
    penultimate layer's features for the Fréchet distance, its softmax for the confidence, and its
    dataset's real images."""

    def __init__(self, folder):
        import keras

        from keras_landmarks.training.data import Preprocessing

        folder = pathlib.Path(folder)
        record_path = folder / "train.json"
        try:
            record = json.loads(record_path.read_text())
        except (OSError, ValueError):
            raise ConfigError(f"Invalid judge {str(folder)!r}: a folder written by `keras-landmarks train` for a "
                              "classifier (with train.json), e.g. runs/lenet5.", key="judge", value=str(folder)) from None
        if record.get("status") != "done" or record.get("procedure", "classification") != "classification":
            raise ConfigError(f"Invalid judge {str(folder)!r}: its run is not a finished classification run "
                              f"(status {record.get('status')!r}, procedure {record.get('procedure')!r}).",
                              key="judge", value=str(folder))
        path = folder / record["artifact"]
        try:
            model = keras.saving.load_model(path)
        except Exception as error:  # noqa: BLE001  (any unreadable file: one line)
            raise ConfigError(f"Invalid judge model {str(path)!r}: {type(error).__name__}: {error}".splitlines()[0],
                              key="judge", value=str(path)) from None
        self.folder, self.record = folder, record
        self.accuracy = record.get("results", {}).get("accuracy")
        features = model.layers[-2].output if len(model.layers) > 2 else model.outputs[0]
        self.model = keras.Model(model.inputs, [features, model.outputs[0]])
        self.prep = Preprocessing.from_dict(record["preprocessing"])
        self.data = record["options"]["data"]

    def __call__(self, images_0_255, batch_size=500):
        """(features, probabilities) of images with pixels in [0, 255] (any size: prepared as in training)."""
        import keras

        features, probabilities = [], []
        for start in range(0, len(images_0_255), batch_size):
            f, p = self.model(self.prep(np.asarray(images_0_255[start : start + batch_size], np.float32)),
                              training=False)
            features.append(keras.ops.convert_to_numpy(f))
            probabilities.append(keras.ops.convert_to_numpy(p))
        return np.concatenate(features), np.concatenate(probabilities)

    def real_images(self, split="test"):
        """The judge's dataset split, pixels in [0, 255] as stored."""
        from keras_landmarks.training.data import image_split

        options = self.record["options"]
        images, _, _ = image_split(options["data"], split, options.get("data_dir"), options.get("manual_dir"))
        return images.astype(np.float32)

    def describe(self):
        accuracy = f", {self.accuracy:.1%} test accuracy" if self.accuracy is not None else ""
        return f"{self.record['options']['model']} trained on {self.data} ({self.folder}{accuracy})"


__all__ = ["Judge", "frechet_distance", "image_range", "to_pixels"]
