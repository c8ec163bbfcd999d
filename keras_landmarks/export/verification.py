"""`verify()`: re-check an export folder against its manifest: files unchanged, artifacts still in parity.

The parity inputs and the Keras model's outputs were stored at conversion time (`parity.npz`), so
verification needs neither the Keras model nor its code: each artifact runs in the runtime its format
names (from the format table) on those inputs and must meet the gate recorded in the manifest (for
quantized artifacts, the error recorded at conversion, which the same file and inputs reproduce).
"""

import json
import pathlib

import numpy as np

from keras_landmarks.errors import ConfigError, ExportError
from keras_landmarks.export.formats import format_of
from keras_landmarks.export.manifest import tree_sha256
from keras_landmarks.export.memory import ISOLATE_BYTES
from keras_landmarks.export.parity import load_cases, measure, measure_in_child, verify_limit
from keras_landmarks.export.signature import relative_error


def _changed(folder, art, label):
    files = [(art["path"], art["sha256"])] + [(f["path"], f["sha256"]) for f in art.get("external_data", [])]
    changed = []
    for relative, expected in files:
        digest = tree_sha256(folder / relative) if (folder / relative).exists() else "missing"
        if digest != expected:
            changed.append(f"{label}: {relative} has changed (sha256 {digest[:12]}…, manifest {expected[:12]}…)")
    return changed


def verify(folder, quiet=False):
    """Check every artifact listed in `folder/manifest.json`. Returns the per-artifact results;
    raises `ExportError` naming each artifact that changed or no longer matches."""
    folder = pathlib.Path(folder)
    if not (folder / "manifest.json").is_file():
        raise ConfigError(f"{str(folder)!r} has no manifest.json: not an export folder written by `convert`.")
    manifest = json.loads((folder / "manifest.json").read_text())
    parity_file = folder / manifest["parity_inputs"]["file"]
    cases = load_cases(parity_file)
    results, failures = [], []
    for art in manifest["artifacts"]:
        fmt = format_of(art)
        label = fmt.label()
        path = folder / art["path"]
        if not path.exists():
            failures.append(f"{label}: {art['path']} is missing")
            continue
        changed = _changed(folder, art, label)
        if changed:
            failures += changed
            continue
        fixed = art.get("batch_size")
        labels = [name for name, c in cases.items() if not fixed or len(next(iter(c["input"].values()))) == fixed]
        if art["size_bytes"] > ISOLATE_BYTES:  # TensorFlow keeps most of a loaded SavedModel: use a child
            actuals, _, _, _ = measure_in_child(fmt.name, path, parity_file, labels)
        else:
            actuals, _, _ = measure(fmt.runner(path), [cases[name]["input"] for name in labels], None)
        worst = max(relative_error(actual.get(k, np.array([])), v)
                    for name, actual in zip(labels, actuals) for k, v in cases[name]["output"].items())
        limit = verify_limit(art["parity"])
        ok = worst <= limit
        results.append({"artifact": label, "path": art["path"], "max_error": worst, "limit": limit, "passed": ok})
        if not ok:
            failures.append(f"{label}: max error {worst:.2e} exceeds {limit:.2e}")
        if not quiet:
            print(f"{label:<20} {art['path']:<40} max error {worst:.2e} (limit {limit:.1e}): {'ok' if ok else 'MISS'}")
    if failures:
        raise ExportError(f"{folder}: " + "; ".join(failures))
    return results
