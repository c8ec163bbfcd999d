"""What a training run does around `fit`: the procedure a paper defines.

A classifier trains by cross-entropy on labelled images. A VAE maximises its ELBO and a GAN plays two
networks against each other: for them the paper *is* the procedure. A procedure says

- which options it takes: the objectives a recipe may name (`Recipe.loss`), the precisions and
  distribution strategies it supports;
- what is built and compiled (`build`): the registry model itself for a classifier; for a VAE or a GAN
  a `keras.Model` with its own `train_step` that holds the paper's networks (STYLE §8), with the
  optimizers a checkpoint must hold and the models the run saves for `convert`;
- which datasets it reads and how (`split`: image datasets; a GAN also 2-D points; a language model
  windows of token ids), and what the run writes beside its models (`write_assets`: a vocabulary);
- how many training images one step reads (WGAN's critic takes several batches per generator step);
- how images are prepared for it (`preprocessing`: to the classifier's input, or to the generator's
  output range);
- what is measured on the held-out split after each epoch and at the end (`evaluate`), and what is
  written beside the checkpoints at each epoch end and every `--checkpoint-every` steps (`snapshot`: a
  VAE's or a GAN's sample grid).

`train` looks the procedure up by the recipe's `procedure` name; a family module registers its own
with `register_procedure(...)`, so a new training procedure is one class in its paper's module.
"""

import dataclasses
import os

import numpy as np

from keras_landmarks.errors import ConfigError

_PROCEDURES = {}


@dataclasses.dataclass
class Built:
    """What `Procedure.build` returns: the model `fit` trains, the optimizers a checkpoint holds (with the
    variables each updates) and the models the run saves as `<name>.keras` (the first is the run's
    artifact)."""

    trainer: object
    optimizers: list
    exports: dict


class Procedure:
    """Base class; see the module docstring. `name` is what `Recipe.procedure` names."""

    name = ""
    losses = ()
    quality_metric = None  # what gates a run's int8 artifacts on its held-out split (export.parity.GATES)
    gate_examples = None  # how many held-out examples that gate reads (None: all)
    shuffle = True  # False: batches in the order `split` gives (state carried from one batch to the next)
    precisions = ("float32", "mixed_float16", "mixed_bfloat16")
    strategies = ("none", "mirrored", "multi-worker")
    options = {}  # {name: recipe.Option}: what each `Recipe.options` value it reads takes

    def shuffles(self, recipe):
        """Whether training batches are drawn in a shuffled order (`shuffle`, unless the recipe's options
        ask a procedure to carry state from one batch to the next)."""
        return self.shuffle

    def check_options(self, recipe, owner):
        """ConfigError for a `Recipe.options` value of the wrong kind or out of range (`owner`: the model
        named in the message); an option without a declaration is refused, so each one is checked."""
        from keras_landmarks.training.recipe import RECIPE_OPTIONS

        rules = {**RECIPE_OPTIONS, **self.options}
        for key, value in recipe.options.items():
            if key not in rules:
                raise ConfigError(f"Unknown recipe option {key!r} for {owner} ({self.name} training). Allowed: "
                                  f"{', '.join(sorted(rules))}.", key="options", value=key)
            rules[key].check(key, value, owner)

    def check(self, recipe, precision, strategy):
        """ConfigError for a recipe objective, precision or strategy this procedure does not take."""
        if recipe.loss not in self.losses:
            raise ConfigError(f"Unknown loss {recipe.loss!r} for {self.name} training. Allowed: "
                              f"{', '.join(self.losses)}.", key="loss", value=recipe.loss)
        if precision not in self.precisions:
            raise ConfigError(f"{self.name} training runs in {', '.join(self.precisions)}, not {precision!r}.",
                              key="precision", value=precision)
        if strategy not in self.strategies:
            raise ConfigError(f"{self.name} training runs with --strategy {' or '.join(self.strategies)}, not "
                              f"{strategy!r}.", key="strategy", value=strategy)

    def split(self, data, split, data_dir=None, manual_dir=None, *, spec=None, config=None, recipe=None):
        """(inputs, labels, number of classes) of a dataset's split, as the model `spec` at `config`
        trains on it with `recipe`: an image dataset by default."""
        from keras_landmarks.training.data import image_split

        return image_split(data, split, data_dir, manual_dir)

    def write_assets(self, folder, data, data_dir=None, manual_dir=None, *, spec=None, config=None, recipe=None):
        """Write what the run's models need beside them into `folder` (a language model's vocabulary)
        and return the file names; nothing by default."""
        return []

    def configure(self, spec, overrides, classes):
        """The build overrides, completed from the dataset (a classifier's number of classes)."""
        return dict(overrides)

    def build(self, spec, overrides, weights, recipe, total_steps, classes, dataset=None):
        """`Built` for the model `spec` with `overrides`; `dataset`: (name, data_dir, manual_dir) of the
        data it trains on (word2vec draws its noise words from the training vocabulary's counts)."""
        raise NotImplementedError

    def images_per_step(self, recipe):
        return recipe.batch_size

    def preprocessing(self, built, train_images):
        raise NotImplementedError

    def evaluate(self, trainer, batches):
        """{metric: value} on the held-out batches of (images, labels); logged as `val_<metric>`."""
        raise NotImplementedError

    def results(self, metrics):
        """The run's final results, from `evaluate` on the held-out split."""
        return {f"test_{k}": v for k, v in metrics.items()}

    def snapshot(self, trainer, folder, step):
        """Write what the run shows at `step` (sample grids) into `folder`, at each epoch end and each
        `--checkpoint-every` checkpoint; nothing by default."""


def register_procedure(procedure):
    if procedure.name in _PROCEDURES:
        raise ValueError(f"Training procedure {procedure.name!r} is already registered.")
    _PROCEDURES[procedure.name] = procedure
    return procedure


def get_procedure(name):
    if name not in _PROCEDURES:
        raise ConfigError(f"Unknown training procedure {name!r}. Allowed: {', '.join(sorted(_PROCEDURES))}.",
                          key="procedure", value=name)
    return _PROCEDURES[name]


def partner_overrides(spec, partner, overrides):
    """The options of a two-network paper's second network: those of the first network's configuration
    (its variant and the overrides) that the second's builder also takes (image size, channels, widths),
    so the pair always fits together; the name is the second's own."""
    from keras_landmarks.config import builder_parameters

    accepted = set(builder_parameters(partner.builder)) - {"name"}
    return {k: v for k, v in spec.full_config(**overrides).items() if k in accepted}


def outputs_probabilities(model):
    """True when the model ends in a softmax (the loss then takes probabilities, not logits)."""
    import keras

    layer = model.layers[-1]
    activation = getattr(layer, "activation", None)
    return isinstance(layer, keras.layers.Softmax) or getattr(activation, "__name__", "") == "softmax"


def classification_metrics(net, batches):
    """(mean cross-entropy, accuracy) of a classifier over `batches` of (inputs, labels), computed by
    calling the model (not `evaluate`, which is not usable under MultiWorkerMirroredStrategy)."""
    import keras

    loss_object = keras.losses.SparseCategoricalCrossentropy(from_logits=not outputs_probabilities(net),
                                                             reduction="sum")
    total, correct, count = 0.0, 0, 0
    for x, y in batches:
        outputs = net(x, training=False)
        total += float(loss_object(y, keras.ops.cast(outputs, "float32")))
        correct += int(np.sum(np.argmax(keras.ops.convert_to_numpy(outputs), -1) == y.numpy()))
        count += len(y)
    return total / count, correct / count


class Classification(Procedure):
    """Cross-entropy on a labelled image dataset, with the recipe's optimizer (the default procedure)."""

    name = "classification"
    losses = ("sparse_categorical_crossentropy",)
    quality_metric = "accuracy"

    def check(self, recipe, precision, strategy):
        if recipe.loss is not None:  # None: the model's own train_step computes its loss
            super().check(recipe, precision, strategy)

    def configure(self, spec, overrides, classes):
        from keras_landmarks.config import builder_parameters

        overrides = dict(overrides)
        if "num_classes" in builder_parameters(spec.builder) and "num_classes" not in overrides:
            overrides["num_classes"] = classes
        return overrides

    def build(self, spec, overrides, weights, recipe, total_steps, classes, dataset=None):
        import keras

        from keras_landmarks import registry
        from keras_landmarks.training.recipe import optimizer

        net = registry.build(spec.name, weights=weights, **overrides)
        outputs = net.outputs[0].shape[-1]
        if outputs != classes:
            raise ConfigError(f"{spec.name} has {outputs} outputs and the dataset {classes} classes; set "
                              f"num_classes={classes}.", key="num_classes", value=outputs)
        if recipe.loss:
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=not outputs_probabilities(net))
            net.compile(optimizer=optimizer(recipe, total_steps), loss=loss, metrics=list(recipe.metrics) or None)
        else:  # the model's own train_step computes its loss and reports its metrics
            net.compile(optimizer=optimizer(recipe, total_steps))
        return Built(net, [(net.optimizer, net.trainable_variables)], {spec.name: net})

    def preprocessing(self, built, train_images):
        from keras_landmarks.training.data import Preprocessing

        return Preprocessing.for_model(built.trainer, train_images)

    def evaluate(self, trainer, batches):
        loss, accuracy = classification_metrics(trainer, batches)
        return {"loss": loss, "accuracy": accuracy}

    def results(self, metrics):
        return {"test_loss": metrics["loss"], "accuracy": metrics["accuracy"]}


register_procedure(Classification())


def write_grid(images, path, columns=8, value_range=(0.0, 1.0)):
    """Save a batch of images (N, H, W, C) as one PNG grid, scaled from `value_range` to [0, 1]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = np.asarray(images, np.float32)
    low, high = value_range
    images = np.clip((images - low) / (high - low), 0.0, 1.0)
    n, h, w, c = images.shape
    rows = -(-n // columns)
    grid = np.ones((rows * (h + 1) + 1, columns * (w + 1) + 1, c), np.float32)
    for i, image in enumerate(images):
        r, k = divmod(i, columns)
        grid[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + k * (w + 1) : 1 + k * (w + 1) + w] = image
    partial = f"{path}.partial.png"
    plt.imsave(partial, grid[..., 0] if c == 1 else grid, cmap="gray" if c == 1 else None, vmin=0.0, vmax=1.0)
    os.replace(partial, path)
    return path


def write_points(points, path):
    """Save 2-D samples (N, 2) as a scatter plot PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(4, 4))
    axis.scatter(points[:, 0], points[:, 1], s=2)
    axis.set(xlim=(-2.5, 2.5), ylim=(-2.5, 2.5), aspect="equal")
    partial = f"{path}.partial.png"
    figure.savefig(partial, dpi=80)
    plt.close(figure)
    os.replace(partial, path)
    return path


from keras_landmarks.training import language  # noqa: E402,F401  (registers language_model)
