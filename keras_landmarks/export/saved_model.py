"""SavedModel writing, with the model's own signature names and the weights stored once.

`keras.Model.export(format="tf_saved_model")` names outputs `output_0` and, measured on this stack,
stores about 8 bytes per float32 parameter. Here a `tf.Module` tracks each variable once and serves
`serving_default` from `signature.serving_function`, so the signature takes the model's input names,
returns its output names, and has a dynamic batch dimension; the variables take ≈ 4 bytes per
float32 parameter.
"""

from keras_landmarks.export.artifact import Format, Written
from keras_landmarks.export.signature import serving_function


def write_saved_model(model, path, extra_signatures=None, batch_size=None, sequence_length=None):
    """Write `model` as a SavedModel at `path` (a directory that must not exist yet or be empty).

    Args:
        extra_signatures: {signature name: tf.function with an input signature}, e.g. a decoder.
        batch_size: a fixed batch dimension for `serving_default`; None keeps it dynamic.
        sequence_length: a fixed length for the other dynamic dimensions (token models); None keeps them.
    """
    import tensorflow as tf

    module = tf.Module()
    module.model_variables = [getattr(v, "value", v) for v in model.variables]  # each variable once
    module.serve = serving_function(model, batch_size, sequence_length)
    signatures = {"serving_default": module.serve.get_concrete_function()}
    for name, fn in (extra_signatures or {}).items():
        setattr(module, f"signature_{name}", fn)
        signatures[name] = fn.get_concrete_function()
    tf.saved_model.save(module, str(path), signatures=signatures)
    return path


class SavedModelRunner:
    """Runs a SavedModel's `serving_default` signature with named inputs; returns {output name: array}."""

    def __init__(self, path):
        import tensorflow as tf

        self.fn = tf.saved_model.load(str(path)).signatures["serving_default"]

    def __call__(self, inputs):
        import tensorflow as tf

        return {k: v.numpy() for k, v in self.fn(**{k: tf.constant(v) for k, v in inputs.items()}).items()}


class SavedModelFormat(Format):
    """`saved_model/<version>/` in TF Serving's layout, with the model's declared extra signatures, warm-up
    requests, and beside it `models.config`, a `README.md` and `kserve.yaml`."""

    name = family = "saved_model"
    runtime = "tensorflow"

    def filename(self, plan):
        return f"saved_model/{plan.version}"

    def write(self, ctx, path):
        plan = ctx.plan
        write_saved_model(plan.model, path, extra_signatures=plan.extra_signatures, batch_size=plan.batch_size,
                          sequence_length=plan.sequence_length)
        if not ctx.scratch:
            from keras_landmarks.export.parity import cases

            _warmup_requests(path / "assets.extra", plan.name, cases(plan.model, plan.kinds, plan.batch_size, plan.sequence_length)[:2])
            _serving_files(ctx.work, plan.name, plan.version, ["serving_default", *plan.extra_signatures], plan.inputs)
        return Written(details={"signatures": ["serving_default", *plan.extra_signatures]})

    def runner(self, path, num_threads=None):
        return SavedModelRunner(path)


def _warmup_requests(path, name, cases):
    """assets.extra/tf_serving_warmup_requests: PredictionLog records TF Serving replays at load."""
    import tensorflow as tf
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    path.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path / "tf_serving_warmup_requests")) as writer:
        for _, inputs in cases:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=name, signature_name="serving_default"))
            for key, value in inputs.items():
                request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())


def _serving_files(root, name, version, signatures, inputs):
    (root / "models.config").write_text(
        "model_config_list {\n  config {\n"
        f'    name: "{name}"\n    base_path: "/models/{name}/saved_model"\n    model_platform: "tensorflow"\n'
        "  }\n}\n")
    (root / "kserve.yaml").write_text(
        "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n"
        f"  name: {name.replace('_', '-')}\nspec:\n  predictor:\n"
        "    # KServe's batcher (its agent beside the model server) merges the `instances` of concurrent\n"
        "    # requests into one call: up to maxBatchSize examples, waiting at most maxLatency ms.\n"
        "    batcher:\n      maxBatchSize: 32\n      maxLatency: 5\n"
        "    model:\n      modelFormat:\n        name: tensorflow\n"
        f"      storageUri: <the URI where exports/{name}/saved_model is uploaded>\n")
    example = ", ".join(f'"{i["name"]}": ...' for i in inputs)
    (root / "README.md").write_text(f"""# {name}

Converted by keras-landmarks; `manifest.json` lists every artifact with its parity against Keras.

## TF Serving

```bash
docker run --rm -p 8501:8501 -v "$PWD/saved_model:/models/{name}" -e MODEL_NAME={name} tensorflow/serving
# or, with the model config file:
docker run --rm -p 8501:8501 -v "$PWD:/models/{name}" tensorflow/serving --model_config_file=/models/{name}/models.config
curl -X POST localhost:8501/v1/models/{name}:predict -d '{{"inputs": {{{example}}}}}'
```

Version {version} is `saved_model/{version}/`; signatures: {', '.join(signatures)}. TF Serving replays
`assets.extra/tf_serving_warmup_requests` when it loads the model.

Without Docker: `keras-landmarks serve exports/{name}` serves the same REST API (KServe's V1 protocol).

## KServe

`kserve.yaml` is an InferenceService for this SavedModel: upload `saved_model/` and set `storageUri`.
Its `batcher` merges concurrent requests (row `instances` format) into batches of up to 32.
""")
