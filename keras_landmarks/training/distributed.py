"""Training on several machines: `tf.distribute.MultiWorkerMirroredStrategy` with a custom loop.

Keras 3's `fit` under MultiWorkerMirroredStrategy is broken upstream (keras-team/keras#20585), so the
multi-worker path runs its own loop with `strategy.run`, still with the model's Keras optimizer (which
all-reduces the gradients across replicas) and the same data order, checkpoints and run folder as `fit`:

- Each worker reads the whole training split and feeds its replicas their slice of every global batch
  (`Stream.batches(..., shard=(worker, workers))`): step s sees exactly the examples one process would
  see at step s with the same global batch size.
- The loss of each replica is `tf.nn.compute_average_loss(per_example, global_batch_size)`, so the
  all-reduced gradient is the mean over the global batch: the step one process takes. (BatchNorm
  statistics are per replica, as Keras's BatchNormalization is unsynchronised by default, and dropout
  masks are drawn per replica: only for models with neither are the weights those of one process.)
- The chief (TF_CONFIG's `chief`, else worker 0) writes the run folder: checkpoints, history, the model,
  TensorBoard logs. A resumed run restores every worker from the chief's newest checkpoint, so `--out`
  must be a folder every worker sees (a shared volume).

Each worker runs the same command with its own TF_CONFIG, e.g. on 127.0.0.1:

    TF_CONFIG='{"cluster": {"worker": ["127.0.0.1:12345", "127.0.0.1:12346"]}, "task": {"type": "worker", "index": 0}}' \\
        keras-landmarks train lenet5 --data digits --strategy multi-worker --out runs/lenet5-2w
"""

import json
import os
import time

import numpy as np

from keras_landmarks.errors import ConfigError
from keras_landmarks.training import checkpoint


def cluster():
    """(task type, task index, number of workers) from TF_CONFIG; ConfigError where it is missing or bad."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise ConfigError("--strategy multi-worker reads the cluster from the TF_CONFIG environment variable, "
                          "which is not set (see the README's multi-worker section).", key="strategy",
                          value="multi-worker")
    try:
        config = json.loads(text)
        task = config["task"]
        workers = len(config["cluster"].get("worker", [])) + len(config["cluster"].get("chief", []))
        return task["type"], int(task["index"]), workers
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ConfigError(f"TF_CONFIG is not a cluster description ({type(error).__name__}: {error}); it needs "
                          '{"cluster": {"worker": [...]}, "task": {"type": ..., "index": ...}}.', key="TF_CONFIG",
                          value=text[:200]) from None


def is_chief():
    task_type, index, _ = cluster()
    has_chief = "chief" in json.loads(os.environ["TF_CONFIG"])["cluster"]
    return task_type == "chief" or (task_type == "worker" and index == 0 and not has_chief)


def custom_loop(run, progress):
    """Train `run` (set up by `loop._prepare` under the strategy) with `strategy.run`."""
    import keras
    import tensorflow as tf

    strategy, net, recipe, stream = run.strategy, run.net, run.recipe, run.stream
    replicas = strategy.num_replicas_in_sync
    global_batch = recipe.batch_size
    if global_batch % replicas:
        raise ConfigError(f"Batch size {global_batch} does not split evenly over {replicas} replicas; use a "
                          f"multiple of {replicas}.", key="batch_size", value=global_batch)
    from keras_landmarks.training.loop import STEP_LOG_POINTS, _outputs_probabilities, evaluate

    loss_object = keras.losses.SparseCategoricalCrossentropy(from_logits=not _outputs_probabilities(net),
                                                             reduction=None)
    with strategy.scope():
        net.optimizer.build(net.trainable_variables)

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            outputs = net(x, training=True)
            loss = tf.nn.compute_average_loss(loss_object(y, outputs), global_batch_size=global_batch)
            if net.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(net.losses))
        gradients = tape.gradient(loss, net.trainable_variables)
        net.optimizer.apply_gradients(zip(gradients, net.trainable_variables))
        return loss

    @tf.function
    def train_step(iterator):
        x, y = next(iterator)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(replica_step, args=(x, y)), axis=None)

    spe, total, step = stream.steps_per_epoch, run.total, run.start
    log_every = max(1, total // STEP_LOG_POINTS)
    writer = tf.summary.create_file_writer(str(run.out / "logs" / "train")) if run.writes else None
    while step < total:
        epoch, within = divmod(step, spe)
        count = min(spe - within, total - step)
        first = step

        def dataset_fn(context, first=first, count=count):
            return stream.batches(first, first + count, run.prep,
                                  shard=(context.input_pipeline_id, context.num_input_pipelines))

        iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))
        bar = keras.utils.Progbar(count, verbose=1 if progress and run.writes else 0)
        if progress and run.writes:
            print(f"Epoch {epoch + 1}/{-(-total // spe)}")
        started, losses = time.perf_counter(), []
        for _ in range(count):
            loss = float(train_step(iterator))
            step += 1
            losses.append(loss)
            bar.update(len(losses), [("loss", loss)])
            if step % log_every == 0:
                run.step_log.append({"step": step, "loss": float(np.mean(losses))})
                if writer:
                    with writer.as_default():
                        tf.summary.scalar("loss", loss, step=step)
            if run.checkpoint_every and step % run.checkpoint_every == 0 and step % spe and step < total:
                _save(run, step)
        record = {"epoch": epoch + 1, "step": step, "seconds": round(time.perf_counter() - started, 2),
                  "loss": float(np.mean(losses))}
        loss_value, accuracy = evaluate(net, run.validation)
        record.update(val_loss=loss_value, val_accuracy=accuracy)
        if step % spe:
            record["partial"] = True
        run.history.append(record)
        if writer:
            with writer.as_default():
                for key, value in record.items():
                    if key.startswith("val_"):
                        tf.summary.scalar(key, value, step=step)
        _save(run, step)


def _save(run, step):
    if run.writes:
        checkpoint.save(run.out / "checkpoints", step, run.net, run.net.optimizer,
                        {"step": step, "history": run.history, "steps": run.step_log})
