"""What a finished training run gives `convert`: the registry model it was, and its data.

`keras-landmarks convert runs/lenet5/lenet5.keras --quantize int8` finds `train.json` beside the file:
int8 ranges are calibrated on the run's training split and the quantized artifacts are gated on the
held-out split (a classifier's accuracy, a language model's perplexity), both prepared exactly as
training prepared them. Any network a run saved
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


def procedure_of(record):
    from keras_landmarks.training.procedures import get_procedure

    return get_procedure(record.get("procedure", "classification"))


def quality_metric(record):
    """What gates the run's quantized artifacts on its held-out split: "accuracy" (a classifier),
    "perplexity" (a language model), or None (a generator's run: its latent input has no data; convert
    draws it from its declared kind, and a judge can gate it)."""
    return procedure_of(record).quality_metric


def saved_overrides(options):
    """The build overrides a run's train.json records (JSON lists back to tuples)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in (options.get("overrides") or {}).items()}


def registry_entry(record, path):
    """(spec, config) of the network saved in `path` by the run: the run's model, or the partner network
    its procedure trained beside it; (None, None) for a nested network the registry does not list."""
    from keras_landmarks import registry
    from keras_landmarks.errors import ConfigError
    from keras_landmarks.training.procedures import partner_overrides

    options = record["options"]
    overrides = saved_overrides(options)
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
    """(inputs, labels, Preprocessing) of the run's dataset split, as its procedure read it."""
    from keras_landmarks import registry
    from keras_landmarks.training.data import Preprocessing
    from keras_landmarks.training.recipe import Recipe

    options = record["options"]
    spec = registry.get_spec(options["model"])
    inputs, labels, _ = procedure_of(record).split(options["data"], split, options.get("data_dir"),
                                                   options.get("manual_dir"), spec=spec,
                                                   config=spec.full_config(**saved_overrides(options)),
                                                   recipe=Recipe.from_dict(options["recipe"]))
    return inputs, labels, Preprocessing.from_dict(record["preprocessing"])


def evaluation_data(record):
    """(inputs, labels) of the run's held-out split as the model takes them: all of it, or a fixed random
    `gate_examples` of it where the procedure says so (a language model's 170,000 windows)."""
    inputs, labels, prep = _split(record, "test")
    limit = procedure_of(record).gate_examples
    if limit and len(labels) > limit:
        chosen = np.sort(np.random.default_rng(0).permutation(len(labels))[:limit])
        inputs, labels = inputs[chosen], labels[chosen]
    return np.asarray(prep(inputs)), labels


def calibration_samples(record, input_name, count=CALIBRATION_SAMPLES):
    """[{input_name: one example}]: `count` examples of the run's training split in a fixed random order."""
    inputs, _, prep = _split(record, "train")
    chosen = np.random.default_rng(0).permutation(len(inputs))[:count]
    x = np.asarray(prep(inputs[chosen]))
    return [{input_name: x[i : i + 1]} for i in range(len(x))]


def describe(record):
    options = record["options"]
    return f"the {options['data']} training run in train.json ({options['model']}, seed {options['seed']})"
