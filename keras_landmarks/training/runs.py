"""What a finished training run gives `convert`: the registry model it was, and its data.

`keras-landmarks convert runs/lenet5/lenet5.keras --quantize int8` finds `train.json` beside the file:
int8 ranges are calibrated on the run's training split and the quantized artifacts are gated on the
held-out split's accuracy, both prepared exactly as training prepared them. Any network a run saved
(`runs/dcgan/dcgan.keras`, `dcgan_discriminator.keras`) converts with its registry entry's declared
inputs, so a generator's parity and calibration inputs come from its latent prior.
"""

import json
import pathlib

import numpy as np

CALIBRATION_SAMPLES = 200


def record_for(path):
    """The finished run that saved `path` (its model, or any network a procedure saved: a GAN's
    discriminator, a VAE's decoder), or None."""
    path = pathlib.Path(path)
    record_path = path.parent / "train.json"
    if not record_path.is_file():
        return None
    try:
        record = json.loads(record_path.read_text())
    except ValueError:
        return None
    if record.get("status") != "done" or path.name not in (record.get("artifacts") or [record.get("artifact")]):
        return None
    return record


def is_classification(record):
    """A classifier's run: its data calibrates int8 and its held-out split gates it (a generator's run
    has no images for its latent input: convert draws those from their declared kind)."""
    return record.get("procedure", "classification") == "classification"


def registry_entry(record, path):
    """(spec, config) of the network saved in `path` by the run: the run's model, or the partner network
    its procedure trained beside it; (None, None) for a nested network the registry does not list."""
    from keras_landmarks import registry
    from keras_landmarks.errors import ConfigError
    from keras_landmarks.training.procedures import partner_overrides

    options = record["options"]
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in options["overrides"].items()}
    spec = registry.get_spec(options["model"])
    name = pathlib.Path(path).stem
    if name == spec.name:
        return spec, spec.full_config(**overrides)
    try:
        partner = registry.get_spec(name)
    except ConfigError:
        return None, None
    return partner, partner.full_config(**partner_overrides(spec, partner, overrides))


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
