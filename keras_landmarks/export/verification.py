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


ARTIFACT_KEYS = {"path": str, "sha256": str, "size_bytes": int, "parity": dict, "format": str, "variant": str}


def _inside(folder, relative, what):
    """`folder / relative`, refused when it resolves outside the export folder (`..`, an absolute path, a
    link out): verify reads and reports only what the export holds."""
    path = folder / relative
    if not path.resolve().is_relative_to(folder.resolve()):
        raise ExportError(f"{folder}/manifest.json: {what} {relative!r} leaves the export folder; refused.")
    return path


def read_manifest(folder):
    """The manifest of an export folder, checked for the structure `verify` relies on."""
    where = folder / "manifest.json"
    if not where.is_file():
        raise ConfigError(f"{str(folder)!r} has no manifest.json: not an export folder written by `convert`.")
    try:
        manifest = json.loads(where.read_text())
    except (UnicodeDecodeError, ValueError) as error:
        raise ExportError(f"{where}: not valid JSON ({error}).") from None
    if not isinstance(manifest, dict):
        raise ExportError(f"{where}: expected a JSON object, found a {type(manifest).__name__}.")
    if not isinstance(manifest.get("parity_inputs"), dict) or not isinstance(manifest["parity_inputs"].get("file"), str):
        raise ExportError(f"{where}: no 'parity_inputs.file': not a manifest written by `convert`.")
    if not isinstance(manifest.get("artifacts"), list) or not manifest["artifacts"]:
        raise ExportError(f"{where}: no 'artifacts' list: not a manifest written by `convert`.")
    for index, art in enumerate(manifest["artifacts"]):
        wrong = [key for key, kind in ARTIFACT_KEYS.items() if not isinstance(art, dict) or not isinstance(art.get(key), kind)]
        extra = art.get("external_data", []) if isinstance(art, dict) else []
        if not isinstance(extra, list) or not all(isinstance(e, dict) and isinstance(e.get("path"), str)
                                                  and isinstance(e.get("sha256"), str) for e in extra):
            wrong.append("external_data")
        if wrong:
            raise ExportError(f"{where}: artifact {index} lacks or mistypes {', '.join(wrong)}.")
        try:
            format_of(art)
        except KeyError:
            raise ExportError(f"{where}: artifact {index} ({art['path']}) has an unknown format "
                              f"{art.get('artifact') or art['format']!r}.") from None
    return manifest


def _cases(folder, manifest):
    parity_file = _inside(folder, manifest["parity_inputs"]["file"], "parity inputs")
    if not parity_file.is_file():
        raise ExportError(f"{parity_file}: the parity inputs are missing.")
    try:
        cases = load_cases(parity_file)  # numpy refuses pickled objects
    except Exception as error:  # a damaged file fails in numpy or zipfile in many ways: one line for each
        raise ExportError(f"{parity_file}: unreadable parity inputs ({type(error).__name__}: {error}).") from None
    if not cases or any(not c["input"] or not c["output"] for c in cases.values()):
        raise ExportError(f"{parity_file}: holds no complete parity case (inputs and Keras outputs).")
    return parity_file, cases


def verify(folder, quiet=False):
    """Check every artifact listed in `folder/manifest.json`. Returns the per-artifact results;
    raises `ExportError` naming each artifact that changed or no longer matches, and for a manifest or
    parity file that is damaged or points outside the folder."""
    folder = pathlib.Path(folder)
    manifest = read_manifest(folder)
    parity_file, cases = _cases(folder, manifest)
    results, failures = [], []
    for art in manifest["artifacts"]:
        fmt = format_of(art)
        label = fmt.label()
        path = _inside(folder, art["path"], "artifact")
        for extra in art.get("external_data", []):
            _inside(folder, extra["path"], "external data")
        if not path.exists():
            failures.append(f"{label}: {art['path']} is missing")
            continue
        changed = _changed(folder, art, label)
        if changed:
            failures += changed
            continue
        fixed = art.get("batch_size")
        labels = [name for name, c in cases.items() if not fixed or len(next(iter(c["input"].values()))) == fixed]
        try:
            if art["size_bytes"] > ISOLATE_BYTES:  # TensorFlow keeps most of a loaded SavedModel: use a child
                actuals, _, _, _ = measure_in_child(fmt.name, path, parity_file, labels)
            else:
                actuals, _, _ = measure(fmt.runner(path), [cases[name]["input"] for name in labels], None)
        except Exception as error:  # the file's runtime refuses it: a failed check of that artifact
            first = (str(error).strip().splitlines() or [""])[0][:300]
            failures.append(f"{label}: {art['path']} does not run in {fmt.runtime} ({type(error).__name__}: {first})")
            continue
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
