"""Convert every registry model at full size, each in its own process, and tabulate what it took.

    python tools/convert_all.py [--models a,b,...] [--output docs/conversions.md] [--keep DIR]

Each model runs `keras-landmarks convert NAME` (SavedModel, float TFLite and ONNX, every parity gate)
in a fresh process, so one model's memory does not carry into the next; classifiers with a softmax
are converted with `--set classifier_activation=None`, so parity is measured on logits. Where the memory check
refuses TFLite (the converter would not fit in this machine's memory), the model is converted to the
two other formats and the table says why. Results go to `docs/conversions.md` and, as raw numbers,
`docs/conversions.json`: each model converted replaces its row there (`--models` picks which),
`--resume` skips models the JSON already holds, `--render` only re-renders the table. Exports are written to a
temporary folder and deleted after each model unless `--keep DIR` is given.
"""

import argparse
import json
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # the registry import starts TensorFlow
REFUSED = "converting to TFLite needs about"


def _convert(name, out, formats):
    from keras_landmarks.config import builder_parameters
    from keras_landmarks.registry import get_spec

    command = [sys.executable, "-m", "keras_landmarks.cli", "convert", name, "--out", str(out), "--overwrite",
               "--formats", formats]
    if "classifier_activation" in builder_parameters(get_spec(name).builder):
        # Compare logits: an untrained net's softmax saturates to exact 0/1, which any runtime reproduces.
        command += ["--set", "classifier_activation=None"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    return result, round(time.perf_counter() - started, 1)


def convert_one(name, out):
    """Convert `name`; returns its row: artifacts, errors, peak memory, time, and any refusal."""
    formats, note = "saved_model,tflite,onnx", None
    result, seconds = _convert(name, out, formats)
    if result.returncode == 1 and REFUSED in result.stderr:
        line = next(line for line in result.stderr.splitlines() if REFUSED in line)
        note = "C" + line[line.index(REFUSED) + 1:]
        formats = "saved_model,onnx"
        result, seconds = _convert(name, out, formats)
    if result.returncode != 0:
        tail = [line for line in result.stderr.strip().splitlines() if line.strip()][-3:]
        return {"model": name, "ok": False, "error": " | ".join(tail), "seconds": seconds, "note": note}
    manifest = json.loads((pathlib.Path(out) / name / "manifest.json").read_text())
    return {
        "model": name, "ok": True, "seconds": seconds, "note": note, "parameters": manifest["parameters"],
        "peak_memory_mb": manifest["peak_memory_mb"],
        "peak_memory_mb_child_processes": manifest.get("peak_memory_mb_child_processes"),
        "artifacts": {a["format"]: {"size_bytes": a["size_bytes"], "max_error": a["parity"]["max_error"],
                                    "external_data": bool(a.get("external_data")),
                                    "streamed_weights": bool(a.get("weights"))} for a in manifest["artifacts"]},
        "warnings": manifest.get("warnings", []),
    }


def render(rows, output):
    cpu = platform.processor() or platform.machine()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    lines = [
        "# Full-size conversions",
        "",
        f"Every registry model at its paper's size, converted by `python tools/convert_all.py` with "
        f"`keras-landmarks convert NAME` (SavedModel, float TFLite, ONNX; every parity gate) in a fresh process "
        f"per model, on one machine: {cpu}, {os.cpu_count()} CPU cores, {memory:.0f} GiB of memory, no swap. "
        f"Peak memory is the converting process's; models over 256 MB of weights run the TFLite converter, "
        f"onnxruntime's optimization and each artifact's parity check in child processes, and the last column "
        f"is the TFLite converter's peak (each manifest also has each parity check's). Error is the worst "
        f"max-abs error over output scale against "
        f"Keras across the parity cases (gate: 1e-4), on logits for the classifiers "
        f"(`--set classifier_activation=None`). Weights are random.",
        "",
        "| model | parameters | SavedModel | TFLite | ONNX | worst error | peak memory (GiB) | TFLite converter (GiB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for row in rows:
        if not row["ok"]:
            lines.append(f"| {row['model']} | | | | | failed: {row['error']} | | |")
            continue
        arts = row["artifacts"]

        def size(fmt):
            if fmt not in arts:
                return "refused¹" if fmt == "tflite" and row["note"] else "—"
            text = f"{arts[fmt]['size_bytes'] / 1e6:,.0f} MB" if arts[fmt]["size_bytes"] >= 1e6 else \
                f"{arts[fmt]['size_bytes'] / 1e3:,.0f} kB"
            return (text + (" (+ external data)" if arts[fmt]["external_data"] else "")
                    + (" (streamed weights²)" if arts[fmt].get("streamed_weights") else ""))

        worst = max(a["max_error"] for a in arts.values())
        child = row.get("peak_memory_mb_child_processes")
        lines.append(f"| {row['model']} | {row['parameters']:,} | {size('saved_model')} | {size('tflite')} | "
                     f"{size('onnx')} | {worst:.1e} | {row['peak_memory_mb'] / 1024:.1f} | "
                     f"{'' if child is None else f'{child / 1024:.1f}'} |")
        if row["note"]:
            notes.append(f"{row['model']}: {row['note']}")
    if notes:
        lines += ["", "¹ Refused before any work by the memory check:", ""] + [f"- {n}" for n in notes]
    if any(a.get("streamed_weights") for r in rows if r["ok"] for a in r["artifacts"].values()):
        lines += ["", "² The TFLite converter would not fit in memory (about 4.6x the weights), so the file was "
                  "converted with placeholder weights and the real ones written in place (about 2x); its parity "
                  "was checked like any other file's."]
    text = "\n".join(lines) + "\n"
    pathlib.Path(output).write_text(text)
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", help="comma-separated registry names (default: all)")
    parser.add_argument("--output", default="docs/conversions.md")
    parser.add_argument("--resume", action="store_true", help="skip models already in the JSON results")
    parser.add_argument("--render", action="store_true", help="only re-render the table from the JSON results")
    parser.add_argument("--keep", metavar="DIR", help="keep the exports in DIR")
    args = parser.parse_args()
    from keras_landmarks import list_models

    known = list_models()
    names = [m for m in args.models.split(",") if m] if args.models else known
    unknown = [m for m in names if m not in known]
    if unknown:
        parser.error(f"Unknown models {unknown}. Allowed: {', '.join(known)}")
    results_path = pathlib.Path(args.output).with_suffix(".json")
    rows = json.loads(results_path.read_text()) if results_path.exists() else []
    if args.render:
        print(render(rows, args.output))
        return 0
    done = {r["model"] for r in rows} if args.resume else set()
    for index, name in enumerate(names, 1):
        if name in done:
            continue
        out = pathlib.Path(args.keep) if args.keep else pathlib.Path(tempfile.mkdtemp(prefix="convert_all_"))
        print(f"[{index}/{len(names)}] {name} ...", file=sys.stderr, flush=True)
        try:
            row = convert_one(name, out)
        finally:
            if not args.keep:
                shutil.rmtree(out, ignore_errors=True)
        status = "ok" if row["ok"] else f"FAILED: {row['error']}"
        print(f"      {row['seconds']} s, {status}" + (f" ({row['note']})" if row["note"] else ""), file=sys.stderr,
              flush=True)
        rows = [r for r in rows if r["model"] != name] + [row]
        order = {n: i for i, n in enumerate(known)}
        rows.sort(key=lambda r: order.get(r["model"], len(order)))
        results_path.write_text(json.dumps(rows, indent=2) + "\n")
    print(render(rows, args.output))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
