"""The manifest: file hashes and sizes, one record per artifact, the summary, and the end-of-run table.

`manifest.json` lists the model, its paper and config, the input declarations, and per artifact its
path, sha256, size, inputs and outputs, parity record and latency, plus the fields its format adds.
`fastest_verified` names, per runtime, the verified artifact with the lowest batch-1 latency at the
representative shape (`latency_shape`).
"""

import dataclasses
import hashlib
import pathlib


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _tree_files(path):
    path = pathlib.Path(path)
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]


def tree_sha256(path):
    """sha256 of a file, or of a folder's files (relative names and contents) in sorted order."""
    path = pathlib.Path(path)
    if path.is_file():
        return _sha256(path)
    digest = hashlib.sha256()
    for file in _tree_files(path):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(_sha256(file).encode())
    return digest.hexdigest()


def size(path):
    return sum(f.stat().st_size for f in _tree_files(path))


def io_spec(model, batch_size, sequence_length=None):
    """([{name, shape, dtype}] for the inputs, the same for the outputs), batch and length as planned."""
    from keras_landmarks.export.signature import input_specs, output_names

    specs = input_specs(model, batch_size, sequence_length)
    structure = model.output if isinstance(model.output, dict) else dict(zip(output_names(model), model.outputs))
    return (
        [{"name": n, "shape": [None if d is None else int(d) for d in s.shape], "dtype": s.dtype.name}
         for n, s in specs.items()],
        [{"name": n, "shape": [batch_size, *(sequence_length if d is None else int(d) for d in t.shape[1:])],
          "dtype": str(t.dtype)}
         for n, t in structure.items()],
    )


def record(fmt, work, path, written, plan, parity, latency, seconds, run_peak):
    """The manifest entry of one artifact."""
    files = fmt.files(path)
    inputs, outputs = plan.inputs, plan.outputs
    entry = {
        "artifact": fmt.name, "format": fmt.family, "variant": fmt.variant, "runtime": fmt.runtime,
        "path": str(pathlib.Path(path).relative_to(work)), "size_bytes": sum(size(f) for f in files),
        "sha256": tree_sha256(path), "inputs": inputs, "outputs": outputs, "conversion_seconds": seconds,
        "parity": parity, "latency_ms": latency,
    }
    if len(files) > 1:
        entry["external_data"] = [{"path": str(f.relative_to(work)), "sha256": tree_sha256(f), "size_bytes": size(f)}
                                  for f in files[1:]]
    if written.child_peak is not None:
        entry["peak_memory_mb"] = round(written.child_peak / 2**20, 1)
        entry["process"] = "child"
    if run_peak is not None:
        entry["parity_peak_memory_mb"] = round(run_peak / 2**20, 1)
    if written.fixed_batch:
        batch = written.fixed_batch
        entry["inputs"] = [{**i, "shape": [batch, *i["shape"][1:]]} for i in inputs]
        entry["outputs"] = [{**o, "shape": [batch, *o["shape"][1:]]} for o in outputs]
        entry["batch_size"] = batch
    entry.update(written.details)
    return entry


def fastest(artifacts):
    """{runtime: path} of the verified artifact with the lowest batch-1 latency, per runtime."""
    best = {}
    for art in artifacts:
        ms = art["latency_ms"].get("batch1") or next(iter(art["latency_ms"].values()), None)
        if art["parity"]["passed"] and ms is not None and (art["runtime"] not in best or ms < best[art["runtime"]][1]):
            best[art["runtime"]] = (art["path"], ms)
    return {runtime: path for runtime, (path, _) in best.items()}


def mark_slower_than_float(artifacts):
    """Flag each quantized artifact that is slower than the float artifact of its family at batch 1."""
    floats = {a["format"]: a for a in artifacts if a["variant"] == "none"}
    for art in artifacts:
        base = floats.get(art["format"])
        if art["variant"] != "none" and base and art["latency_ms"].get("batch1") and base["latency_ms"].get("batch1"):
            art["slower_than_float"] = art["latency_ms"]["batch1"] > base["latency_ms"]["batch1"]


def build(plan, artifacts, labels, warnings):
    from keras_landmarks.registry import paper_param_count

    mark_slower_than_float(artifacts)
    manifest = {
        "model": plan.name,
        "paper": None if plan.spec is None else dataclasses.asdict(plan.spec.paper),
        "config": dict(plan.config),
        "parameters": paper_param_count(plan.model),
        "batch_size": plan.batch_size or "dynamic",
        "sequence_length": plan.sequence_length or "dynamic",
        "saved_model_version": plan.version if any(a["format"] == "saved_model" for a in artifacts) else None,
        "input_kinds": {name: kind.describe() for name, kind in plan.kinds.items()},
        "parity_inputs": {"file": "parity.npz", "cases": labels},
        "latency_shape": plan.latency_shape,
        "artifacts": artifacts,
        "fastest_verified": fastest(artifacts),
    }
    if getattr(plan.model, "weights_report", None):
        manifest["weights"] = plan.model.weights_report
    if warnings:
        manifest["warnings"] = warnings
    return manifest


def format_table(manifest):
    """The end-of-conversion table: artifact, file, size, max error vs Keras, latency at batch 1 and 8."""
    batches = list(dict.fromkeys(b for a in manifest["artifacts"] for b in a["latency_ms"]))
    rows = [("artifact", "file", "size", "max error", *(f"ms ({b.replace('batch', 'batch ')})" for b in batches), "")]
    for art in manifest["artifacts"]:
        label = art["format"] + ("" if art["variant"] == "none" else f" ({art['variant']})")
        error = f"{art['parity']['max_error']:.1e}"
        parity = art["parity"]
        if "sqnr_db" in parity:
            error += f" (SQNR {parity['sqnr_db']} dB)"
        if "top1_agreement" in parity:
            error += f", top-1 agreement {parity['top1_agreement']:.1%}"
        if "perplexity_quantized" in parity:
            error += (f", perplexity {parity['perplexity_quantized']:.4g} (Keras "
                      f"{parity['perplexity_keras']:.4g})")
        if "frechet_keras_vs_quantized" in parity:
            error += (f", Fréchet to Keras's samples {parity['frechet_keras_vs_quantized']:.3g} (real halves "
                      f"{parity['frechet_real_halves']:.3g})")
        note = "slower than float" if art.get("slower_than_float") else ""
        path = art["path"] + (" (+ .data)" if art.get("external_data") else "")
        times = [str(art["latency_ms"].get(b, "—")) for b in batches]
        rows.append((label, path, f"{art['size_bytes'] / 1e6:.1f} MB", error, *times, note))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    best = ", ".join(f"{k}: {v}" for k, v in manifest["fastest_verified"].items())
    shape = ", ".join(f"{k} {v}" for k, v in manifest.get("latency_shape", {}).items())
    return "\n".join([f"{manifest['model']}: {len(manifest['artifacts'])} artifacts, all verified", *lines,
                      f"latency measured at {shape}" if shape else "",
                      f"fastest verified per runtime: {best}",
                      f"peak memory {manifest.get('peak_memory_mb')} MB"
                      + (f" (child processes: {manifest['peak_memory_mb_child_processes']} MB)"
                         if "peak_memory_mb_child_processes" in manifest else "")
                      + f", {manifest.get('conversion_seconds')} s",
                      *(f"warning: {w}" for w in manifest.get("warnings", []))])
