"""Serving an exported SavedModel over TF Serving's REST API, through KServe's Python model server.

KServe's V1 protocol is TF Serving's REST API: `POST /v1/models/<name>:predict` with a JSON body in
the row ("instances") or columnar ("inputs") format, and `GET /v1/models/<name>` for readiness. KServe
is an optional extra (`pip install "keras_landmarks[serve]"`).

Every request is checked before TensorFlow sees it: against the `serving_default` signature (input
names, JSON value types, rank, fixed dimensions, equal dynamic dimensions across inputs) and against
the input kinds the export's manifest records (token ids within the vocabulary, segment ids within
the segments, at most the model's longest sequence, masks of 0 and 1, images within their value
range, no null / NaN / Infinity) — the same `InputKind.check` that `convert` applies to calibration
data. A SavedModel called with an input of the wrong rank can abort the whole process inside oneDNN,
so a bad request is answered with HTTP 400 (one log line, no traceback) and never reaches the model.
A request over `max_request_bytes` or `max_instances` is answered with HTTP 413.
"""

import logging
import pathlib
import socket

import numpy as np

from keras_landmarks import options
from keras_landmarks.errors import ConfigError

MAX_ELEMENTS = 1 << 26  # per input, per request (64M values): a request beyond it is refused
MAX_REQUEST_BYTES = 32 << 20  # a JSON body over 32 MiB is refused (413) before it is read
MAX_INSTANCES = 1024  # examples per request (413 beyond): clients batch, the server does not grow without bound


class RequestError(ValueError):
    """A request that does not fit the signature (answered with HTTP 400)."""


class RequestTooLarge(RequestError):
    """A request over the server's limits (answered with HTTP 413)."""


def _kinds(path, inputs):
    """{input name: InputKind} from the export's manifest (beside `saved_model/`), else from the dtypes."""
    import json

    from keras_landmarks.inputs import Floats, InputKind, from_description

    for manifest in (path.parent.parent / "manifest.json", path / "manifest.json"):
        if manifest.is_file():
            try:
                described = json.loads(manifest.read_text()).get("input_kinds", {})
                return {name: from_description(described[name]) if name in described else InputKind()
                        for name in inputs}
            except (ValueError, TypeError, KeyError, AttributeError):
                break  # a damaged manifest: serve with the signature's checks alone
    return {name: Floats() if spec.dtype.is_floating else InputKind() for name, spec in inputs.items()}


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

    def __init__(self, folder, max_elements=MAX_ELEMENTS, max_instances=MAX_INSTANCES):
        import tensorflow as tf

        self.path = saved_model_path(folder)
        self._loaded = tf.saved_model.load(str(self.path))
        self.signature = self._loaded.signatures["serving_default"]
        self.inputs = dict(self.signature.structured_input_signature[1])  # {name: TensorSpec}
        self.kinds = _kinds(self.path, self.inputs)
        self.max_elements = max_elements
        self.max_instances = max_instances

    # -- request parsing ------------------------------------------------------------------------------

    def _array(self, name, value):
        spec = self.inputs[name]
        dtype = np.dtype(spec.dtype.as_numpy_dtype)
        integers = np.issubdtype(dtype, np.integer)
        takes = "integers" if integers else "numbers"
        try:
            raw = np.asarray(value)  # JSON's own types first: 1.7 must not become token 1, nor "3" become 3
        except (ValueError, TypeError):
            raw = None
        if raw is None or (raw.size and raw.dtype.kind not in ("iu" if integers else "iuf")):
            found = "a ragged list" if raw is None else {"b": "booleans", "U": "strings", "O": "nulls or mixed values",
                                                         "f": "numbers with a fraction"}.get(raw.dtype.kind, str(raw.dtype))
            raise RequestError(f"Input {name!r} takes a (nested) list of {takes} of shape {_shape(spec.shape)}; "
                               f"received {found}")
        expected = spec.shape.as_list()
        empty_axis = getattr(self.kinds[name], "empty_axis", None)
        if raw.size == 0 and raw.ndim == (empty_axis or 0) + 1 and None not in expected[raw.ndim:]:
            raw = raw.reshape(raw.shape + tuple(expected[raw.ndim:]))  # JSON's lists stop at the empty axis
        if raw.ndim == len(expected) and raw.size <= self.max_elements:
            try:
                self.kinds[name].check(name, raw)
            except ValueError as error:
                raise RequestError(str(error)) from None
        if integers and raw.size and (raw.min() < np.iinfo(dtype).min or raw.max() > np.iinfo(dtype).max):
            worst = raw.min() if raw.min() < np.iinfo(dtype).min else raw.max()
            raise RequestError(f"Input {name!r} takes {dtype.name} values; received {worst.item():,}")
        array = raw.astype(dtype)
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
        if any(size == 0 and axis != empty_axis for axis, size in enumerate(array.shape)):
            raise RequestError(f"Input {name!r} is empty (shape {list(array.shape)})")
        if array.shape[0] > self.max_instances:
            raise RequestTooLarge(f"The request has {array.shape[0]:,} instances; this server takes at most "
                                  f"{self.max_instances:,} per request")
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
        dynamic = {name: a.shape[1] for name, a in arrays.items()
                   if a.ndim >= 2 and self.inputs[name].shape.as_list()[1] is None}
        if len(set(dynamic.values())) > 1:
            raise RequestError(f"Sequence inputs must have the same length. Received: {dynamic}")
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


class _BodyLimit:
    """ASGI middleware: HTTP 413 for a body longer than `limit` bytes, before it is read (Content-Length)
    or as soon as it grows past it (a chunked body)."""

    def __init__(self, app, limit):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or ()).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            return await self._refuse(send)
        received = 0
        chunks = []
        while True:  # a body of unknown length is read up to the limit, then handed on
            message = await receive()
            if message["type"] != "http.request":
                return await self.app(scope, _replay([message]), send)
            received += len(message.get("body", b""))
            chunks.append(message)
            if received > self.limit:
                return await self._refuse(send)
            if not message.get("more_body"):
                return await self.app(scope, _replay(chunks, receive), send)

    async def _refuse(self, send):
        import json

        body = json.dumps({"error": f"The request body is over this server's limit of {self.limit:,} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _replay(messages, then=None):
    queue = list(messages)

    async def receive():
        if queue:
            return queue.pop(0)
        return await then() if then else {"type": "http.disconnect"}

    return receive


class _OneLineForBadRequests(logging.Filter):
    """KServe logs every bad request with its traceback; a bad request is the client's fault: one line."""

    def __init__(self, kind):
        super().__init__()
        self.kind = kind

    def filter(self, record):
        if record.exc_info and isinstance(record.exc_info[1], self.kind):
            record.msg, record.args, record.exc_info = f"bad request (400): {record.exc_info[1]}", (), None
        return True


def serve(folder, port=8501, host="127.0.0.1", name=None, max_request_bytes=MAX_REQUEST_BYTES,
          max_instances=MAX_INSTANCES):
    """Serve `folder`'s SavedModel with KServe's model server until interrupted. Requests over
    `max_request_bytes` of JSON or `max_instances` examples get HTTP 413."""
    try:
        import kserve
        from kserve import model_server as kserve_model_server
        from kserve.errors import InvalidInput
    except ImportError:
        raise ConfigError("Serving needs KServe: pip install \"keras_landmarks[serve]\"") from None

    options.port(port)
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:  # before the model loads
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise ConfigError(f"Cannot serve on {host}:{port}: {error.strerror or error}.", key="port",
                              value=port) from None
    for key, value in (("max_request_bytes", max_request_bytes), ("max_instances", max_instances)):
        options.positive(key, value)
    folder = pathlib.Path(folder)
    predictor = SavedModelPredictor(folder, max_instances=max_instances)
    model_name = name or (folder.name if folder.name != "saved_model" else folder.parent.name)

    class LandmarkModel(kserve.Model):
        def load(self):
            self.ready = True
            return self.ready

        async def predict(self, payload, headers=None, response_headers=None):
            try:
                return predictor.predict(payload)
            except RequestTooLarge as error:
                from fastapi import HTTPException

                raise HTTPException(status_code=413, detail=str(error)) from None
            except RequestError as error:
                raise InvalidInput(str(error)) from None

    model = LandmarkModel(model_name)
    model.load()

    class _RESTServer(kserve_model_server.RESTServer):
        """KServe's REST server, bound to `host` (KServe's own always binds 0.0.0.0)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.config.host = host

        def _add_middlewares(self, app):
            super()._add_middlewares(app)
            app.add_middleware(_BodyLimit, limit=max_request_bytes)

    logging.getLogger("kserve").addFilter(_OneLineForBadRequests(InvalidInput))

    kserve_model_server.RESTServer = _RESTServer
    print(f"serving {model_name} ({predictor.path}) on http://{host}:{port}/v1/models/{model_name}", flush=True)
    # No per-request latency lines (KServe logs each at INFO); uvicorn's access log stays.
    kserve.ModelServer(http_port=port, enable_grpc=False, workers=1, enable_latency_logging=False).start([model])
