"""What a finished training run gives `convert`: the registry model it was, and its data.

`keras-landmarks convert runs/lenet5/lenet5.keras --quantize int8` finds `train.json` beside the file:
int8 ranges are calibrated on the run's training split and the quantized artifacts are gated on the
held-out split's accuracy, both prepared exactly as training prepared them.
"""

import json
import pathlib

import numpy as np

CALIBRATION_SAMPLES = 200


def record_for(path):
    """The finished classification run whose model file is `path`, or None (a generator's run has no
    images to calibrate its latent input on: convert draws its inputs from their declared kinds)."""
    path = pathlib.Path(path)
    record_path = path.parent / "train.json"
    if not record_path.is_file():
        return None
    try:
        record = json.loads(record_path.read_text())
    except ValueError:
        return None
    if record.get("status") != "done" or record.get("artifact") != path.name:
        return None
    if record.get("procedure", "classification") != "classification":
        return None
    return record


def _split(record, split):
    from keras_landmarks.training.data import Preprocessing, image_split

    options = record["options"]
    images, labels, _ = image_split(options["data"], split, options.get("data_dir"), options.get("manual_dir"))
    return images, labels, Preprocessing.from_dict(record["preprocessing"])


def evaluation_data(record):
    """(inputs float32, labels) of the run's held-out split, as the model takes them."""
    images, labels, prep = _split(record, "test")
    return np.asarray(prep(images), np.float32), labels


def calibration_samples(record, input_name, count=CALIBRATION_SAMPLES):
    """[{input_name: one example}]: `count` examples of the run's training split in a fixed random order."""
    images, _, prep = _split(record, "train")
    chosen = np.random.default_rng(0).permutation(len(images))[:count]
    x = np.asarray(prep(images[chosen]), np.float32)
    return [{input_name: x[i : i + 1]} for i in range(len(x))]


def describe(record):
    options = record["options"]
    return f"the {options['data']} training run in train.json ({options['model']}, seed {options['seed']})"
