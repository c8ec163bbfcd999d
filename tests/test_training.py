"""Training: the run folder, the int8 export of a trained model, bit-exact resume after SIGKILL, options."""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from keras_landmarks.cli import main
from keras_landmarks.errors import ConfigError
from keras_landmarks.training import train

EXE = shutil.which("keras-landmarks", path=os.path.dirname(sys.executable))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    from keras_landmarks.datasets import prepare

    folder = str(tmp_path_factory.mktemp("tfds"))
    prepare("digits", folder)  # built once here; every test then reads it
    return folder


def _weights(path):
    return keras.saving.load_model(path).get_weights()


def test_train_lenet5_on_digits_then_int8_within_one_point(tmp_path, data_dir, capsys):
    run = tmp_path / "run"
    assert main(["train", "lenet5", "--data", "digits", "--epochs", "3", "--out", str(run), "--data-dir", data_dir,
                 "--quiet"]) == 0
    assert "lenet5 on digits: held-out" in capsys.readouterr().out
    record = json.loads((run / "train.json").read_text())
    assert record["status"] == "done" and record["results"]["accuracy"] > 0.9
    assert record["options"]["overrides"] == {"num_classes": 10}
    assert record["preprocessing"]["size"] == [32, 32] and record["preprocessing"]["value_range"] == [0.0, 1.0]
    history = json.loads((run / "history.json").read_text())
    assert [e["epoch"] for e in history["epochs"]] == [1, 2, 3]
    assert history["epochs"][-1]["val_loss"] < history["epochs"][0]["val_loss"]
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list((run / "logs").rglob("events.out.tfevents.*"))  # TensorBoard
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-00000022.npz", "step-00000033.npz"]

    out = tmp_path / "exports"
    assert main(["convert", str(run / "lenet5.keras"), "--formats", "tflite", "--quantize", "none,int8",
                 "--out", str(out)]) == 0
    manifest = json.loads((out / "lenet5" / "manifest.json").read_text())
    int8 = next(a for a in manifest["artifacts"] if a["artifact"] == "tflite_int8")
    parity = int8["parity"]
    # Gated on the held-out split, prepared as training prepared it (359 digits).
    assert parity["accuracy_keras"] == pytest.approx(record["results"]["accuracy"], abs=1e-6)
    assert abs(parity["accuracy_keras"] - parity["accuracy_quantized"]) <= 0.01
    assert "training split of the digits training run" in int8["calibration"]


def _cli_train(run, data_dir, *extra):
    return [EXE, "train", "lenet5", "--data", "digits", "--steps", "300", "--batch-size", "32", "--seed", "3",
            "--checkpoint-every", "5", "--out", str(run), "--data-dir", data_dir, "--quiet", *extra]


@pytest.mark.large  # two runs and a kill (44 s); bit-for-bit resume runs by default in test_generative
def test_resume_after_sigkill_reaches_the_same_weights(tmp_path, data_dir):
    whole = tmp_path / "whole"
    done = subprocess.run(_cli_train(whole, data_dir), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]

    killed = tmp_path / "killed"
    process = subprocess.Popen(_cli_train(killed, data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        found = list((killed / "checkpoints").glob("step-*.npz")) if (killed / "checkpoints").is_dir() else []
        if any(int(p.stem.split("-")[1]) >= 60 for p in found):
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    assert process.wait(timeout=60) == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (killed / "lenet5.keras").exists()
    stopped_at = max(int(p.stem.split("-")[1]) for p in (killed / "checkpoints").glob("step-*.npz"))
    assert 60 <= stopped_at < 300

    resumed = subprocess.run([EXE, "train", "lenet5", "--data", "digits", "--resume", "--out", str(killed), "--quiet"],
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    record = json.loads((killed / "train.json").read_text())
    assert record["resumed_from_step"] == stopped_at
    for a, b in zip(_weights(whole / "lenet5.keras"), _weights(killed / "lenet5.keras")):
        np.testing.assert_array_equal(a, b)  # bit for bit
    # The resumed run's curves continue the killed run's.
    epochs = json.loads((killed / "history.json").read_text())["epochs"]
    assert [e["step"] for e in epochs] == [e["step"] for e in json.loads((whole / "history.json").read_text())["epochs"]]


def test_mirrored_strategy_matches_one_device(tmp_path, data_dir):
    plain = train("lenet5", "digits", steps=8, batch_size=32, out=tmp_path / "plain", data_dir=data_dir, progress=False)
    mirrored = train("lenet5", "digits", steps=8, batch_size=32, out=tmp_path / "mirrored", data_dir=data_dir,
                     strategy="mirrored", progress=False)
    for a, b in zip(_weights(plain["model"]), _weights(mirrored["model"])):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_mixed_precision_trains(tmp_path, data_dir):
    result = train("lenet5", "digits", steps=12, batch_size=32, precision="mixed_bfloat16", out=tmp_path / "run",
                   data_dir=data_dir, progress=False)
    model = keras.saving.load_model(result["model"])
    assert model.get_layer("c1").compute_dtype == "bfloat16"
    assert np.isfinite(result["results"]["test_loss"])


@pytest.mark.parametrize("argv, message", [
    (["--data", "imagenet"], "Unknown dataset 'imagenet'"),
    (["--data", "analogies"], "'analogies' is not an image classification dataset"),
    (["--data", "digits", "--optimizer", "lbfgs"], "Unknown optimizer 'lbfgs'. Allowed: sgd, adam, adamw, rmsprop"),
    (["--data", "digits", "--precision", "fp8"], "Unknown precision 'fp8'"),
    (["--data", "digits", "--strategy", "tpu"], "Unknown strategy 'tpu'"),
    (["--data", "digits", "--batch-size", "5000"], "Batch size 5000 is larger than digits's 1,438 training examples"),
    (["--data", "digits", "--epochs", "0"], "Invalid epochs 0"),
    (["--data", "digits", "--learning-rate", "-1"], "Invalid learning rate -1.0"),
    (["--data", "digits", "--resume"], "Nothing to resume in"),
    (["--data", "text_corpus", "--model", "bert_tiny"], "bert_tiny is a text_encoder model: `train` runs image"),
])
def test_bad_train_options_get_one_line(argv, message, tmp_path, data_dir, capsys):
    model = argv[argv.index("--model") + 1] if "--model" in argv else "lenet5"
    argv = [a for i, a in enumerate(argv) if a != "--model" and (i == 0 or argv[i - 1] != "--model")]
    assert main(["train", model, *argv, "--out", str(tmp_path / "run"), "--data-dir", data_dir, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "run" / "lenet5.keras").exists()


def test_a_run_whose_loss_diverges_stops_with_one_line(tmp_path, data_dir, capsys):
    """A loss that becomes NaN or infinite stops the run at once (exit 1, one line naming the step and the
    learning rate); no final model is written, the run's checkpoints stay."""
    argv = ["train", "lenet5", "--set", "activation=linear", "--data", "digits", "--steps", "40", "--learning-rate",
            "9", "--optimizer", "sgd", "--out", str(tmp_path / "run"), "--data-dir", data_dir, "--quiet"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "The loss of lenet5 became" in err and "training diverged (learning rate 9;" in err, err
    assert err.count("\n") == 1
    assert not (tmp_path / "run" / "lenet5.keras").exists()


def test_a_run_is_not_replaced_or_resumed_with_other_options(tmp_path, data_dir):
    run = tmp_path / "run"
    train("lenet5", "digits", steps=3, out=run, data_dir=data_dir, progress=False)
    with pytest.raises(ConfigError, match="already holds a run: pass --resume to continue it or --overwrite"):
        train("lenet5", "digits", steps=3, out=run, data_dir=data_dir, progress=False)
    with pytest.raises(ConfigError, match="seed was 0, not 4"):
        train("lenet5", "digits", seed=4, out=run, resume=True, data_dir=data_dir, progress=False)
    (run / "checkpoints" / "step-00000003.npz").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="step-00000003.npz cannot be read"):
        train("lenet5", "digits", out=run, resume=True, data_dir=data_dir, progress=False)


@pytest.mark.large  # two worker processes (27 s)
def test_two_workers_train_together_as_one_process(tmp_path, data_dir):
    """MultiWorkerMirroredStrategy, two worker processes on 127.0.0.1, each feeding half of every global
    batch: the chief's weights are those of one process with the same global batch."""
    from keras_landmarks.datasets import prepare
    from keras_landmarks.export.serving_bench import free_port

    prepare("digits", data_dir)  # prepared once, before the workers read it
    ports = [free_port(), free_port()]
    common = ["train", "lenet5", "--data", "digits", "--steps", "12", "--batch-size", "64", "--data-dir", data_dir,
              "--quiet"]
    workers = []
    for index in range(2):
        config = {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(config)}
        workers.append(subprocess.Popen([EXE, *common, "--strategy", "multi-worker", "--out", str(tmp_path / "two")],
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [w.communicate(timeout=600) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [err[-2000:] for _, err in outputs]
    assert "worker 1 of 2: done (the chief writes the run" in outputs[1][0]
    single = subprocess.run([EXE, *common, "--out", str(tmp_path / "one")], capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr[-2000:]
    import keras_landmarks  # noqa: F401  (the layers the .keras files use)

    for a, b in zip(_weights(tmp_path / "two" / "lenet5.keras"), _weights(tmp_path / "one" / "lenet5.keras")):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    record = json.loads((tmp_path / "two" / "train.json").read_text())
    assert record["options"]["strategy"] == "multi-worker" and record["status"] == "done"


def test_multi_worker_without_tf_config_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert main(["train", "lenet5", "--data", "digits", "--strategy", "multi-worker", "--out", str(tmp_path)]) == 2
    assert "reads the cluster from the TF_CONFIG environment variable, which is not set" in capsys.readouterr().err


@pytest.mark.large
def test_resnet20_learns_fashion_mnist_in_one_epoch(tmp_path):
    """He et al.'s CIFAR ResNet-20 with its recipe (SGD 0.1, momentum 0.9, weight decay 1e-4, ÷10 at ½ and
    ¾ of the run), one epoch of the 60,000 Fashion-MNIST images on two cores (about four minutes): 87.6 %
    held-out accuracy with seed 0 when measured (86.7 % and 86.6 % with seeds 1 and 2)."""
    result = train("resnet20", "fashion_mnist", epochs=1, out=tmp_path / "run", data_dir=str(tmp_path / "tfds"),
                   progress=False)
    assert result["total_steps"] == 468 and result["recipe_source"].startswith("He et al. 2016, §4.2")
    assert result["results"]["accuracy"] >= 0.85


def test_warmup_linear_schedule():
    """BERT's schedule: linear warm-up to the peak, then linear decay to 0 at the last step."""
    from keras_landmarks.training.recipe import Recipe, learning_rate

    schedule = learning_rate(Recipe(learning_rate=1e-4, schedule="warmup_linear", warmup=0.1), 1000)
    values = [float(schedule(step)) for step in (0, 50, 100, 550, 1000)]
    np.testing.assert_allclose(values, [0.0, 5e-5, 1e-4, 5e-5, 0.0], atol=1e-9)
    steps = learning_rate(Recipe(learning_rate=0.1, schedule="steps", boundaries=(0.5, 0.75)), 400)
    np.testing.assert_allclose([float(steps(s)) for s in (0, 199, 201, 301)], [0.1, 0.1, 0.01, 0.001], rtol=1e-6)


def test_every_recipe_option_is_declared_and_its_default_passes_its_check():
    """Each option a registry recipe sets is declared by its procedure (so `--option` values are
    checked before a run starts), and the paper's own value passes that check."""
    from keras_landmarks import registry
    from keras_landmarks.training.procedures import get_procedure
    from keras_landmarks.training.recipe import Option

    checked = 0
    for name in registry.list_models():
        spec = registry.get_spec(name)
        if spec.training is None:
            continue
        recipe = spec.training(spec.full_config())
        get_procedure(recipe.procedure).check_options(recipe, name)  # raises for an undeclared or bad default
        checked += len(recipe.options)
    assert checked >= 10
    rule = Option(float, minimum=0.0, maximum=1.0)
    for bad in (-0.1, 1.5, float("nan"), "0.5", True, None):
        with pytest.raises(ConfigError, match="expected a finite number >= 0 and <= 1"):
            rule.check("mixing", bad, "stylegan")
    assert rule.check("mixing", 1, "stylegan") == 1
    assert Option(int, optional=True, minimum=2).check("eval_tokens", None, "x") is None


def test_a_model_with_its_own_train_step_trains_through_the_same_run(tmp_path, data_dir, monkeypatch):
    """The hook the training-procedure papers use: a recipe without a loss, a keras.Model whose
    `train_step` computes its own; `fit`, checkpoints, history and the held-out report work unchanged."""
    import dataclasses

    import tensorflow as tf

    from keras_landmarks import registry
    from keras_landmarks.training import Recipe

    class SelfTrained(keras.Model):
        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                logits = self(x, training=True)
                loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
            self.optimizer.apply(tape.gradient(loss, self.trainable_variables), self.trainable_variables)
            return {"own_loss": loss}

    def builder(num_classes: int = 10, name: str = "self_trained"):
        x = keras.Input((8, 8, 1), name="images")
        return SelfTrained(x, keras.layers.Dense(num_classes, name="predictions")(keras.layers.Flatten()(x)), name=name)

    spec = dataclasses.replace(registry.get_spec("lenet5"), name="self_trained", builder=builder, config={},
                               training=lambda c: Recipe(loss=None, metrics=(), learning_rate=0.01, batch_size=32,
                                                         source="its own"))
    monkeypatch.setitem(registry._REGISTRY, "self_trained", spec)
    result = train("self_trained", "digits", steps=40, checkpoint_every=10, out=tmp_path / "run", data_dir=data_dir,
                   progress=False)
    epochs = json.loads((tmp_path / "run" / "history.json").read_text())["epochs"]
    assert "own_loss" in epochs[0] and "val_accuracy" in epochs[0]  # its train_step ran, the report is ours
    assert result["results"]["accuracy"] > 0.5
    assert (tmp_path / "run" / "checkpoints" / "step-00000040.npz").is_file()
