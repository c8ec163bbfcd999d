"""Serving an exported SavedModel over TF Serving's REST API, through KServe's Python model server.

KServe's V1 protocol is TF Serving's REST API: `POST /v1/models/<name>:predict` with a JSON body in
the row ("instances") or columnar ("inputs") format, and `GET /v1/models/<name>` for readiness. KServe
is an optional extra (`pip install "keras_landmarks[serve]"`).

Every request is checked against the `serving_default` signature before TensorFlow sees it: input
names, dtype, rank, the fixed dimensions and a size limit. A SavedModel called with an input of the
wrong rank can abort the whole process inside oneDNN, so a bad request must be answered with HTTP 400
and never reach the model.
"""

import pathlib

import numpy as np

from keras_landmarks.errors import ConfigError

MAX_ELEMENTS = 1 << 26  # per input, per request (64M values): a request beyond it is refused


class RequestError(ValueError):
    """A request that does not fit the signature (answered with HTTP 400)."""


def saved_model_path(folder):
    """The newest `saved_model/<version>/` of an export folder (or the folder itself if it is one)."""
    folder = pathlib.Path(folder)
    if (folder / "saved_model.pb").is_file():
        return folder
    versions = sorted((p for p in (folder / "saved_model").glob("*") if p.name.isdigit()), key=lambda p: int(p.name))
    if not versions:
        raise ConfigError(f"{str(folder)!r} holds no SavedModel (expected saved_model/<version>/saved_model.pb).")
    return versions[-1]


class SavedModelPredictor:
    """Parses TF Serving REST requests, checks them against the signature, runs the SavedModel."""

    def __init__(self, folder, max_elements=MAX_ELEMENTS):
        import tensorflow as tf

        self.path = saved_model_path(folder)
        self._loaded = tf.saved_model.load(str(self.path))
        self.signature = self._loaded.signatures["serving_default"]
        self.inputs = dict(self.signature.structured_input_signature[1])  # {name: TensorSpec}
        self.max_elements = max_elements

    # -- request parsing ------------------------------------------------------------------------------

    def _array(self, name, value):
        spec = self.inputs[name]
        try:
            array = np.asarray(value, dtype=spec.dtype.as_numpy_dtype)
        except (ValueError, TypeError) as error:
            raise RequestError(f"Input {name!r} must be a (nested) list of {spec.dtype.name} values of shape "
                               f"{_shape(spec.shape)}: {error}") from None
        expected = spec.shape.as_list()
        if array.ndim != len(expected):
            raise RequestError(f"Input {name!r} must have rank {len(expected)} (shape {_shape(spec.shape)}). "
                               f"Received shape {list(array.shape)}")
        for axis, (got, want) in enumerate(zip(array.shape, expected)):
            if want is not None and got != want:
                raise RequestError(f"Input {name!r} must have shape {_shape(spec.shape)}; dimension {axis} is "
                                   f"{got}. Received shape {list(array.shape)}")
        if array.size > self.max_elements:
            raise RequestError(f"Input {name!r} has {array.size:,} values, more than the {self.max_elements:,} "
                               "this server accepts per request")
        if array.shape and array.shape[0] == 0:
            raise RequestError(f"Input {name!r} is empty")
        return array

    def parse(self, payload):
        """{input name: array}, and whether the request used the row ("instances") format."""
        if not isinstance(payload, dict):
            raise RequestError("The request body must be a JSON object with 'instances' or 'inputs'")
        signature = payload.get("signature_name", "serving_default")
        if signature != "serving_default":
            raise RequestError(f"Unknown signature_name {signature!r}; this server serves 'serving_default'")
        if ("instances" in payload) == ("inputs" in payload):
            raise RequestError("The request must have exactly one of 'instances' (row format) and 'inputs' "
                               "(columnar format)")
        names = list(self.inputs)
        if "instances" in payload:
            rows = payload["instances"]
            if not isinstance(rows, list) or not rows:
                raise RequestError("'instances' must be a non-empty list")
            if len(names) == 1 and not all(isinstance(r, dict) for r in rows):
                columns = {names[0]: rows}
            else:
                if not all(isinstance(r, dict) for r in rows):
                    raise RequestError(f"This model takes several inputs {names}: each instance must be an object "
                                       "keyed by input name")
                columns = {}
                for name in names:
                    if any(name not in r for r in rows):
                        raise RequestError(f"Every instance must have input {name!r}; the inputs are {names}")
                    columns[name] = [r[name] for r in rows]
            row_format = True
        else:
            value = payload["inputs"]
            columns = value if isinstance(value, dict) else ({names[0]: value} if len(names) == 1 else None)
            if columns is None:
                raise RequestError(f"This model takes several inputs {names}: 'inputs' must be an object")
            row_format = False
        unknown = sorted(set(columns) - set(names))
        missing = sorted(set(names) - set(columns))
        if unknown or missing:
            raise RequestError(f"Inputs must be exactly {names}. Unknown: {unknown}; missing: {missing}")
        arrays = {name: self._array(name, columns[name]) for name in names}
        batches = {a.shape[0] for a in arrays.values()}
        if len(batches) > 1:
            raise RequestError(f"All inputs must have the same batch size. Received: {sorted(batches)}")
        return arrays, row_format

    # -- inference -----------------------------------------------------------------------------------

    def run(self, arrays):
        import tensorflow as tf

        outputs = self.signature(**{k: tf.constant(v) for k, v in arrays.items()})
        return {k: v.numpy() for k, v in outputs.items()}

    def predict(self, payload):
        """A TF Serving REST response body for a request body (dict)."""
        arrays, row_format = self.parse(payload)
        outputs = self.run(arrays)
        if row_format:
            if len(outputs) == 1:
                return {"predictions": next(iter(outputs.values())).tolist()}
            batch = len(next(iter(outputs.values())))
            return {"predictions": [{k: v[i].tolist() for k, v in outputs.items()} for i in range(batch)]}
        if len(outputs) == 1:
            return {"outputs": next(iter(outputs.values())).tolist()}
        return {"outputs": {k: v.tolist() for k, v in outputs.items()}}


def _shape(shape):
    return "[" + ", ".join("None" if d is None else str(d) for d in shape.as_list()) + "]"


def serve(folder, port=8501, host="127.0.0.1", name=None):
    """Serve `folder`'s SavedModel with KServe's model server until interrupted."""
    try:
        import kserve
        from kserve import model_server as kserve_model_server
        from kserve.errors import InvalidInput
    except ImportError:
        raise ConfigError("Serving needs KServe: pip install \"keras_landmarks[serve]\"") from None

    folder = pathlib.Path(folder)
    predictor = SavedModelPredictor(folder)
    model_name = name or (folder.name if folder.name != "saved_model" else folder.parent.name)

    class LandmarkModel(kserve.Model):
        def load(self):
            self.ready = True
            return self.ready

        async def predict(self, payload, headers=None, response_headers=None):
            try:
                return predictor.predict(payload)
            except RequestError as error:
                raise InvalidInput(str(error)) from None

    model = LandmarkModel(model_name)
    model.load()

    class _RESTServer(kserve_model_server.RESTServer):
        """KServe's REST server, bound to `host` (KServe's own always binds 0.0.0.0)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.config.host = host

    kserve_model_server.RESTServer = _RESTServer
    print(f"serving {model_name} ({predictor.path}) on http://{host}:{port}/v1/models/{model_name}", flush=True)
    # No per-request latency lines (KServe logs each at INFO); uvicorn's access log stays.
    kserve.ModelServer(http_port=port, enable_grpc=False, workers=1, enable_latency_logging=False).start([model])
