"""A dataset of `keras_landmarks.datasets` fitted to a model's input, as a deterministic stream of batches.

- `Preprocessing`: uint8 images → the model's input: resized to its height and width (pixel
  replication for whole-number enlargements, as LeNet-5's 8×8 → 32×32 digits; bilinear otherwise),
  grey ↔ RGB, and scaled to the model's declared value range (`inputs.Image(value_range=...)`), or
  standardised with the training split's per-channel mean and standard deviation for models that take
  normalised images. It is recorded in the run's `train.json`, so `convert` evaluates the trained model
  on data prepared the same way.
- `Stream`: the examples (images, points or token windows, with their labels: a class, or the next
  tokens) of the training split; epoch e visits them in the order `default_rng([seed, e]).permutation(n)`, in
  full batches (the last partial batch is dropped, so every step has the same shape). The order
  depends only on (seed, epoch), so a run resumed at step k reads exactly the batches the uninterrupted
  run read from step k on. A procedure that carries state from one batch to the next (Transformer-XL's
  memory) keeps the stored order (`shuffle=False`).
"""

import dataclasses

import numpy as np

from keras_landmarks.errors import ConfigError


def image_split(name, split, data_dir=None, manual_dir=None):
    """(images uint8 (N, H, W, C), labels int64 (N,), number of classes) of an image dataset's split."""
    from keras_landmarks import datasets

    source = datasets.get_source(name)
    if source.supervised_keys != ("image", "label"):
        raise ConfigError(f"Dataset {name!r} is not an image classification dataset (its examples: "
                          f"{source.description}); image classifiers train on: "
                          f"{', '.join(n for n, s in datasets.SOURCES.items() if s.supervised_keys == ('image', 'label'))}.",
                          key="data", value=name)
    return data_split(name, split, data_dir, manual_dir)


def data_split(name, split, data_dir=None, manual_dir=None):
    """(inputs (N, ...), labels int64 (N,), number of classes) of a supervised dataset's split: images,
    or vectors (`gaussians8`'s points)."""
    import tensorflow_datasets as tfds

    from keras_landmarks import datasets

    source = datasets.get_source(name)
    builder = datasets.prepare(name, data_dir, manual_dir)
    if split not in builder.info.splits:
        raise ConfigError(f"Dataset {name!r} has no split {split!r}; it has {', '.join(builder.info.splits)}.",
                          key="split", value=split)
    inputs, labels = tfds.as_numpy(builder.as_dataset(split=split, as_supervised=True, batch_size=-1))
    return inputs, labels.astype(np.int64), builder.info.features[source.supervised_keys[1]].num_classes


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    size: tuple  # (height, width) of the model's input
    channels: int
    value_range: tuple | None  # the model's pixel range; None: standardise with mean / std
    mean: tuple = ()
    std: tuple = ()
    dtype: str = "float32"  # what a model without images takes: float32 vectors, int32 token ids

    @classmethod
    def for_model(cls, model, train_images):
        from keras_landmarks.inputs import Image, input_kinds

        if len(model.inputs) != 1 or len(model.inputs[0].shape) != 4:
            raise ConfigError(f"{model.name} does not take one batch of images (inputs: "
                              f"{[tuple(t.shape) for t in model.inputs]}); it cannot train on an image dataset.",
                              key="data", value=model.name)
        _, height, width, channels = model.inputs[0].shape
        if height is None or width is None:
            height, width = train_images.shape[1:3]
        kind = input_kinds(model)[model.inputs[0].name]
        value_range = tuple(kind.value_range) if isinstance(kind, Image) and kind.value_range else None
        prep = cls((int(height), int(width)), int(channels), value_range)
        if value_range is not None:
            return prep
        fitted = np.asarray(prep._fit(train_images[:4096]), np.float64)  # enough for the statistics
        return dataclasses.replace(prep, mean=tuple(fitted.mean(axis=(0, 1, 2)).tolist()),
                                   std=tuple(np.maximum(fitted.std(axis=(0, 1, 2)), 1e-6).tolist()))

    def _fit(self, images):
        """uint8 → float32 in [0, 1], at the model's size and channels."""
        import tensorflow as tf

        x = tf.cast(images, tf.float32) / 255.0
        h, w = int(x.shape[1]), int(x.shape[2])
        if (h, w) != self.size:
            whole = self.size[0] % h == 0 and self.size[1] % w == 0
            x = tf.image.resize(x, self.size, method="nearest" if whole else "bilinear")
        if x.shape[-1] == 1 and self.channels == 3:
            x = tf.tile(x, [1, 1, 1, 3])
        elif x.shape[-1] == 3 and self.channels == 1:
            x = tf.image.rgb_to_grayscale(x)
        return x

    @classmethod
    def vectors(cls):
        """For vector data (2-D points): float32, unchanged (`size` is empty)."""
        return cls((), 0, None)

    @classmethod
    def tokens(cls):
        """For token ids (a language model's windows): int32, unchanged."""
        return cls((), 0, None, dtype="int32")

    def __call__(self, images):
        """A batch of uint8 images as the model takes them (a tf.Tensor; works in tf.data and eagerly)."""
        if not self.size:  # vectors or token ids
            import tensorflow as tf

            return tf.cast(images, self.dtype)
        x = self._fit(images)
        if self.value_range is not None:
            low, high = self.value_range
            return low + (high - low) * x
        return (x - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(tuple(data["size"]), int(data["channels"]),
                   tuple(data["value_range"]) if data.get("value_range") else None,
                   tuple(data.get("mean", ())), tuple(data.get("std", ())), data.get("dtype", "float32"))


@dataclasses.dataclass(frozen=True)
class Stream:
    images: np.ndarray
    labels: np.ndarray
    batch_size: int
    seed: int
    shuffle: bool = True  # False: every epoch in the stored order (a procedure that carries state across batches)

    @property
    def steps_per_epoch(self):
        return len(self.labels) // self.batch_size

    def order(self, epoch):
        if not self.shuffle:
            return np.arange(len(self.labels))
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.labels))

    def batches(self, first, last, preprocess, shard=(0, 1)):
        """tf.data.Dataset of the batches of global steps [first, last), across epochs, preprocessed.
        `shard=(i, n)`: the i-th of n equal slices of each batch (a worker's part of a global batch)."""
        import tensorflow as tf

        index_of, parts = shard
        b, per_epoch = self.batch_size, self.steps_per_epoch
        if b % parts:
            raise ConfigError(f"Batch size {b} does not split evenly over {parts} workers; use a multiple of {parts}.",
                              key="batch_size", value=b)
        width = b // parts
        orders = {}

        def generate():
            for step in range(first, last):
                epoch, within = divmod(step, per_epoch)
                if epoch not in orders:
                    orders.clear()
                    orders[epoch] = self.order(epoch)
                index = orders[epoch][within * b : (within + 1) * b][index_of * width : (index_of + 1) * width]
                yield self.images[index], self.labels[index]

        signature = (tf.TensorSpec((width, *self.images.shape[1:]), tf.as_dtype(self.images.dtype)),
                     tf.TensorSpec((width, *self.labels.shape[1:]), tf.as_dtype(self.labels.dtype)))
        dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
        return dataset.map(lambda x, y: (preprocess(x), y)).prefetch(2)


def evaluation_batches(images, labels, preprocess, batch_size=256):
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size).map(
        lambda x, y: (preprocess(x), y)).prefetch(2)
