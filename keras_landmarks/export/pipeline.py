"""`convert()`: plan, then for each planned artifact write it, check it against Keras, time it, record it.

Every option is checked and the plan frozen before any work (`plan.py`). Artifacts are written into a
temporary folder inside `out`; each runs in its own runtime on the same inputs as the Keras model and
must pass its gate (`parity.py`); only when every gate passes is the folder moved into place as
`out/<name>/` with its `manifest.json` (`manifest.py`). A miss raises `ExportError` naming the artifact
and its error, and leaves nothing in `out`.

Memory (`memory.py`): for models over `ISOLATE_BYTES` of weights (or with `isolate=True`), the TFLite
converter, onnxruntime's graph optimization and quantization and every artifact's parity run happen
in child processes, because TensorFlow keeps most of what a loaded SavedModel or the converter
allocated until the process ends.

Ctrl-C: the first stops the conversion when the step under way ends (TensorFlow's converter can swallow
an interrupt raised inside it, and a conversion would then finish as if none came), the second at once;
either way the temporary folder is removed and `KeyboardInterrupt` propagates.
"""

import contextlib
import json
import os
import pathlib
import resource
import shutil
import signal
import sys
import tempfile
import threading
import time

from keras_landmarks.errors import ExportError
from keras_landmarks.export import manifest as manifests
from keras_landmarks.export import memory, parity
from keras_landmarks.export.artifact import Context
from keras_landmarks.export.formats import FORMATS
from keras_landmarks.export.plan import make_plan
from keras_landmarks.export.signature import keras_outputs


def _log(plan, message):
    if not plan.quiet:
        print(message, file=sys.stderr, flush=True)


def convert(model_or_name, *, formats=("saved_model", "tflite", "onnx"), quantize=("none",), representative_data=None,
            eval_data=None, judge=None, overrides=None, weights=None, batch_size=None, version=1, out="exports",
            overwrite=False,
            allow_flex=False, tolerance=None, opset=None, isolate=None, check_memory=True, stream_tflite_weights=None,
            bench_length=None, sequence_length=None, inputs=None, progress=True):
    """Convert a registry model (by name), a `.keras` file or a `keras.Model`, and prove each artifact.

    Args:
        formats: names from the format table (`keras_landmarks.export.FORMATS`: "saved_model", "tflite",
            "tflite_fp16", ..., "onnx", "onnx_fp16", "onnx_int8", "triton") or families ("tflite",
            "onnx"), which contribute the variants named in `quantize`.
        quantize: variants of the named families: "none" (float32), "fp16", "dynamic" (TFLite
            dynamic-range), "int8" (full integer: TFLite int8, ONNX QDQ int8).
        representative_data: int8 calibration: a .npz path (one array per input name) or an iterable
            of input dicts. Registry models fall back on their real data, else on synthetic data drawn
            from their declared input kinds.
        eval_data: (inputs, labels) for the int8 / dynamic accuracy gate (single-input classifiers); for an
            agent (a registry model whose task is a Q-function or a policy): (recorded states, legal-move
            mask or None), and the gate is the chosen action's agreement with Keras (`parity.ActionGate`).
        judge: for generators (a latent input), the int8 / dynamic gate's judge: a classifier run folder
            written by `train` on the generator's data (or a `keras_landmarks.training.judge.Judge`).
            Samples of the same latents through Keras and the artifact must be no further apart, in
            Fréchet distance on its features, than two halves of its real test images.
        overrides: registry overrides, as `build(name, **overrides)`.
        weights: weights trained elsewhere for a registry name, as `build(name, weights=...)`.
        batch_size: a fixed batch dimension; None (default) keeps it dynamic.
        version: the version folder of TF Serving and Triton (`saved_model/<version>/`).
        out: the output folder; artifacts go to `out/<name>/`.
        overwrite: replace an existing `out/<name>/`.
        allow_flex: allow TensorFlow (Flex) ops in TFLite files.
        tolerance: replace the float / fp16 tolerance (0 forces a miss, for testing the gate).
        opset: the ONNX opset (default: `keras_landmarks.export.onnx.DEFAULT_OPSET`).
        isolate: convert, quantize and check artifacts in child processes, so their memory returns
            when each ends. None (default): for models with more than `memory.ISOLATE_BYTES` of weights.
        check_memory: before any work, compare the TFLite converter's need with the memory available;
            where it does not fit, the float TFLite file is written with streamed weights if that fits,
            otherwise (or for quantized TFLite variants) the conversion is refused.
        stream_tflite_weights: force (True) or forbid (False) streamed weights for the float TFLite file.
        bench_length: the sequence length latency is measured at for token models (default 128, or the
            model's longest if shorter).
        sequence_length: fix the sequence length of every artifact (token models): edge apps run one
            length, and a static graph lets XNNPACK take all of it. Parity and latency use that length.
        inputs: {input name: keras_landmarks.inputs.InputKind} for inputs the model does not declare.
        progress: report each artifact on stderr as it is converted and checked.

    Returns the manifest (a dict, also written as `out/<name>/manifest.json`); `format_table(manifest)`
    renders the summary table.

    Raises:
        ConfigError: a bad option, an unknown model, an existing output without `overwrite`.
        ExportError: a conversion failed, an artifact missed its parity gate, or the TFLite converter
            would not fit in the available memory (nothing is written).
    """
    started = time.perf_counter()
    plan, out = make_plan(model_or_name, formats=formats, quantize=quantize, representative_data=representative_data,
                          eval_data=eval_data, judge=judge, overrides=overrides, weights=weights,
                          batch_size=batch_size, version=version, out=out,
                          overwrite=overwrite, allow_flex=allow_flex, tolerance=tolerance, opset=opset, isolate=isolate,
                          check_memory=check_memory, stream_tflite_weights=stream_tflite_weights,
                          bench_length=bench_length, sequence_length=sequence_length, inputs=inputs,
                          progress=progress)
    final = out / plan.name
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(f".{plan.name}.*"):  # left by a conversion that was killed (SIGKILL skips cleanup)
        shutil.rmtree(stale, ignore_errors=True)
    work = pathlib.Path(tempfile.mkdtemp(prefix=f".{plan.name}.", dir=out))
    umask = os.umask(0)
    os.umask(umask)
    work.chmod(0o777 & ~umask)  # mkdtemp makes it private; the export is an ordinary folder
    try:
        with _deferred_interrupt() as interrupted:
            manifest = run(plan, work, interrupted)
        manifest["conversion_seconds"] = round(time.perf_counter() - started, 2)
        manifest["peak_memory_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        children = [a["peak_memory_mb"] for a in manifest["artifacts"] if "peak_memory_mb" in a]
        if children:
            manifest["peak_memory_mb_child_processes"] = max(children)
        (work / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
        if final.exists():
            shutil.rmtree(final)
        os.replace(work, final)  # same file system: the finished export appears at once
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


@contextlib.contextmanager
def _deferred_interrupt():
    """Yields a check that raises `KeyboardInterrupt` if Ctrl-C came since; a second Ctrl-C raises at once."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None  # signal handlers belong to the main thread
        return
    hits = []

    def handler(signum, frame):
        hits.append(signum)
        if len(hits) > 1:
            raise KeyboardInterrupt
        print("interrupted: stopping when this step ends (Ctrl-C again to stop now)", file=sys.stderr, flush=True)

    def check():
        if hits:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, previous)


def run(plan, work, interrupted=lambda: None):
    """Write, check, time and record every planned artifact in `work`; returns the manifest."""
    model = plan.model
    labelled = parity.cases(model, plan.kinds, plan.batch_size, plan.sequence_length)
    references = [keras_outputs(model, inputs) for _, inputs in labelled]
    parity.save_cases(work / "parity.npz", labelled, references)
    timing = parity.latency_inputs(model, plan.kinds, plan.bench_length, plan.batch_size, plan.sequence_length)
    timing_file = work / ".sources" / "latency.npz"
    timing_file.parent.mkdir()
    parity.save_timing(timing_file, timing)
    ctx = Context(plan, work, FORMATS)
    artifacts = []
    for index, fmt in enumerate(plan.formats, 1):
        interrupted()
        where = " (in a child process)" if plan.isolate else ""
        _log(plan, f"[{index}/{len(plan.formats)}] {plan.name}: {fmt.label()}{where} ...")
        path = work / fmt.filename(plan)
        path.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        try:
            written = fmt.write(ctx, path)
        except ExportError as error:
            interrupted()  # a child process that Ctrl-C stopped fails too: the interrupt is what happened
            raise ExportError(f"{plan.name}: {fmt.label()}: {error}") from error
        seconds = round(time.perf_counter() - start, 2)
        ctx.add(fmt, path)
        memory.release_memory()  # what writing the artifact left freed, for the child processes that follow
        pairs = [(case, ref) for case, ref in zip(labelled, references)
                 if written.fixed_batch is None or len(next(iter(case[1].values()))) == written.fixed_batch]
        labels = [label for (label, _), _ in pairs]
        fixed_timing = {b: x for b, x in timing.items() if written.fixed_batch in (None, b)} if fmt.timed else {}
        run_peak = None
        if plan.isolate:
            # TensorFlow keeps most of a loaded SavedModel after it is deleted: load artifacts in a child.
            parity.save_timing(timing_file, fixed_timing)
            actuals, latency, report, run_peak = parity.measure_in_child(fmt.name, path, work / "parity.npz", labels,
                                                                 timing_file)
        else:
            try:
                runner = fmt.runner(path)
                actuals, latency, report = parity.measure(runner, [inputs for (_, inputs), _ in pairs], fixed_timing)
            except Exception as error:  # the runtime refused the artifact: one line naming both
                first = (str(error).strip().splitlines() or [type(error).__name__])[0][:400]
                raise ExportError(f"{fmt.name}: {fmt.runtime} could not run {path.name}: {first}") from error
            del runner
            memory.release_memory()
        verdict = parity.gate(fmt.precision, labels, actuals, [r for _, r in pairs], plan.tolerance,
                              plan.quality if fmt.precision == "quantized" else None, model,
                              lambda: fmt.runner(path))
        entry = manifests.record(fmt, work, path, written, plan, verdict, latency, seconds, run_peak)
        entry.update(report)
        artifacts.append(entry)
        interrupted()
        passed = "ok" if verdict["passed"] else "MISS"
        detail = f"max error {verdict['max_error']:.2e}" + (
            f", SQNR {verdict['sqnr_db']} dB" if "sqnr_db" in verdict else "") + "".join(
            f", {key.replace('_', ' ')} {verdict[key]:.3f}" for key in ("top1_agreement", "action_agreement")
            if key in verdict)
        peak = f", converter process peak {written.child_peak / 2**20:,.0f} MB" if written.child_peak else ""
        times = ", ".join(f"{ms} ms/{b.replace('batch', 'batch-')}" for b, ms in latency.items())
        _log(plan, f"      {seconds:.1f} s{peak}, {entry['size_bytes'] / 1e6:.2f} MB, {detail}"
                   f"{', ' + times if times else ''}: {passed}")
        if not verdict["passed"]:
            limit = verdict.get("tolerance", verdict.get("gate"))
            why = ""
            if fmt.precision == "fp16" and 2 * memory.weight_bytes(model) < memory.available_memory():
                floor = parity.float16_weights_error(model, [inputs for (_, inputs), _ in pairs[:2]])
                why = (f" Its weights rounded to float16 alone give {floor:.2e} in Keras" +
                       (": the model is too sensitive for float16 (fresh weights often are); keep float32, or "
                        "pass a --tolerance you accept." if floor > limit / 2 else "."))
            raise ExportError(f"{plan.name}: {fmt.label()} does not match the Keras model: {detail} (gate: {limit})."
                              + why)
    shutil.rmtree(work / ".sources", ignore_errors=True)
    return manifests.build(plan, artifacts, [label for label, _ in labelled], _warnings(plan, references))


def _warnings(plan, references):
    weak = parity.weak_references(references)
    if not weak:
        return []
    hint = (" Convert with --set classifier_activation=None (overrides={'classifier_activation': None}) to "
            "compare logits." if plan.spec is not None and "classifier_activation" in plan.config else "")
    return [f"The Keras outputs {weak} are constant or a saturated softmax (all 0 or 1) on the parity inputs, "
            f"as an untrained deep network's often are: every artifact matches them trivially, so parity on "
            f"them says little.{hint}"]
