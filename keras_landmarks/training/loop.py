"""`train(...)`: a registry model on a dataset of `keras_landmarks.datasets`, with Keras's `fit`.

The run folder (`--out`, default `runs/<model>`) holds:

    train.json        what was run (model, overrides, data, recipe, seed, preprocessing) and its results
    <model>.keras     the trained model: the input of `keras-landmarks convert`
    vocabulary.txt    what a procedure writes beside it (a language model's words; train.json's `assets`)
    history.json      per-epoch metrics (train and held-out) and the training loss along the steps
    curves.png        those curves
    checkpoints/      step-XXXXXXXX.npz, the last two (every --checkpoint-every steps and each epoch end)
    logs/             TensorBoard

`resume=True` continues the run in `out` from its newest checkpoint: same weights, optimizer state,
dropout seeds and data order as the uninterrupted run at that step, so it ends with the same weights.
"""

import contextlib
import dataclasses
import json
import math
import os
import pathlib
import shutil
import time

import numpy as np

from keras_landmarks import options
from keras_landmarks.errors import ConfigError
from keras_landmarks.training import checkpoint
from keras_landmarks.training.data import Preprocessing, Stream, evaluation_batches
from keras_landmarks.training.procedures import classification_metrics, get_procedure, outputs_probabilities
from keras_landmarks.training.recipe import Recipe, default_recipe
from keras_landmarks.training.runs import saved_overrides

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("none", "mirrored", "multi-worker")
STEP_LOG_POINTS = 200  # about this many training-loss points along a run, for the curves


def _write_json(path, data):
    partial = pathlib.Path(str(path) + ".partial")
    partial.write_text(json.dumps(data, indent=1, default=_jsonable))
    os.replace(partial, path)


def _jsonable(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _plain(value):
    return json.loads(json.dumps(value, default=_jsonable))


def _strategy(name):
    import tensorflow as tf

    if name in (None, "none"):
        return None
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ConfigError(f"Unknown strategy {name!r}. Allowed: {', '.join(STRATEGIES)}.", key="strategy", value=name)


_outputs_probabilities = outputs_probabilities  # the multi-worker loop's name for it


def _options(name, data, overrides, recipe, seed, batch_size, epochs, steps, precision, strategy, checkpoint_every):
    return {"model": name, "overrides": overrides, "data": data, "seed": seed, "batch_size": batch_size,
            "epochs": epochs, "steps": steps, "precision": precision, "strategy": strategy,
            "checkpoint_every": checkpoint_every, "recipe": dataclasses.asdict(recipe)}


def _resumed_options(out, given):
    """The record (train.json) of the run in `out`; an option given now that differs from its options is an
    error."""
    path = pathlib.Path(out) / "train.json"
    if not path.is_file():
        raise ConfigError(f"Nothing to resume in {out}: no train.json (start the run without --resume).",
                          key="resume", value=str(out))
    try:
        record = json.loads(path.read_text())
        saved = record["options"]
        Preprocessing.from_dict(record["preprocessing"])
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"{path} is damaged ({error}); start again with --overwrite.", key="resume",
                          value=str(path)) from None
    for key, value in given.items():
        if key == "overrides":  # the run's own includes num_classes from the dataset
            value = {k: v for k, v in (value or {}).items() if saved[key].get(k) != _plain(v)} or None
        if value is not None and key in saved and _plain(value) != saved[key]:
            raise ConfigError(f"--resume continues the run in {out} as it started: {key} was {saved[key]!r}, "
                              f"not {value!r}.", key=key, value=value)
    return record


def _callback(run, log_every):
    """Checkpoints, the epoch history (with the procedure's held-out metrics, computed here rather than
    by `fit`'s validation, which needs a compiled loss that a model with its own `train_step` may not
    have), the training loss along the steps and what the procedure shows after an epoch."""
    folder, every, steps_per_epoch = run.out / "checkpoints", run.checkpoint_every, run.stream.steps_per_epoch
    history, step_log = run.history, run.step_log
    import keras

    class RunCallback(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epoch_start = time.perf_counter()

        def _step(self):
            return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

        def _save(self, step):
            checkpoint.save(folder, step, self.model, run.optimizers,
                            {"step": step, "history": history, "steps": step_log})

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            step = self._step()
            loss = next((v for k, v in (logs or {}).items() if "loss" in k), None)  # "loss", or a train_step's own
            if loss is not None and not math.isfinite(float(loss)):
                from keras_landmarks.errors import TrainingError

                kept = f" Its last checkpoint stays in {folder}." if folder.is_dir() and any(folder.iterdir()) else ""
                raise TrainingError(f"The loss of {run.name} became {float(loss)} by step {step}: training diverged "
                                    f"(learning rate {run.recipe.learning_rate:g}; a lower --learning-rate may keep it "
                                    f"finite).{kept}")
            if loss is not None and step % log_every == 0:
                step_log.append({"step": step, "loss": float(loss)})
            if every and step % every == 0 and step % steps_per_epoch:
                self._save(step)
                run.procedure.snapshot(self.model, run.out, step)

        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:  # shared with the callbacks after this one: TensorBoard, the progress bar
                logs.update({f"val_{k}": v for k, v in run.procedure.evaluate(self.model, run.validation).items()})
            step = self._step()
            run.procedure.snapshot(self.model, run.out, step)
            record = {"epoch": epoch + 1, "step": step, "seconds": round(time.perf_counter() - self.epoch_start, 2)}
            record.update({k: float(v) for k, v in (logs or {}).items()})
            if step % steps_per_epoch:
                record["partial"] = True
            history.append(record)
            self._save(step)

    return RunCallback()


def _plot(path, history, step_log, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = sorted({k for r in history for k in r if k not in ("epoch", "step", "seconds", "partial")
                      and not k.startswith("val_") and k != "loss"})
    figure, axes = plt.subplots(1, 1 + len(metrics), figsize=(5 * (1 + len(metrics)), 3.6), squeeze=False)
    ax = axes[0][0]
    if step_log:
        ax.plot([p["step"] for p in step_log], [p["loss"] for p in step_log], lw=0.8, label="train (running mean)")
    ax.plot([r["step"] for r in history], [r.get("val_loss", np.nan) for r in history], "o-", label="held-out")
    ax.set(xlabel="step", ylabel="loss", title=f"{title}: loss")
    ax.legend()
    for ax, metric in zip(axes[0][1:], metrics):
        ax.plot([r["step"] for r in history], [r.get(metric, np.nan) for r in history], "o-", label="train")
        ax.plot([r["step"] for r in history], [r.get("val_" + metric, np.nan) for r in history], "o-", label="held-out")
        ax.set(xlabel="step", ylabel=metric, title=f"{title}: {metric}")
        ax.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


@dataclasses.dataclass
class Run:
    """Everything a training loop needs, set up by `_prepare`."""

    name: str
    out: pathlib.Path
    net: object  # the model `fit` trains: the registry model, or a procedure's trainer holding it
    recipe: Recipe
    stream: Stream
    prep: Preprocessing
    validation: object
    test: tuple
    total: int
    record: dict
    history: list
    step_log: list
    start: int
    checkpoint_every: int | None
    strategy: object = None
    writes: bool = True  # False on the workers of a multi-worker run other than the chief
    procedure: object = None
    optimizers: list = dataclasses.field(default_factory=list)  # [(optimizer, the variables it updates)]
    exports: dict = dataclasses.field(default_factory=dict)  # {name: model saved as <name>.keras}


def train(model, data, *, out=None, epochs=None, steps=None, batch_size=None, optimizer=None, learning_rate=None,
          seed=0, checkpoint_every=None, resume=False, overwrite=False, precision="float32", strategy="none",
          overrides=None, weights=None, data_dir=None, manual_dir=None, progress=True, loss=None, recipe_options=None):
    """Train registry model `model` on dataset `data` by its paper's procedure (a classifier's
    cross-entropy, a VAE's ELBO, a GAN's game); the run's summary (also in `out/train.json`).

    Args:
        model: a registry name (`build(model, **overrides)`; `num_classes` follows the dataset unless set).
        data: a dataset name of `keras_landmarks.datasets` (images: digits, mnist_5k, fashion_mnist;
            text for language models: text_corpus); trains on its `train` split, reports on `test`.
        loss: the objective, where the procedure offers several (a GAN's "minimax" or "non_saturating";
            `info` shows the recipe's).
        recipe_options: values of the recipe's procedure options to change (word2vec's "sample", Transformer-XL's
            "segment"); `info` shows them. A key the recipe does not have is an error.
        out: the run folder (default `runs/<model>`); an existing run there needs `resume` or `overwrite`.
        epochs / steps: the length (steps wins; default: the recipe's epochs).
        batch_size, optimizer, learning_rate: override the model's recipe (`info` shows it). The batch
            size is global: split across replicas and workers.
        seed: weights, dropout and data order follow from it.
        weights: start from weights trained elsewhere (`build(model, weights=...)`): fine-tuning.
        checkpoint_every: also checkpoint every N steps (always at each epoch end).
        resume: continue the run in `out` from its newest checkpoint, bit for bit.
        precision: "float32", "mixed_float16" or "mixed_bfloat16" (Keras mixed precision).
        strategy: "none", "mirrored" (tf.distribute.MirroredStrategy over the local devices, with `fit`) or
            "multi-worker" (MultiWorkerMirroredStrategy from TF_CONFIG, with the custom loop of
            `keras_landmarks.training.distributed`).
    """
    from keras_landmarks import registry

    spec = registry.get_spec(model)
    out = options.writable_folder(out or pathlib.Path("runs") / spec.name, "Run folder")
    for key, value in (("epochs", epochs), ("steps", steps), ("checkpoint_every", checkpoint_every),
                       ("batch_size", batch_size)):
        options.positive(key, value)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"Invalid seed {seed!r}: a whole number ≥ 0.", key="seed", value=seed)
    if precision not in PRECISIONS:
        raise ConfigError(f"Unknown precision {precision!r}. Allowed: {', '.join(PRECISIONS)}.", key="precision",
                          value=precision)
    writes = True
    if strategy == "multi-worker":
        from keras_landmarks.training.distributed import is_chief

        writes = is_chief()  # reads TF_CONFIG: a missing or bad one is a ConfigError before TensorFlow starts
    strategy_object = _strategy(strategy)  # MultiWorkerMirroredStrategy must exist before other TF ops
    if not progress:
        import tensorflow_datasets as tfds

        tfds.disable_progress_bar()  # nor the progress of building a dataset
    run = _prepare(spec, data, out, epochs, steps, batch_size, optimizer, learning_rate, seed, checkpoint_every,
                   resume, overwrite, precision, strategy, strategy_object, overrides, weights, data_dir, manual_dir,
                   writes, loss, recipe_options)
    started = time.perf_counter()
    try:
        if strategy == "multi-worker":
            from keras_landmarks.training.distributed import custom_loop

            custom_loop(run, progress)
        else:
            _fit(run, progress)
    except KeyboardInterrupt:
        if run.writes:
            run.record["status"] = "interrupted"
            _write_json(out / "train.json", run.record)
        raise
    return _finish(run, time.perf_counter() - started)


def _prepare(spec, data, out, epochs, steps, batch_size, optimizer, learning_rate, seed, checkpoint_every, resume,
             overwrite, precision, strategy, strategy_object, overrides, weights, data_dir, manual_dir, writes, loss,
             recipe_options=None):
    import keras

    name = spec.name
    recipe = (spec.training(spec.full_config(**(overrides or {}))) if spec.training else default_recipe(spec.task))
    unknown = sorted(set(recipe_options or {}) - set(recipe.options))
    if unknown:
        raise ConfigError(f"Unknown recipe option {unknown[0]!r} for {name}. Allowed: "
                          f"{', '.join(sorted(recipe.options)) or 'none (its recipe has no options)'}.",
                          key="options", value=unknown[0])
    recipe = recipe.replace(optimizer=optimizer, learning_rate=learning_rate, batch_size=batch_size,
                            epochs=epochs, loss=loss, options={**recipe.options, **recipe_options} if recipe_options else None
                            ).check()
    if spec.task != "image_classification" and recipe.procedure == "classification":
        raise ConfigError(f"{name} is a {spec.task} model: `train` runs image classifiers and the models whose "
                          f"recipe names a training procedure; its paper's recipe is in `keras-landmarks info {name} "
                          "--json`.", key="model", value=name)
    procedure = get_procedure(recipe.procedure)
    given = _options(name, data, overrides, recipe, seed, batch_size, epochs, steps, precision, strategy,
                     checkpoint_every)
    given.update(data_dir=str(data_dir) if data_dir else None, manual_dir=str(manual_dir) if manual_dir else None,
                 weights=str(weights) if weights else None)
    if resume:
        resumed = _resumed_options(out, {"data": data, "seed": seed if seed else None, "batch_size": batch_size,
                                       "epochs": epochs, "steps": steps, "overrides": overrides,
                                       "strategy": None if strategy == "none" else strategy})
        saved = resumed["options"]
        data, seed, steps = saved["data"], saved["seed"], saved["steps"]
        overrides = saved_overrides(saved)
        data_dir, manual_dir = data_dir or saved.get("data_dir"), manual_dir or saved.get("manual_dir")
        weights = saved.get("weights")  # the checkpoint overwrites them, but the build options follow them
        precision, checkpoint_every = saved["precision"], saved["checkpoint_every"]
        recipe = Recipe.from_dict(saved["recipe"])
        procedure = get_procedure(recipe.procedure)
        given = saved
    procedure.check(recipe, precision, strategy)
    procedure.check_options(recipe, name)
    if not resume and writes and out.exists() and any(out.iterdir()):
        if not overwrite:
            raise ConfigError(f"{out} already holds a run: pass --resume to continue it or --overwrite to replace it.",
                              key="out", value=str(out))
        shutil.rmtree(out)

    model = {"spec": spec, "config": spec.full_config(**(overrides or {})), "recipe": recipe}
    train_x, train_y, classes = procedure.split(data, "train", data_dir, manual_dir, **model)
    test_x, test_y, _ = procedure.split(data, "test", data_dir, manual_dir, **model)
    overrides = procedure.configure(spec, overrides or {}, classes)
    given["overrides"] = overrides
    per_step = procedure.images_per_step(recipe)
    stream = Stream(train_x, train_y, per_step, seed, shuffle=procedure.shuffles(recipe))
    if stream.steps_per_epoch < 1:
        reads = "" if per_step == recipe.batch_size else f" (a step reads {per_step} images)"
        raise ConfigError(f"Batch size {recipe.batch_size}{reads} is larger than {data}'s {len(train_y):,} training "
                          "examples.", key="batch_size", value=recipe.batch_size)
    total = steps or recipe.epochs * stream.steps_per_epoch

    keras.utils.set_random_seed(seed)
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        with strategy_object.scope() if strategy_object else contextlib.nullcontext():
            built = procedure.build(spec, overrides, weights, recipe, total, classes,
                                    dataset=(data, data_dir, manual_dir))
    finally:
        keras.config.set_dtype_policy(previous_policy)
    net = built.trainer

    prep = (Preprocessing.from_dict(resumed["preprocessing"]) if resume
            else procedure.preprocessing(built, train_x))
    history, step_log, start = [], [], 0
    if resume:
        latest = checkpoint.latest(out / "checkpoints")
        if latest is not None:
            with strategy_object.scope() if strategy_object else contextlib.nullcontext():
                extra = checkpoint.restore(latest, net, built.optimizers)
            start, history, step_log = extra["step"], extra["history"], extra["steps"]
    record = {"options": given, "procedure": procedure.name, "preprocessing": prep.to_dict(),
              "dataset_classes": classes, "steps_per_epoch": stream.steps_per_epoch, "total_steps": total,
              "status": "running", "recipe_source": recipe.source, "artifact": f"{next(iter(built.exports))}.keras",
              "artifacts": [f"{export}.keras" for export in built.exports]}
    if getattr(net, "weights_report", None):
        record["weights"] = net.weights_report
    if writes:
        out.mkdir(parents=True, exist_ok=True)
        assets = procedure.write_assets(out, data, data_dir, manual_dir, **model)
        if assets:
            record["assets"] = list(assets)
        _write_json(out / "train.json", record)
    return Run(name, out, net, recipe, stream, prep, evaluation_batches(test_x, test_y, prep), (test_x, test_y),
               total, record, history, step_log, start, checkpoint_every, strategy_object, writes, procedure,
               built.optimizers, built.exports)


def _fit(run, progress):
    """Keras's `fit`, one call per stretch of whole epochs (a resumed or a --steps run adds partial ones)."""
    import keras

    net, spe, total = run.net, run.stream.steps_per_epoch, run.total
    callback = _callback(run, max(1, total // STEP_LOG_POINTS))
    tensorboard = keras.callbacks.TensorBoard(log_dir=str(run.out / "logs"))
    step = run.start
    while step < total:
        epoch, within = divmod(step, spe)
        if within or total - step < spe:  # a partial epoch: resumed mid-way, or the end of a --steps run
            count, epochs_now = min(spe - within, total - step), 1
        else:
            count, epochs_now = spe, (total - step) // spe
        dataset = run.stream.batches(step, step + count * epochs_now, run.prep)
        net.fit(dataset, epochs=epoch + epochs_now, initial_epoch=epoch, steps_per_epoch=count,
                callbacks=[callback, tensorboard], shuffle=False,
                verbose=1 if progress else 0)
        step += count * epochs_now


def _finish(run, seconds):
    """Evaluate on the held-out split; write the models, history, curves and train.json (where this
    process writes); the summary."""
    results = run.procedure.results(run.procedure.evaluate(run.net, run.validation))
    out, record = run.out, run.record
    final = out / record["artifact"]
    record.update(status="done", seconds=round(seconds, 2), resumed_from_step=run.start or None, results=results)
    if run.writes:
        for export, model in run.exports.items():
            partial = out / f".{export}.partial.keras"
            model.save(partial)
            os.replace(partial, out / f"{export}.keras")
        _write_json(out / "history.json", {"epochs": run.history, "steps": run.step_log})
        _plot(out / "curves.png", run.history, run.step_log, run.name)
        _write_json(out / "train.json", record)
    summary = {"out": str(out), "model": str(final), **record}
    if not run.writes:
        from keras_landmarks.training.distributed import cluster

        task_type, index, workers = cluster()
        summary["worker"] = f"{task_type} {index} of {workers}"
    return summary


def evaluate(net, batches):
    """(mean cross-entropy, accuracy) of a classifier over `batches` of (inputs, labels)."""
    return classification_metrics(net, batches)
