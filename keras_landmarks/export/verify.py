"""Re-check an export folder against its manifest: files unchanged (sha256), artifacts still in parity.

The parity inputs and the Keras model's outputs were stored at conversion time (`parity.npz`), so
verification needs neither the Keras model nor its code: each artifact runs in its own runtime on
those inputs and must meet the gate recorded in the manifest (for quantized artifacts, the error
recorded at conversion, which the same file and inputs reproduce).
"""

import json
import pathlib

import numpy as np

from keras_landmarks.errors import ConfigError, ExportError
from keras_landmarks.export.convert import ISOLATE_BYTES, outputs_in_child, artifact_runner, tree_sha256
from keras_landmarks.export.signature import relative_error


def _cases(parity):
    cases = {}
    for key in parity.files:
        label, kind, name = key.split("/", 2)
        cases.setdefault(label, {"input": {}, "output": {}})[kind][name] = parity[key]
    return cases


def verify(folder, quiet=False):
    """Check every artifact listed in `folder/manifest.json`. Returns the per-artifact results;
    raises `ExportError` naming each artifact that changed or no longer matches."""
    folder = pathlib.Path(folder)
    if not (folder / "manifest.json").is_file():
        raise ConfigError(f"{str(folder)!r} has no manifest.json: not an export folder written by `convert`.")
    manifest = json.loads((folder / "manifest.json").read_text())
    cases = _cases(np.load(folder / manifest["parity_inputs"]["file"]))
    results, failures = [], []
    for art in manifest["artifacts"]:
        label = art["format"] + ("" if art["variant"] == "none" else f" ({art['variant']})")
        path = folder / art["path"]
        if not path.exists():
            failures.append(f"{label}: {art['path']} is missing")
            continue
        files = [(art["path"], art["sha256"])] + [(f["path"], f["sha256"]) for f in art.get("external_data", [])]
        changed = []
        for relative, expected in files:
            digest = tree_sha256(folder / relative) if (folder / relative).exists() else "missing"
            if digest != expected:
                changed.append(f"{label}: {relative} has changed (sha256 {digest[:12]}…, manifest {expected[:12]}…)")
        if changed:
            failures += changed
            continue
        fixed = art.get("batch_size")
        labels = [label for label, c in cases.items() if not fixed or len(next(iter(c["input"].values()))) == fixed]
        if art["size_bytes"] > ISOLATE_BYTES:  # TensorFlow keeps most of a loaded SavedModel: use a child
            actuals, _, _ = outputs_in_child(art["format"], path, folder / manifest["parity_inputs"]["file"], labels)
        else:
            run = artifact_runner(art["format"], path)
            actuals = [run(cases[label]["input"]) for label in labels]
        worst = max(relative_error(actual.get(k, np.array([])), v)
                    for label, actual in zip(labels, actuals) for k, v in cases[label]["output"].items())
        limit = art["parity"].get("tolerance", art["parity"]["max_error"] * 1.01 + 1e-7)
        ok = worst <= limit
        results.append({"artifact": label, "path": art["path"], "max_error": worst, "limit": limit, "passed": ok})
        if not ok:
            failures.append(f"{label}: max error {worst:.2e} exceeds {limit:.2e}")
        if not quiet:
            print(f"{label:<20} {art['path']:<40} max error {worst:.2e} (limit {limit:.1e}): {'ok' if ok else 'MISS'}")
    if failures:
        raise ExportError(f"{folder}: " + "; ".join(failures))
    return results
