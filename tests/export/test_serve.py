"""`keras-landmarks serve`: TF Serving's REST API through KServe, on 127.0.0.1 only."""

import concurrent.futures
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from keras_landmarks.export import convert
from keras_landmarks.export.serving import RequestError, SavedModelPredictor
from keras_landmarks.export.serving_bench import free_port, stop_server

pytest.importorskip("kserve", reason="the serve extra is not installed")


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    out = tmp_path_factory.mktemp("exports")
    convert("lenet5", formats=("saved_model",), out=out, progress=False)
    return out / "lenet5"


def _request(url, body=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


SERVER_LOG = []


@pytest.fixture(scope="module")
def server(export, tmp_path_factory):
    port = free_port()
    exe = shutil.which("keras-landmarks", path=os.path.dirname(sys.executable))
    # The server logs every request: a file, not a pipe nobody reads (a full pipe would block it).
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    SERVER_LOG.append(log_path)
    log = open(log_path, "w")
    process = subprocess.Popen([exe, "serve", str(export), "--port", str(port)], stdout=log,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    base = f"http://127.0.0.1:{port}/v1/models/lenet5"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if _request(base, timeout=2)[0] == 200:
                break
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        if process.poll() is not None:
            pytest.fail("the server exited:\n" + log_path.read_text()[-3000:])
        time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("the server did not become ready in 120 s")
    yield base, port
    stop_server(process)
    log.close()


def _parity(export):
    data = np.load(export / "parity.npz")
    label = "seed0_batch4"
    return data[f"{label}/input/images"], data[f"{label}/output/predictions"]


def test_predict_in_both_formats_matches_keras(server, export):
    base, _ = server
    x, expected = _parity(export)
    status, body = _request(base + ":predict", {"instances": x.tolist()})
    assert status == 200
    np.testing.assert_allclose(np.array(body["predictions"]), expected, rtol=1e-5, atol=1e-6)
    status, body = _request(base + ":predict", {"inputs": {"images": x.tolist()}})
    assert status == 200
    np.testing.assert_allclose(np.array(body["outputs"]), expected, rtol=1e-5, atol=1e-6)
    status, body = _request(base)
    assert status == 200 and body.get("ready") is True


@pytest.mark.parametrize("body, message", [
    ({"instances": np.zeros((2, 32, 32)).tolist()}, "rank 4"),  # wrong rank: would abort oneDNN
    ({"instances": np.zeros((1, 28, 28, 1)).tolist()}, "dimension 1 is 28"),
    ({"instances": [["a"]]}, "received strings"),
    ({"instances": [[[[None]]]]}, "received nulls"),  # null would become NaN
    ({"instances": [[[[True]]]]}, "received booleans"),
    ({"inputs": {"pixels": [[0.0]]}}, "Unknown: \\['pixels'\\]"),
    ({"instances": []}, "non-empty"),
    ({"instances": [1], "inputs": [1]}, "exactly one"),
    ({"signature_name": "train", "instances": [1]}, "signature_name"),
])
def test_bad_requests_get_400_and_the_server_keeps_serving(server, export, body, message):
    base, _ = server
    status, response = _request(base + ":predict", body)
    assert status == 400, response
    assert re.search(message, response["error"]), response
    x, expected = _parity(export)
    status, response = _request(base + ":predict", {"instances": x[:1].tolist()})
    assert status == 200
    log = SERVER_LOG[-1].read_text()
    assert "Traceback" not in log and "bad request (400): " in log, log[-2000:]  # one line per bad request


def test_oversized_request_is_refused(export):
    predictor = SavedModelPredictor(export, max_elements=1024)
    with pytest.raises(RequestError, match="more than the 1,024"):
        predictor.parse({"instances": np.zeros((2, 32, 32, 1)).tolist()})


def test_requests_over_the_limits_get_413_and_the_server_keeps_serving(server, export):
    import http.client

    base, port = server
    status, response = _request(base + ":predict", {"instances": np.zeros((1025, 32, 32, 1), "int8").tolist()})
    assert status == 413 and "at most 1,024 per request" in response["detail"], response
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # refused on its header alone
    connection.putrequest("POST", "/v1/models/lenet5:predict")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(64 << 20))
    connection.endheaders()
    answer = connection.getresponse()
    assert answer.status == 413 and b"limit of 33,554,432 bytes" in answer.read()
    connection.close()
    x, _ = _parity(export)
    assert _request(base + ":predict", {"instances": x[:1].tolist()})[0] == 200


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    from keras_landmarks.registry import get_spec

    out = tmp_path_factory.mktemp("exports")
    convert("bert_tiny", overrides=get_spec("bert_tiny").test_config, formats=("saved_model",), out=out,
            progress=False)
    return SavedModelPredictor(out / "bert_tiny")


def _tokens(ids, segments=None, mask=None):
    ids = np.asarray(ids).tolist() if not isinstance(ids, list) else ids
    length = len(ids[0]) if ids and isinstance(ids[0], list) else 0
    return {"inputs": {"token_ids": ids,
                       "segment_ids": segments if segments is not None else [[0] * length] * len(ids),
                       "padding_mask": mask if mask is not None else [[1] * length] * len(ids)}}


@pytest.mark.parametrize("body, message", [
    (_tokens([[1.7, 2.0]]), "takes a \\(nested\\) list of integers .* received numbers with a fraction"),
    (_tokens([[True, False]]), "received booleans"),
    (_tokens([["3", "4"]]), "received strings"),
    (_tokens([[-1, 2]]), "token ids in \\[0, 50\\). Received: -1"),
    (_tokens([[50, 2]]), "token ids in \\[0, 50\\). Received: 50"),
    (_tokens([[2**31, 2]]), "token ids in \\[0, 50\\). Received: 2147483648"),
    (_tokens([[1, 2]], segments=[[0, 2]]), "segment ids in \\[0, 2\\). Received: 2"),
    (_tokens([[1, 2]], mask=[[1, 3]]), "padding mask: 1 for a token, 0 for padding. Received: 3"),
    (_tokens([[]]), "is empty"),
    (_tokens([[1] * 17]), "at most 16 tokens. Received a sequence of 17"),
    (_tokens([[1, 2, 3]], segments=[[0, 0]], mask=[[1, 1]]), "same length"),
])
def test_token_requests_are_checked_against_the_declared_kinds(bert, body, message):
    """The manifest's input kinds (vocabulary, segments, longest sequence, mask values) check every request."""
    with pytest.raises(RequestError, match=message):
        bert.parse(body)
    arrays, _ = bert.parse(_tokens([[1, 49, 7]], segments=[[0, 1, 1]], mask=[[1, 1, 0]]))
    assert arrays["token_ids"].dtype == np.int32 and bert.run(arrays)


def test_an_empty_memory_is_a_first_segment(tmp_path):
    """Transformer-XL's first segment has no memory: JSON can only write it as lists that stop at the
    empty axis, and the server fills in the rest of the shape from the signature (both formats); its
    logits are the model's with a (B, layers, 0, d) memory. Any other empty axis is still refused."""
    import keras_landmarks

    config = {"num_layers": 2, "hidden_dim": 16, "num_heads": 2, "head_dim": 8, "intermediate_dim": 32,
              "memory_length": 4, "dropout": 0.0}
    model = keras_landmarks.build("transformer_xl_enwik8", **config)
    convert(model, formats=("saved_model",), out=tmp_path, progress=False)
    predictor = SavedModelPredictor(tmp_path / "transformer_xl_enwik8")
    ids = [[5, 7, 9]]
    expected = model({"token_ids": np.array(ids), "memory": np.zeros((1, 2, 0, 16), "float32")})["logits"]
    for body in ({"inputs": {"token_ids": ids, "memory": [[[], []]]}},
                 {"instances": [{"token_ids": ids[0], "memory": [[], []]}]}):
        arrays, _ = predictor.parse(body)
        assert arrays["memory"].shape == (1, 2, 0, 16)
        np.testing.assert_allclose(predictor.run(arrays)["logits"], expected, atol=1e-5)
    with pytest.raises(RequestError, match="dimension 1 is 3"):
        predictor.parse({"inputs": {"token_ids": ids, "memory": [[[], [], []]]}})
    with pytest.raises(RequestError, match="'token_ids' is empty"):
        predictor.parse({"inputs": {"token_ids": [[]], "memory": [[[], []]]}})


def test_binds_loopback_only(server):
    _, port = server
    addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    addresses.discard("127.0.0.1")
    for address in addresses:
        with socket.socket() as s:
            s.settimeout(1)
            assert s.connect_ex((address, port)) != 0, f"the server answers on {address}"


def test_bounded_load(server, export):
    """500 requests from 8 concurrent clients on 127.0.0.1: zero errors; p50/p99 reported."""
    base, _ = server
    x, expected = _parity(export)
    body = {"instances": x[:1].tolist()}

    def one(_):
        start = time.perf_counter()
        status, response = _request(base + ":predict", body)
        ok = status == 200 and np.allclose(response["predictions"], expected[:1], rtol=1e-5, atol=1e-6)
        return ok, time.perf_counter() - start

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(500)))
    latencies = np.array([t for _, t in results]) * 1000
    errors = sum(not ok for ok, _ in results)
    print(f"\n500 requests, 8 clients: p50 {np.percentile(latencies, 50):.1f} ms, "
          f"p99 {np.percentile(latencies, 99):.1f} ms, errors {errors}")
    assert errors == 0
